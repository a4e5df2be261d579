import { readLabels } from '../data/labels.js';
import { readSubmission } from '../data/submission.js';
import { scorePredictions, type Scores } from '../infer/metrics.js';
import { WhaleidError } from '../util/errors.js';

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
  const preds = await readSubmission(submission);
  const rows = await readLabels(truth).catch(async (e: unknown) => {
    // a truth file with several ids in a row is a submission: the two were probably given swapped
    const asSubmission = await readSubmission(truth).catch(() => null);
    if (e instanceof WhaleidError && asSubmission?.some((p) => p.ids.length > 1)) {
      throw new WhaleidError(`${truth}: rows of several ids, as a submission has, where the truth has one id a row; were --submission and --truth swapped? (try --submission ${truth} --truth ${submission})`);
    }
    throw e;
  });
  return scorePredictions(new Map(rows.map((r) => [r.image, r.id])), new Map(preds.map((p) => [p.image, p.ids])));
}
