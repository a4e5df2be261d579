import sharp, { type Sharp } from 'sharp';
import { paddedBox, type Box } from '../image/affine.js';
import type { PhotoRecord } from '../catalog/catalog-types.js';

const GREY = { r: 96, g: 96, b: 96, alpha: 1 };

/**
 * The review picture of a photo: its fluke box with the model's margin and aspect (the whole photo
 * when it has no box), upright (EXIF orientation applied, as boxes are in upright pixels), as JPEG.
 * What a person compares is then what the model compared: a turned box (an annotation's theta)
 * is shown along the box, as the model's crop takes it (affine.ts).
 *
 * @param file - the stored photo
 * @param photo - its record (size, box; `catalog.galleryPhoto` gives an annotation's)
 * @param width - output width in pixels
 * @param crop - margin and aspect of the model's crops
 * @returns JPEG bytes
 * @example
 * const jpg = await cropJpeg(catalog.photoFile(p), p, 384, { margin: 0.05, aspect: 2.15 });
 */
export async function cropJpeg(file: string, photo: PhotoRecord, width: number, crop: { margin: number; aspect: number }): Promise<Buffer> {
  const img = sharp(file, { limitInputPixels: false }).rotate();
  if (!photo.box) return img.resize({ width, withoutEnlargement: false }).jpeg({ quality: 85 }).toBuffer();
  if (!photo.box.theta) return cropUpright(img, photo.box, photo.width, photo.height, width, crop);
  // turned: the photo turned back by theta about its centre (sharp turns clockwise for a positive
  // angle and grows the canvas to hold it), the box's centre carried along, then cut out upright
  const { x0, y0, x1, y1, theta } = photo.box;
  const upright = await img.toBuffer();
  const turned = await sharp(upright, { limitInputPixels: false }).rotate((-theta * 180) / Math.PI, { background: GREY }).toBuffer({ resolveWithObject: true });
  const dx = 0.5 * (x0 + x1) - 0.5 * photo.width;
  const dy = 0.5 * (y0 + y1) - 0.5 * photo.height;
  const c = Math.cos(-theta);
  const s = Math.sin(-theta);
  const cx = 0.5 * turned.info.width + c * dx - s * dy;
  const cy = 0.5 * turned.info.height + s * dx + c * dy;
  const hw = 0.5 * (x1 - x0);
  const hh = 0.5 * (y1 - y0);
  return cropUpright(sharp(turned.data), { x0: cx - hw, y0: cy - hh, x1: cx + hw, y1: cy + hh }, turned.info.width, turned.info.height, width, crop);
}

/** The padded box of an upright box cut out of an image of the given size (grey past its edges), resized to `width`. */
async function cropUpright(img: Sharp, box: Box, photoWidth: number, photoHeight: number, width: number, crop: { margin: number; aspect: number }): Promise<Buffer> {
  const b = paddedBox(box, photoWidth, photoHeight, crop.margin, crop.aspect);
  // the padded box may reach past the photo: clamp, then pad with grey to keep the aspect
  const left = Math.max(0, Math.floor(b.x0));
  const top = Math.max(0, Math.floor(b.y0));
  const right = Math.min(photoWidth, Math.ceil(b.x1));
  const bottom = Math.min(photoHeight, Math.ceil(b.y1));
  const padded = await img
    .extract({ left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) })
    .extend({ left: Math.max(0, Math.round(left - b.x0)), right: Math.max(0, Math.round(b.x1 - right)), top: Math.max(0, Math.round(top - b.y0)), bottom: Math.max(0, Math.round(b.y1 - bottom)), background: GREY })
    .toBuffer();
  const height = Math.max(1, Math.round(width * (b.y1 - b.y0) / (b.x1 - b.x0)));
  return sharp(padded).resize({ width, height, fit: 'fill' }).jpeg({ quality: 85 }).toBuffer();
}
