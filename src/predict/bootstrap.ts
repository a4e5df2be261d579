import path from 'node:path';
import { promises as fs } from 'node:fs';
import { writeCsvFile, readCsvFile } from '../data/csv-file.js';
import { NEW_WHALE } from '../data/labels.js';
import { predictDataset, type PredictOptions } from './predict-dataset.js';
import { resumeTraining, startTraining, type TrainHooks, type TrainResult } from '../train/trainer.js';
import { readStoredTrainConfig, type TrainConfig } from '../train/train-config.js';
import { invalidParameterError, WhaleidError } from '../util/errors.js';
import { hasCheckpoint } from '../model/run-folder.js';

/** Options of {@link bootstrapRun}. */
export interface BootstrapOptions extends Omit<PredictOptions, 'runDir' | 'threshold' | 'newShare'> {
  /** The trained run whose confident answers become labels. */
  runDir: string;
  /** The new run folder. */
  out: string;
  /** A test photo is pseudo-labelled when its best score exceeds this (the method: 0.999999). */
  minScore: number;
  /** Training settings that replace the run's own (undefined ones are not given). */
  train?: Partial<TrainConfig>;
  hooks?: TrainHooks;
}

/** A confident test photo and the id it was given. */
export interface PseudoLabel {
  image: string;
  id: string;
  score: number;
}

/**
 * Bootstrapping, as the method: test photos whose best score exceeds `minScore` take the id of
 * their best match as a label (listed in OUT/pseudo-labels.csv with scores), and a model is trained
 * again FROM SCRATCH with the run's own configuration (settings given in `train` replace its own)
 * plus those labels. Pseudo-labels only ever
 * add test photos; the user's labels are never changed.
 *
 * @param o - see {@link BootstrapOptions}
 * @returns the pseudo-labels and the new run's result
 * @throws {@link WhaleidError} for a bad threshold, run or dataset
 * @example
 * await bootstrapRun({ runDir: 'runs/a', data: 'catalog', out: 'runs/a-boot', minScore: 0.999999 });
 */
export async function bootstrapRun(o: BootstrapOptions): Promise<{ labels: PseudoLabel[]; result: TrainResult }> {
  if (!(o.minScore >= 0 && o.minScore <= 1)) throw invalidParameterError('--min-score', 'a number between 0 and 1', o.minScore);
  const labelsFile = path.join(o.out, 'pseudo-labels.csv');
  if (hasCheckpoint(o.out)) {
    // interrupted earlier: the labels are fixed, only the training goes on
    const table = await readCsvFile(labelsFile);
    const labels = table.rows.map((r) => ({ image: r.fields[0], id: r.fields[1], score: Number(r.fields[2]) }));
    return { labels, result: await resumeTraining(o.out, o.hooks) };
  }
  const pred = await predictDataset({ ...o, threshold: o.minScore });
  const labels: PseudoLabel[] = [];
  for (const t of pred.top) {
    const best = t.candidates[0];
    if (best && best.score > o.minScore && best.id !== NEW_WHALE) labels.push({ image: t.image, id: best.id, score: best.score });
  }
  await fs.mkdir(o.out, { recursive: true });
  await writeCsvFile(labelsFile, ['Image', 'Id', 'Score'], labels.map((l) => [l.image, l.id, l.score.toPrecision(9)]));
  // readLabels wants exactly Image,Id: the trainer reads this second file
  await writeCsvFile(path.join(o.out, 'pseudo-train.csv'), ['Image', 'Id'], labels.map((l) => [l.image, l.id]));
  const base = readStoredTrainConfig(o.runDir);
  if (!base) throw new WhaleidError(`${o.runDir}: not a training run (config.json missing)`);
  const given = Object.fromEntries(Object.entries(o.train ?? {}).filter(([, v]) => v !== undefined));
  const result = await startTraining(o.out, { ...base, ...given, data: o.data, pseudoLabels: path.join(o.out, 'pseudo-train.csv') }, o.hooks);
  return { labels, result };
}
