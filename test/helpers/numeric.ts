// Numerical comparison helpers shared by the tests of kernels and gradients.
import { expect } from 'vitest';
import { createRng } from '../../src/util/random.js';

/** Normwise relative error: max|ours - ref| / max|ref| over the whole array. */
export function relError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(ours.length).toBe(ref.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** `size` values drawn uniformly from [lo, hi) by a seeded generator. */
export function randomArray(size: number, seed: string, lo = -1, hi = 1): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.uniform(lo, hi);
  return out;
}
