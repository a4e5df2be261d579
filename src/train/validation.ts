import { NEW_WHALE } from '../data/labels.js';
import type { HeadWeights } from '../model/head.js';
import { scoreQueries } from './score-matrix.js';
import { walkPredictions } from '../predict/walk.js';
import { averagePrecisionAt5 } from '../predict/metrics.js';
import type { TrainValidationSplit } from './split.js';

/** Validation figures of one model state. */
export interface ValidationResult {
  /** MAP@5 at the best threshold of the grid. */
  map5: number;
  threshold: number;
  /** Top-1 accuracy at that threshold. */
  top1: number;
  /** Top-1 of the queries of known whales with new_whale left out (closed set). */
  closedTop1: number;
  /** MAP@5 at each threshold of the grid. */
  curve: { threshold: number; map5: number }[];
  queries: number;
}

/** Thresholds tried: fine near 1, where a trained head's scores crowd. */
export const THRESHOLD_GRID = [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.01];

/**
 * Scores the validation queries against the gallery and computes MAP@5 for every threshold of the
 * grid (the best is reported; it is chosen on these queries, so it is optimistic: use it to
 * follow training, and the `predict`/evaluation commands' calibrated threshold for final figures).
 *
 * @param features - features of the photos, row r = photo `rows[r]`
 * @param rowOf - dataset photo index -> row in `features`
 * @param ids - id of every dataset photo
 * @param split - gallery and queries
 * @param w - head weights
 * @returns the figures
 */
export function evaluateValidation(features: Float32Array, rowOf: Map<number, number>, ids: readonly string[], split: TrainValidationSplit, w: HeadWeights): ValidationResult {
  const F = w.features;
  const gather = (idx: readonly number[]): Float32Array => {
    const out = new Float32Array(idx.length * F);
    idx.forEach((p, k) => out.set(features.subarray(rowOf.get(p)! * F, (rowOf.get(p)! + 1) * F), k * F));
    return out;
  };
  const gallery = split.gallery;
  const galleryIds = gallery.map((i) => ids[i]);
  const scores = scoreQueries(gather(split.queries.map((q) => q.index)), gather(gallery), w);
  const ng = gallery.length;
  const curve = THRESHOLD_GRID.map((t) => {
    let ap = 0;
    for (let q = 0; q < split.queries.length; q++) ap += averagePrecisionAt5(split.queries[q].truth, walkPredictions(scores.subarray(q * ng, (q + 1) * ng), galleryIds, t));
    return { threshold: t, map5: split.queries.length ? ap / split.queries.length : 0 };
  });
  const best = curve.reduce((a, b) => (b.map5 > a.map5 ? b : a));
  let top1 = 0;
  let closed = 0;
  let closedN = 0;
  split.queries.forEach((q, k) => {
    const row = scores.subarray(k * ng, (k + 1) * ng);
    if (walkPredictions(row, galleryIds, best.threshold)[0] === q.truth) top1++;
    if (q.truth !== NEW_WHALE) {
      closedN++;
      if (walkPredictions(row, galleryIds, -Infinity)[0] === q.truth) closed++;
    }
  });
  const n = split.queries.length || 1;
  return { map5: best.map5, threshold: best.threshold, top1: top1 / n, closedTop1: closedN ? closed / closedN : 0, curve, queries: split.queries.length };
}
