import type { HeadWeights } from '../model/network/head-weights.js';
import { invalidParameterError } from '../util/errors.js';
import { createScoreKernel } from './score-kernel.js';

/**
 * The head's probability for pairs of feature vectors: a WebAssembly SIMD kernel (see
 * `score-kernel.ts`), the same arithmetic as the tfjs head regrouped, within 1e-6 of it.
 * These are the single-thread, synchronous forms; `score-workers.ts` runs the same kernel on
 * every core (`scoreAllPairsParallel`, `scoreQueriesParallel`, and `scoreQueriesTopK`, which never
 * holds the nq*ng matrix).
 *
 * Why not the tfjs head: for n photos there are n(n-1)/2 pairs; building [pairs, 4, 512] tensors
 * for them costs far more memory and time than the 706-parameter head itself.
 */
export { scoreAllPairsParallel, scoreQueriesParallel, scoreQueriesTopK } from './score-workers.js';
export type { ParallelScoreOptions, TopK } from './score-workers.js';

/** Options of {@link scoreAllPairs}. */
export interface ScoreMatrixOptions {
  /** Rows per block (progress granularity). Default 64. */
  blockRows?: number;
  /** Called after each block of rows with rows done so far. */
  onProgress?: (rowsDone: number, rows: number) => void;
}

/**
 * The symmetric score matrix S[i][j] = head(feature_i, feature_j) of n photos, in this thread:
 * only the upper triangle is computed, then mirrored; the diagonal is the photo against itself.
 * Memory: the n*n float32 result (15,000 photos: 900 MB) plus one copy of the features.
 *
 * @param features - n*F floats, row-major
 * @param n - number of photos
 * @param w - head weights
 * @param options - block size and progress
 * @returns the n*n matrix, row-major
 * @throws {@link WhaleidError} when `features.length !== n * F`
 * @example
 * const S = scoreAllPairs(features, n, readHeadWeights(head));
 */
export function scoreAllPairs(features: Float32Array, n: number, w: HeadWeights, options: ScoreMatrixOptions = {}): Float32Array {
  const F = w.features;
  if (features.length !== n * F) throw invalidParameterError('features.length', `n * F = ${n * F}`, features.length);
  const S = new Float32Array(n * n);
  const kernel = createScoreKernel(w, features);
  const block = Math.max(1, options.blockRows ?? 64);
  for (let r0 = 0; r0 < n; r0 += block) {
    const r1 = Math.min(n, r0 + block);
    for (let i = r0; i < r1; i++) {
      kernel.scoreRow(features.subarray(i * F, (i + 1) * F), i, n, S, i * n + i);
      for (let j = i + 1; j < n; j++) S[j * n + i] = S[i * n + j];
    }
    options.onProgress?.(r1, n);
  }
  return S;
}

/**
 * Scores every query against every known photo in this thread: an nq*ng matrix, row per query.
 *
 * @param queries - nq*F floats
 * @param known - ng*F floats
 * @param w - head weights
 * @returns nq*ng probabilities
 * @throws {@link WhaleidError} when a length is not a multiple of F
 * @example
 * const scores = scoreQueries(testFeatures, trainFeatures, readHeadWeights(head));
 */
export function scoreQueries(queries: Float32Array, known: Float32Array, w: HeadWeights): Float32Array {
  const F = w.features;
  if (queries.length % F !== 0 || known.length % F !== 0) throw invalidParameterError('features.length', `a multiple of ${F}`, `${queries.length}, ${known.length}`);
  const nq = queries.length / F;
  const ng = known.length / F;
  const out = new Float32Array(nq * ng);
  const kernel = createScoreKernel(w, known);
  for (let i = 0; i < nq; i++) kernel.scoreRow(queries.subarray(i * F, (i + 1) * F), 0, ng, out, i * ng);
  return out;
}
