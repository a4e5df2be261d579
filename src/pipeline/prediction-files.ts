/**
 * A submission written as files: what `whaleid predict` and the Kaggle pipeline's predict steps
 * write for a run's predictions.
 */
import { writeSubmission } from '../data/submission.js';
import { writeBoxes } from '../image/boxes.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { PredictResult } from '../predict/predict-dataset.js';

/** What is appended to a submission's name for its other files: top candidates, predicted boxes. */
export const PREDICTION_SUFFIXES = Object.freeze(['.top.json', '.boxes.csv'] as const);

/** The files of a submission `out` (each written atomically). */
export function predictionFiles(out: string): { submission: string; top: string; boxes: string } {
  const [top, boxes] = PREDICTION_SUFFIXES;
  return { submission: out, top: out + top, boxes: out + boxes };
}

/**
 * Writes a prediction: the submission CSV, its top candidates (`<out>.top.json`) and, when the box
 * model gave photos their boxes, those boxes (`<out>.boxes.csv`). The submission goes last, so a
 * pipeline that takes it as the sign of a finished step never skips a half-written one.
 *
 * @param out - the submission CSV
 * @param res - the prediction
 * @returns the files written
 * @example
 * await writePrediction('sub.csv', await predictDataset({ runDir: 'runs/a', data: 'catalog' }));
 */
export async function writePrediction(out: string, res: PredictResult): Promise<string[]> {
  const files = predictionFiles(out);
  const written = [files.top];
  await writeFileAtomic(files.top, JSON.stringify(res.top, null, 1));
  if (res.predictedBoxes.size > 0) {
    await writeBoxes(files.boxes, res.predictedBoxes);
    written.push(files.boxes);
  }
  await writeSubmission(files.submission, res.predictions);
  return [files.submission, ...written];
}

/**
 * The share of test photos answered new_whale first, beside the share of new individuals among the
 * run's validation queries: what it should be near (100% against 30% says the threshold is off).
 */
export function newFirstLine(res: Pick<PredictResult, 'newFirstShare' | 'validationNewShare'>): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  return `${pct(res.newFirstShare)} new_whale first${res.validationNewShare === null ? '' : `; validation queries: ${pct(res.validationNewShare)} new individuals`}`;
}
