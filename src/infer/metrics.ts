import { WhaleidError } from '../util/errors.js';

/** Identification scores of a set of predictions against the truth. */
export interface Scores {
  /** Mean average precision at 5, the Kaggle competition metric. */
  map5: number;
  /** Share of photos whose first prediction is right. */
  top1: number;
  /** Share of photos whose truth is among the first 5 predictions. */
  top5: number;
  /** Number of photos scored. */
  count: number;
}

/**
 * Average precision at 5 of one photo: 1/(rank of the first correct id), 0 when absent from the
 * first 5. Repeated ids count at their first position, exactly as Kaggle's `apk` (a hit counts
 * only if the id was not predicted earlier).
 *
 * @param truth - the true id (possibly `new_whale`)
 * @param predicted - ids, best first
 * @returns 1, 1/2, 1/3, 1/4, 1/5 or 0
 * @example
 * averagePrecisionAt5('w_b', ['w_a', 'w_a', 'w_b']); // 1/3
 */
export function averagePrecisionAt5(truth: string, predicted: readonly string[]): number {
  const k = Math.min(5, predicted.length);
  for (let i = 0; i < k; i++) {
    if (predicted[i] === truth) return 1 / (i + 1);
  }
  return 0;
}

/**
 * MAP@5, top-1 and top-5 of predictions against the truth. Every truth photo must have exactly one
 * prediction and vice versa: a submission for other photos is refused, never silently scored.
 *
 * @param truth - image to true id
 * @param predictions - image to ids, best first
 * @returns the scores
 * @throws {@link WhaleidError} when the image sets differ (counts and examples in the message)
 * @example
 * scorePredictions(new Map([['a.jpg', 'w_1']]), new Map([['a.jpg', ['new_whale', 'w_1']]])).map5; // 0.5
 */
export function scorePredictions(truth: ReadonlyMap<string, string>, predictions: ReadonlyMap<string, readonly string[]>): Scores {
  const missing = [...truth.keys()].filter((k) => !predictions.has(k));
  const extra = [...predictions.keys()].filter((k) => !truth.has(k));
  if (missing.length > 0 || extra.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`${missing.length} truth photo(s) have no prediction (e.g. ${missing.slice(0, 3).join(', ')})`);
    if (extra.length > 0) parts.push(`${extra.length} predicted photo(s) are not in the truth (e.g. ${extra.slice(0, 3).join(', ')})`);
    throw new WhaleidError(`submission and truth cover different photos: ${parts.join('; ')}`);
  }
  let ap = 0;
  let top1 = 0;
  let top5 = 0;
  for (const [image, id] of truth) {
    const pred = predictions.get(image)!;
    const p = averagePrecisionAt5(id, pred);
    ap += p;
    if (p === 1) top1++;
    if (p > 0) top5++;
  }
  const n = truth.size;
  return { map5: n ? ap / n : 0, top1: n ? top1 / n : 0, top5: n ? top5 / n : 0, count: n };
}
