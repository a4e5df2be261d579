import { readLabels } from '../data/labels.js';
import { readSubmission } from '../data/submission.js';
import { scorePredictions, type Scores } from '../infer/metrics.js';

/**
 * Scores a submission file against a truth file.
 *
 * @param submission - submission CSV path
 * @param truth - `Image,Id` truth CSV path
 * @returns MAP@5, top-1, top-5
 * @throws {@link WhaleidError} when either file is bad or they cover different photos
 * @example
 * const s = await scoreSubmissionFiles('sub.csv', 'catalog/test_truth.csv');
 */
export async function scoreSubmissionFiles(submission: string, truth: string): Promise<Scores> {
  const [preds, rows] = await Promise.all([readSubmission(submission), readLabels(truth)]);
  return scorePredictions(new Map(rows.map((r) => [r.image, r.id])), new Map(preds.map((p) => [p.image, p.ids])));
}
