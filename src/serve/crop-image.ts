import sharp from 'sharp';
import { paddedBox } from '../image/affine.js';
import type { PhotoRecord } from '../catalog/catalog-types.js';

/**
 * The review picture of a photo: its fluke box with the model's margin and aspect (the whole photo
 * when it has no box), upright (EXIF orientation applied, as boxes are in upright pixels), as JPEG.
 * What a person compares is then what the model compared.
 *
 * @param file - the stored photo
 * @param photo - its record (size, box)
 * @param width - output width in pixels
 * @param crop - margin and aspect of the model's crops
 * @returns JPEG bytes
 * @example
 * const jpg = await cropJpeg(catalog.photoFile(p), p, 384, { margin: 0.05, aspect: 2.15 });
 */
export async function cropJpeg(file: string, photo: PhotoRecord, width: number, crop: { margin: number; aspect: number }): Promise<Buffer> {
  const img = sharp(file, { limitInputPixels: false }).rotate();
  if (!photo.box) return img.resize({ width, withoutEnlargement: false }).jpeg({ quality: 85 }).toBuffer();
  const b = paddedBox(photo.box, photo.width, photo.height, crop.margin, crop.aspect);
  // the padded box may reach past the photo: clamp, then pad with grey to keep the aspect
  const left = Math.max(0, Math.floor(b.x0));
  const top = Math.max(0, Math.floor(b.y0));
  const right = Math.min(photo.width, Math.ceil(b.x1));
  const bottom = Math.min(photo.height, Math.ceil(b.y1));
  const grey = { r: 96, g: 96, b: 96, alpha: 1 };
  const padded = await img
    .extract({ left, top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) })
    .extend({ left: Math.max(0, Math.round(left - b.x0)), right: Math.max(0, Math.round(b.x1 - right)), top: Math.max(0, Math.round(top - b.y0)), bottom: Math.max(0, Math.round(b.y1 - bottom)), background: grey })
    .toBuffer();
  const height = Math.max(1, Math.round(width * (b.y1 - b.y0) / (b.x1 - b.x0)));
  return sharp(padded).resize({ width, height, fit: 'fill' }).jpeg({ quality: 85 }).toBuffer();
}
