import { NEW_WHALE } from '../data/labels.js';
import { SUBMISSION_K } from '../data/submission.js';

/**
 * The new_whale threshold of a run without a calibrated one (the method's, for a single model).
 * A trained run calibrates its own on validation (validation.json); this is only the fallback.
 */
export const DEFAULT_NEW_WHALE_THRESHOLD = 0.99;

/**
 * The method's prediction walk for one query: go through the known photos by descending score;
 * the first time a score falls below `threshold`, insert `new_whale`; append each photo's id,
 * skipping ids already listed, until 5 ids. With fewer than 5 known ids the list is shorter
 * (new_whale is still added when the walk ends before it was placed).
 *
 * @param scores - the query's score against every known photo
 * @param photoIds - the id of every known photo (same order as `scores`)
 * @param threshold - the new_whale threshold (0.99 for a single model in the method); a value
 *   above every score puts new_whale first, -Infinity leaves it out
 * @returns up to 5 ids, best first
 * @example
 * walkPredictions(Float32Array.from([0.2, 0.995, 0.6]), ['w_a', 'w_b', 'w_c'], 0.99);
 * // ['w_b', 'new_whale', 'w_c', 'w_a']
 */
export function walkPredictions(scores: ArrayLike<number>, photoIds: readonly string[], threshold: number): string[] {
  const order = topOrder(scores, photoIds, SUBMISSION_K);
  const out: string[] = [];
  let newPlaced = false;
  for (const i of order) {
    if (!newPlaced && scores[i] < threshold) {
      out.push(NEW_WHALE);
      newPlaced = true;
      if (out.length === SUBMISSION_K) return out;
    }
    const id = photoIds[i];
    if (!out.includes(id)) out.push(id);
    if (out.length === SUBMISSION_K) return out;
  }
  if (!newPlaced && threshold !== -Infinity) out.push(NEW_WHALE);
  return out.slice(0, SUBMISSION_K);
}

/**
 * Indices of the best-scoring photos, enough of them to cover `k` distinct ids, by descending
 * score (ties by index, for determinism). Avoids sorting every known photo: one pass keeps the
 * best photo per id, then the k best ids are selected.
 */
function topOrder(scores: ArrayLike<number>, photoIds: readonly string[], k: number): number[] {
  const bestPerId = new Map<string, number>();
  for (let i = 0; i < scores.length; i++) {
    const id = photoIds[i];
    if (id === NEW_WHALE) continue; // new_whale photos are not a known individual
    const prev = bestPerId.get(id);
    if (prev === undefined || scores[i] > scores[prev]) bestPerId.set(id, i);
  }
  return [...bestPerId.values()].sort((a, b) => scores[b] - scores[a] || a - b).slice(0, k);
}
