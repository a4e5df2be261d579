import sharp, { type OverlayOptions } from 'sharp';
import type { ImageCache } from './image-cache.js';
import { cropMatrix, paddedBox, randomAugmentation, type Box } from './affine.js';
import { sampleCrop } from './sample.js';
import { DEFAULT_CROP, type CropSettings } from './crop.js';
import { createRng } from '../util/random.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/** One photo on a contact sheet. */
export interface PreviewItem {
  label: string;
  file: string;
  box?: Box;
  rotate180?: boolean;
  /** More boxes drawn on the photo (e.g. a predicted box beside the true one), not cropped. */
  others?: readonly { box: Box; colour: string }[];
  /** Extra caption text (e.g. the IoU of two boxes). */
  note?: string;
}

/** Options of {@link renderContactSheet}. */
export interface PreviewOptions extends Partial<CropSettings> {
  /** Augmented crops per photo. Default 3. */
  augment?: number;
  seed?: number;
  /** Row height in pixels. Default 160. */
  rowHeight?: number;
}

const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The legend at the top of a contact sheet: what each colour and each column shows.
 *
 * @param margin - the crop's margin (share of the box)
 * @param aspect - the crop's width/height
 * @param augmented - augmented crops per photo
 * @returns the legend's lines
 * @example
 * contactSheetLegend(0.05, 2.15, 3)[0]; // 'green: the box; yellow, dashed: the region cropped (box + 5% margin, padded to 2.15:1); ...'
 */
export function contactSheetLegend(margin: number, aspect: number, augmented: number): string[] {
  return [
    `green: the box; yellow, dashed: the region cropped (box + ${Math.round(margin * 100)}% margin, padded to ${aspect}:1); other colours: other boxes given`,
    `columns: the photo, the crop the network sees (its square input shown stretched back to ${aspect}:1)${augmented ? `, ${augmented} crops under training's augmentation (rotation, shear, zoom, shift)` : ''}`,
  ];
}

/**
 * Renders a contact sheet to look at the pipeline: per photo, the photo with its box (green),
 * padded crop region (yellow, dashed) and any other boxes in their colours, the crop the model
 * sees, then N augmented crops. Crops are shown stretched back to the crop aspect (2.15:1) so a
 * person sees the fluke's true shape; the model's input is the square.
 *
 * @param cache - where photos come from
 * @param items - photos, with optional boxes
 * @param out - PNG path (written atomically)
 * @param options - crop settings, number of augmentations, seed
 * @returns the problems of photos that could not be shown (the sheet has the rest)
 * @example
 * await renderContactSheet(cache, [{ label: 'a.jpg', file: 'train/a.jpg', box }], 'sheet.png');
 */
