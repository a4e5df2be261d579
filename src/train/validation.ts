import { NEW_WHALE } from '../data/labels.js';
import type { HeadWeights } from '../model/network/head-weights.js';
import { scoreQueries } from '../infer/score-matrix.js';
import { walkPredictions } from '../infer/walk.js';
import { averagePrecisionAt5 } from '../infer/metrics.js';
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
  /** MAP@5 of answering new_whale to every query (the share of queries of new individuals). */
  newWhaleBaseline: number;
  /** Expected MAP@5 of a random ranking of the known individuals and new_whale. */
  chance: number;
  /** The first queries' closed-set top-5 (for the report's gallery). */
  examples: ValidationExample[];
}

/** One validation query with its best candidates, closed set (new_whale left out). */
export interface ValidationExample {
  /** Dataset photo index of the query. */
  query: number;
  /** Its true id (`new_whale` for an individual not in the gallery). */
  truth: string;
  /** Up to 5 individuals, best first: their best-scoring gallery photo and its score. */
  candidates: { id: string; photo: number; score: number }[];
}

/** Queries shown in the report's gallery. */
const EXAMPLES = 12;

/**
 * Expected AP@5 of a ranking drawn at random over `known` individuals plus new_whale: the truth
 * is at rank k (1..5) with probability 1/(known+1) and then scores 1/k. Why a formula and not a
 * simulation: the report shows it as the chance line, and it must not depend on a seed.
 */
export function chanceMap5(known: number): number {
  const n = known + 1;
  let s = 0;
  for (let k = 1; k <= Math.min(5, n); k++) s += 1 / k;
  return s / n;
}

/** Thresholds tried: fine near 1, where a trained head's scores crowd. */
export const THRESHOLD_GRID = [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.01];

/**
 * The rows of some photos out of a feature matrix whose rows are other photos.
 *
 * @param features - n*F features, row `rowOf.get(photo)` for each photo
 * @param rowOf - dataset photo index -> row in `features`
 * @param photos - the photos wanted, in order
 * @param F - features per row
 * @returns photos.length*F features, row k = photos[k]
 * @example
 * const queryRows = gatherRows(features, rowOf, split.queries.map((q) => q.index), 128);
 */
export function gatherRows(features: Float32Array, rowOf: ReadonlyMap<number, number>, photos: readonly number[], F: number): Float32Array {
  const out = new Float32Array(photos.length * F);
  photos.forEach((p, k) => out.set(features.subarray(rowOf.get(p)! * F, (rowOf.get(p)! + 1) * F), k * F));
  return out;
}

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
  const gallery = split.gallery;
  const galleryIds = gallery.map((i) => ids[i]);
  const scores = scoreQueries(gatherRows(features, rowOf, split.queries.map((q) => q.index), F), gatherRows(features, rowOf, gallery, F), w);
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
  const known = new Set(galleryIds.filter((id) => id !== NEW_WHALE)).size;
  const newQueries = split.queries.filter((q) => q.truth === NEW_WHALE).length;
  const examples = split.queries.slice(0, EXAMPLES).map((q, k) => ({ query: q.index, truth: q.truth, candidates: bestCandidates(scores.subarray(k * ng, (k + 1) * ng), gallery, galleryIds) }));
  return { map5: best.map5, threshold: best.threshold, top1: top1 / n, closedTop1: closedN ? closed / closedN : 0, curve, queries: split.queries.length, newWhaleBaseline: newQueries / n, chance: chanceMap5(known), examples };
}

/** The 5 best individuals of one query's scores, each with its best gallery photo. */
function bestCandidates(row: Float32Array, gallery: readonly number[], galleryIds: readonly string[]): ValidationExample['candidates'] {
  const best = new Map<string, number>();
  for (let j = 0; j < row.length; j++) {
    const id = galleryIds[j];
    if (id === NEW_WHALE) continue;
    const prev = best.get(id);
    if (prev === undefined || row[j] > row[prev]) best.set(id, j);
  }
  return [...best.entries()]
    .sort((a, b) => row[b[1]] - row[a[1]] || a[1] - b[1])
    .slice(0, 5)
    .map(([id, j]) => ({ id, photo: gallery[j], score: row[j] }));
}
