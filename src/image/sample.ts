import type { GreyImage } from './decode.js';
import type { Matrix3 } from './affine.js';

/**
 * Resamples a (possibly reduced) greyscale photo through an output -> original-photo matrix with
 * bilinear interpolation, filling points outside the photo with the photo's mean (as the method),
 * then normalises the result to mean 0 and standard deviation 1.
 *
 * @param img - decoded photo; its `scale` converts original coordinates to its pixels
 * @param matrix - from {@link cropMatrix}: output (u, v) -> original (x, y)
 * @param size - output side
 * @param normalise - subtract the mean and divide by the std (default true)
 * @returns size*size floats, row-major
 * @example
 * const pixels = sampleCrop(img, cropMatrix({ width: img.originalWidth, height: img.originalHeight, outputSize: 384 }), 384);
 */
export function sampleCrop(img: GreyImage, matrix: Matrix3, size: number, normalise = true): Float32Array {
  return sampleCropRect(img, matrix, size, size, normalise);
}

/**
 * {@link sampleCrop} onto a width x height rectangle (the local-feature crop keeps the box's
 * aspect instead of squeezing it onto a square).
 *
 * @param img - decoded photo
 * @param matrix - output (u, v) -> original (x, y)
 * @param width - output width
 * @param height - output height
 * @param normalise - subtract the mean and divide by the std (default true)
 * @returns width*height floats, row-major
 * @example
 * const pixels = sampleCropRect(img, m, 550, 256);
 */
export function sampleCropRect(img: GreyImage, matrix: Matrix3, width: number, height: number, normalise = true): Float32Array {
  const { width: w, height: h, data, scale } = img;
  const fill = meanOf(img);
  const out = new Float32Array(width * height);
  // Fold the original -> reduced-copy mapping (x' = (x + 0.5) s - 0.5) into the matrix once.
  const a = matrix[0] * scale;
  const b = matrix[1] * scale;
  const c = (matrix[2] + 0.5) * scale - 0.5;
  const d = matrix[3] * scale;
  const e = matrix[4] * scale;
  const f = (matrix[5] + 0.5) * scale - 0.5;
  let k = 0;
  for (let v = 0; v < height; v++) {
    let x = b * v + c;
    let y = e * v + f;
    for (let u = 0; u < width; u++, k++, x += a, y += d) {
      if (x < 0 || y < 0 || x > w - 1 || y > h - 1) {
        out[k] = fill;
        continue;
      }
      const x0 = x | 0; // x, y >= 0 here, so truncation is floor
      const y0 = y | 0;
      const x1 = x0 + 1 < w ? x0 + 1 : x0;
      const y1 = y0 + 1 < h ? y0 + 1 : y0;
      const fx = x - x0;
      const fy = y - y0;
      const r0 = y0 * w;
      const r1 = y1 * w;
      const top = data[r0 + x0] + (data[r0 + x1] - data[r0 + x0]) * fx;
      const bot = data[r1 + x0] + (data[r1 + x1] - data[r1 + x0]) * fx;
      out[k] = top + (bot - top) * fy;
    }
  }
  if (normalise) normaliseInPlace(out);
  return out;
}

// The fill value is needed for every crop of a photo (TTA, augmentation): compute it once.
const means = new WeakMap<Uint8Array, number>();
function meanOf(img: GreyImage): number {
  const cached = means.get(img.data);
  if (cached !== undefined) return cached;
  const data = img.data;
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i];
  const m = data.length ? s / data.length : 0;
  means.set(data, m);
  return m;
}

/** Mean 0, std 1 in place (epsilon 1e-7 as Keras' K.epsilon(), so flat crops stay finite). */
export function normaliseInPlace(x: Float32Array): void {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  const mean = s / x.length;
  let q = 0;
  for (let i = 0; i < x.length; i++) q += (x[i] - mean) * (x[i] - mean);
  const std = Math.sqrt(q / x.length) + 1e-7;
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean) / std;
}
