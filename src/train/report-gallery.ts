/**
 * Pictures for report.html's gallery: the crops the network saw, as small PNG data URIs, so the
 * report stays one self-contained file.
 */
import sharp from 'sharp';
import path from 'node:path';
import { NEW_WHALE } from '../data/labels.js';
import { loadCrop, type CropRequest, type CropSettings } from '../image/crop.js';
import type { ImageCache } from '../image/image-cache.js';
import type { ValidationExample } from './validation.js';
import type { ReportGalleryItem } from './run-report.js';

/** Side of the gallery's thumbnails in pixels. */
const THUMB = 96;

/**
 * A crop (normalised floats) as a PNG data URI: contrast stretched to its own min..max, as the
 * network's normalisation makes absolute levels meaningless.
 */
async function cropPng(cache: ImageCache, request: CropRequest, crop: CropSettings): Promise<string> {
  const x = await loadCrop(cache, request, crop);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const px = Buffer.alloc(x.length);
  for (let i = 0; i < x.length; i++) px[i] = Math.round((x[i] - lo) * scale);
  const png = await sharp(px, { raw: { width: crop.size, height: crop.size, channels: 1 } }).resize(THUMB, THUMB).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/**
 * Builds the gallery of the last validation's example queries.
 *
 * @param examples - queries and their closed-set top-5 (from the validation)
 * @param requestOf - the crop request (file, box, rotation) of a dataset photo index
 * @param imageOf - the photo name of a dataset photo index
 * @param cache - reduced copies
 * @param crop - the run's crop settings
 * @returns one item per example; a photo that cannot be read is left out of its row
 * @example
 * const gallery = await buildReportGallery(v.examples, (i) => request(i), (i) => photos[i].image, cache, crop);
 */
export async function buildReportGallery(examples: readonly ValidationExample[], requestOf: (photo: number) => CropRequest, imageOf: (photo: number) => string, cache: ImageCache, crop: CropSettings): Promise<ReportGalleryItem[]> {
  const picture = async (photo: number): Promise<string | null> => cropPng(cache, requestOf(photo), crop).catch(() => null);
  const out: ReportGalleryItem[] = [];
  for (const e of examples) {
    const image = await picture(e.query);
    if (image === null) continue;
    const candidates: ReportGalleryItem['candidates'][number][] = [];
    for (const c of e.candidates) {
      const img = await picture(c.photo);
      if (img !== null) candidates.push({ id: c.id, name: path.basename(imageOf(c.photo)), score: c.score, image: img, correct: e.truth !== NEW_WHALE && c.id === e.truth });
    }
    out.push({ name: path.basename(imageOf(e.query)), truth: e.truth, image, candidates });
  }
  return out;
}
