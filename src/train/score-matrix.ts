import type { HeadWeights } from '../model/head.js';
import { invalidParameterError } from '../util/errors.js';

/**
 * The head's probability for pairs of feature vectors, computed with typed arrays (no per-pair
 * tensors): the same arithmetic as the tfjs head (see `pairLogit`), in float64 sums.
 *
 * Why not the tfjs head: for n photos there are n(n-1)/2 pairs; building [pairs, 4, 512] tensors
 * for them costs far more memory and time than the 706-parameter head itself.
 */

/** Sigmoid of the head's logit for rows `i` of `fa` and `j` of `fb` (feature length F = w.features). */
function pairProbability(w: HeadWeights, fa: Float32Array, i: number, fb: Float32Array, j: number): number {
  const F = w.features;
  const M = w.mid;
  const { w1, b1, w2, w3 } = w;
  const oa = i * F;
  const ob = j * F;
  let logit = w.b3;
  for (let f = 0; f < F; f++) {
    const a = fa[oa + f];
    const b = fb[ob + f];
    const prod = a * b;
    const sum = a + b;
    const d = a > b ? a - b : b - a;
    const d2 = d * d;
    let y = w.b2;
    for (let k = 0; k < M; k++) {
      const h = b1[k] + prod * w1[k] + sum * w1[M + k] + d * w1[2 * M + k] + d2 * w1[3 * M + k];
      if (h > 0) y += h * w2[k];
    }
    logit += y * w3[f];
  }
  return 1 / (1 + Math.exp(-logit));
}

/** Options of {@link scoreAllPairs}. */
export interface ScoreMatrixOptions {
  /** Rows per block (progress granularity). Default 64. */
  blockRows?: number;
  /** Called after each block of rows with rows done so far. */
  onProgress?: (rowsDone: number, rows: number) => void;
}

/**
 * The symmetric score matrix S[i][j] = head(feature_i, feature_j) of n photos: only the upper
 * triangle is computed, then mirrored; the diagonal is the photo against itself. Memory: the
 * n*n float32 result (15,000 photos: 900 MB) plus nothing per pair.
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
  if (features.length !== n * w.features) throw invalidParameterError('features.length', `n * F = ${n * w.features}`, features.length);
  const S = new Float32Array(n * n);
  const block = Math.max(1, options.blockRows ?? 64);
  for (let r0 = 0; r0 < n; r0 += block) {
    const r1 = Math.min(n, r0 + block);
    for (let i = r0; i < r1; i++) {
      for (let j = i; j < n; j++) {
        const p = pairProbability(w, features, i, features, j);
        S[i * n + j] = p;
        S[j * n + i] = p;
      }
    }
    options.onProgress?.(r1, n);
  }
  return S;
}

/**
 * Scores every query against every known photo: an nq*ng matrix, row per query.
 *
 * @param queries - nq*F floats
 * @param known - ng*F floats
 * @param w - head weights
 * @returns nq*ng probabilities
 * @example
 * const scores = scoreQueries(testFeatures, trainFeatures, readHeadWeights(head));
 */
export function scoreQueries(queries: Float32Array, known: Float32Array, w: HeadWeights): Float32Array {
  const F = w.features;
  if (queries.length % F !== 0 || known.length % F !== 0) throw invalidParameterError('features.length', `a multiple of ${F}`, `${queries.length}, ${known.length}`);
  const nq = queries.length / F;
  const ng = known.length / F;
  const out = new Float32Array(nq * ng);
  for (let i = 0; i < nq; i++) for (let j = 0; j < ng; j++) out[i * ng + j] = pairProbability(w, queries, i, known, j);
  return out;
}
