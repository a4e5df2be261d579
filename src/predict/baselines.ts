import { NEW_WHALE } from '../data/labels.js';
import type { Prediction } from '../data/submission.js';

/**
 * The all-`new_whale` baseline: every photo is declared a new individual. Its MAP@5 equals the
 * share of new individuals among the queries (0.325 public LB in 2019, per the method).
 *
 * @param images - query photo names
 * @returns one prediction per photo
 * @example
 * allNewWhale(['a.jpg']); // [{ image: 'a.jpg', ids: ['new_whale'] }]
 */
export function allNewWhale(images: readonly string[]): Prediction[] {
  return images.map((image) => ({ image, ids: [NEW_WHALE] }));
}

/**
 * The most-frequent-ids baseline: every photo gets the 5 most frequent training ids (new_whale
 * included, as it is by far the most frequent label in Kaggle's data). Ties broken by id so the
 * result is deterministic.
 *
 * @param trainIds - the id of every training photo
 * @param images - query photo names
 * @returns one prediction per photo
 * @example
 * mostFrequentIds(['w_1', 'w_1', 'new_whale'], ['q.jpg'])[0].ids; // ['w_1', 'new_whale']
 */
export function mostFrequentIds(trainIds: readonly string[], images: readonly string[]): Prediction[] {
  const counts = new Map<string, number>();
  for (const id of trainIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  const top = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, 5)
    .map(([id]) => id);
  return images.map((image) => ({ image, ids: [...top] }));
}
