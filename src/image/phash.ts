import sharp from 'sharp';
import type { GreyImage } from './decode.js';

/** A 64-bit perceptual hash as two 32-bit halves (bit 63 = first DCT coefficient). */
export interface PerceptualHash {
  hi: number;
  lo: number;
}

const N = 32;
const K = 8;
// COS[k * N + n] = cos(pi * k * (2n + 1) / (2N)): the DCT-II basis, only the 8 low frequencies.
const COS = (() => {
  const t = new Float64Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) t[k * N + n] = Math.cos((Math.PI * k * (2 * n + 1)) / (2 * N));
  return t;
})();

/**
 * The pHash of `imagehash.phash` (what the method used): greyscale, resize to 32x32 (Lanczos),
 * 2-D DCT-II, keep the top-left 8x8 coefficients, bit = coefficient > their median.
 *
 * @param img - a decoded greyscale photo (a reduced copy gives the same hash in practice)
 * @returns the 64-bit hash
 * @example
 * const h = await perceptualHash(await decodeGrey('a.jpg'));
 * hashToHex(h); // e.g. 'c3b1...'
 */
export async function perceptualHash(img: GreyImage): Promise<PerceptualHash> {
  const small = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 1 } })
    .resize(N, N, { fit: 'fill', kernel: 'lanczos3' })
    .raw()
    .toBuffer();
  return hashFromPixels32(small);
}

/**
 * pHash bits from 32x32 greyscale pixels (row-major). Exposed for tests.
 *
 * @param px - 1024 pixel values
 * @returns the hash
 */
export function hashFromPixels32(px: ArrayLike<number>): PerceptualHash {
  // rows first: tmp[y][k] = sum_x px[y][x] cos_k(x); then columns: d[k][l] = sum_y cos_k(y) tmp[y][l]
  const tmp = new Float64Array(N * K);
  for (let y = 0; y < N; y++) {
    for (let l = 0; l < K; l++) {
      let s = 0;
      for (let x = 0; x < N; x++) s += px[y * N + x] * COS[l * N + x];
      tmp[y * K + l] = s;
    }
  }
  const d = new Float64Array(K * K);
  for (let k = 0; k < K; k++) {
    for (let l = 0; l < K; l++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += COS[k * N + y] * tmp[y * K + l];
      d[k * K + l] = s;
    }
  }
  const sorted = Array.from(d).sort((a, b) => a - b);
  const median = 0.5 * (sorted[31] + sorted[32]);
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 64; i++) {
    if (d[i] > median) {
      if (i < 32) hi |= 1 << (31 - i);
      else lo |= 1 << (63 - i);
    }
  }
  return { hi: hi >>> 0, lo: lo >>> 0 };
}

function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/** Number of differing bits between two hashes. */
export function hammingDistance(a: PerceptualHash, b: PerceptualHash): number {
  return popcount32((a.hi ^ b.hi) >>> 0) + popcount32((a.lo ^ b.lo) >>> 0);
}

/** The hash as 16 hex digits. */
export function hashToHex(h: PerceptualHash): string {
  return h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0');
}
