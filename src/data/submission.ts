import { readCsvFile, expectHeader, writeCsvFile } from './csv-file.js';
import { idProblem, imageNameProblem } from './labels.js';
import { WhaleidError } from '../util/errors.js';

/** Number of predictions per photo in a Kaggle submission. */
export const SUBMISSION_K = 5;

/** One submission row: a photo and up to 5 ids, best first. */
export interface Prediction {
  image: string;
  ids: string[];
}

/**
 * Reads a Kaggle submission (`Image,Id` with up to 5 space-separated ids). All row problems are
 * collected and thrown together.
 *
 * @param file - path of the submission CSV
 * @returns the predictions in file order
 * @throws {@link WhaleidError} for a bad header, empty or over-long predictions, bad ids or
 *   repeated images (every problem listed, by line)
 * @example
 * const preds = await readSubmission('submission.csv');
 */
export async function readSubmission(file: string): Promise<Prediction[]> {
  const table = await readCsvFile(file);
  expectHeader(table, ['Image', 'Id']);
  const problems: string[] = [];
  const out: Prediction[] = [];
  const seen = new Set<string>();
  for (const { line, fields } of table.rows) {
    const where = `${file}:${line}`;
    if (fields.length !== 2) {
      problems.push(`${where}: expected 2 fields (Image,Id) but found ${fields.length}`);
      continue;
    }
    const [image, idText] = fields;
    const imgErr = imageNameProblem(image);
    if (imgErr) problems.push(`${where}: Image: ${imgErr}`);
    const ids = idText.split(/\s+/).filter((s) => s !== '');
    if (ids.length === 0) problems.push(`${where}: Id: no prediction; expected 1 to ${SUBMISSION_K} space-separated ids`);
    if (ids.length > SUBMISSION_K) problems.push(`${where}: Id: ${ids.length} predictions; expected at most ${SUBMISSION_K}`);
    for (const id of ids) {
      const e = idProblem(id);
      if (e) problems.push(`${where}: Id: ${e}`);
    }
    if (seen.has(image)) problems.push(`${where}: Image: ${image} appears twice`);
    seen.add(image);
    out.push({ image, ids });
  }
  if (problems.length > 0) {
    const more = problems.length > 10 ? ` (and ${problems.length - 10} more)` : '';
    throw new WhaleidError(problems.slice(0, 10).join('; ') + more);
  }
  return out;
}

/**
 * Writes a Kaggle submission atomically; each row keeps its first 5 ids.
 *
 * @param file - destination
 * @param predictions - photos and ids, best first
 * @throws {@link WhaleidError} when a row has no id
 * @example
 * await writeSubmission('sub.csv', [{ image: 'a.jpg', ids: ['new_whale', 'w_1234567'] }]);
 */
export async function writeSubmission(file: string, predictions: readonly Prediction[]): Promise<void> {
  for (const p of predictions) {
    if (p.ids.length === 0) throw new WhaleidError(`submission row for ${p.image} has no prediction`);
  }
  await writeCsvFile(file, ['Image', 'Id'], predictions.map((p) => [p.image, p.ids.slice(0, SUBMISSION_K).join(' ')]));
}