export async function renderContactSheet(cache: ImageCache, items: readonly PreviewItem[], out: string, options: PreviewOptions = {}): Promise<string[]> {
  const size = options.size ?? 192;
  const aspect = options.aspect ?? DEFAULT_CROP.aspect;
  const margin = options.margin ?? DEFAULT_CROP.margin;
  const nAug = options.augment ?? 3;
  const rowH = options.rowHeight ?? 160;
  const cropW = Math.round(rowH * aspect);
  const photoW = Math.round(rowH * 1.6);
  const gap = 8;
  const labelH = 18;
  const sheetW = photoW + (1 + nAug) * (cropW + gap) + gap;
  const rng = createRng(options.seed ?? 0);
  const layers: OverlayOptions[] = [];
  const problems: string[] = [];
  // the legend first: colours and columns say what they show
  const legend = contactSheetLegend(margin, aspect, nAug);
  const legendSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="${sheetW - gap}" height="${legend.length * labelH}"><rect x="0" y="3" width="10" height="10" fill="none" stroke="#00e000" stroke-width="2"/><rect x="0" y="${labelH + 3}" width="10" height="10" fill="none" stroke="#ffd000" stroke-width="2" stroke-dasharray="3 2"/>${legend.map((l, i) => `<text x="16" y="${i * labelH + 13}" font-family="sans-serif" font-size="12" fill="#222">${esc(l)}</text>`).join('')}</svg>`;
  layers.push({ input: Buffer.from(legendSvg), left: gap, top: gap });
  let y = gap + legend.length * labelH + gap;
  for (const item of items) {
    let img;
    try {
      img = await cache.load(item.file);
    } catch (err) {
      problems.push((err as Error).message);
      continue;
    }
    const W = img.originalWidth;
    const H = img.originalHeight;
    const k = Math.min(photoW / W, rowH / H);
    const tw = Math.max(1, Math.round(W * k));
    const th = Math.max(1, Math.round(H * k));
    let thumb = sharp(Buffer.from(img.data), { raw: { width: img.width, height: img.height, channels: 1 } }).resize(tw, th, { fit: 'fill' });
    if (item.rotate180) thumb = thumb.rotate(180);
    const thumbPng = await thumb.toColourspace('srgb').png().toBuffer();
    const box = item.box ?? { x0: 0, y0: 0, x1: W, y1: H };
    const shown = item.rotate180 ? { x0: W - box.x1, y0: H - box.y1, x1: W - box.x0, y1: H - box.y0 } : box;
    const pad = paddedBox(shown, W, H, margin, aspect);
    const rect = (b: Box, style: string): string =>
      `<rect x="${b.x0 * k}" y="${b.y0 * k}" width="${(b.x1 - b.x0) * k}" height="${(b.y1 - b.y0) * k}" fill="none" ${style}/>`;
    const turned = (b: Box): Box => (item.rotate180 ? { x0: W - b.x1, y0: H - b.y1, x1: W - b.x0, y1: H - b.y0 } : b);
    const others = (item.others ?? []).map((o) => rect(turned(o.box), `stroke="${esc(o.colour)}" stroke-width="2"`)).join('');
    const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${tw}" height="${th}">${rect(pad, 'stroke="#ffd000" stroke-width="2" stroke-dasharray="6 4"')}${rect(shown, 'stroke="#00e000" stroke-width="2"')}${others}</svg>`;
    layers.push({ input: thumbPng, left: gap, top: y + labelH });
    layers.push({ input: Buffer.from(overlay), left: gap, top: y + labelH });
    const augs = [undefined, ...Array.from({ length: nAug }, () => randomAugmentation(rng))];
    for (let i = 0; i < augs.length; i++) {
      const m = cropMatrix({ width: W, height: H, box: item.box, margin, aspect, outputSize: size, augmentation: augs[i], rotate180: item.rotate180 });
      const px = sampleCrop(img, m, size, false);
      const bytes = Buffer.from(Uint8Array.from(px, (v) => Math.max(0, Math.min(255, Math.round(v)))));
      const crop = await sharp(bytes, { raw: { width: size, height: size, channels: 1 } }).resize(cropW, rowH, { fit: 'fill' }).toColourspace('srgb').png().toBuffer();
      layers.push({ input: crop, left: gap + photoW + gap + i * (cropW + gap), top: y + labelH });
    }
    const caption = `${item.label}  ${W}x${H}${item.box ? '' : '  (no box: whole photo)'}${item.rotate180 ? '  (rotated 180)' : ''}${item.note ? `  ${item.note}` : ''}   | crop | ${nAug} augmented`;
    layers.push({ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${sheetW - gap}" height="${labelH}"><text x="0" y="13" font-family="sans-serif" font-size="12" fill="#222">${esc(caption)}</text></svg>`), left: gap, top: y });
    y += labelH + rowH + gap;
  }
  const sheet = await sharp({ create: { width: sheetW, height: Math.max(y, 20), channels: 3, background: '#f4f4f4' } }).composite(layers).png().toBuffer();
  await writeFileAtomic(out, sheet);
  return problems;
}
