import path from 'node:path';
import { promises as fs } from 'node:fs';
import { writeCsvFile, readCsvFile } from '../data/csv-file.js';
import { NEW_WHALE } from '../data/labels.js';
import { predictDataset, type PredictOptions } from '../predict/predict-dataset.js';
import type { TrainResult } from '../train/trainer.js';
import type { TrainConfig } from '../train/train-config.js';
import { readStoredTrainConfig } from '../train/stored-config.js';
import { invalidParameterError, WhaleidError } from '../util/errors.js';
import { hasCheckpoint } from '../model/folders/run-folder.js';
import { startTrainingEngine, trainRun, type EngineChoice } from './train-run.js';
import type { PipelineReport } from './pipeline-report.js';

/** Options of {@link bootstrapRun}. */
export interface BootstrapOptions extends Omit<PredictOptions, 'runDir' | 'threshold' | 'newShare' | 'onMessage' | 'onFeatures' | 'onBoxes'> {
  /** The trained run whose confident answers become labels. */
  runDir: string;
  /** The new run folder. */
  out: string;
  /** A test photo is pseudo-labelled when its best score exceeds this (the method: 0.999999). */
  minScore: number;
  /** Training settings that replace the run's own (undefined ones are not given). */
  train?: Partial<TrainConfig>;
  /** The training engine. */
  engine: EngineChoice;
  /** Stops the training at its next step (the result then says `stopped`). */
  signal?: AbortSignal;
}

/** A confident test photo and the id it was given. */
export interface PseudoLabel {
  image: string;
  id: string;
  score: number;
}

/** The files of a bootstrapped run besides the run's own. */
export const PSEUDO_LABELS = Object.freeze({ scored: 'pseudo-labels.csv', labels: 'pseudo-train.csv' });

/**
 * Bootstrapping, as the method: test photos whose best score exceeds `minScore` take the id of
 * their best match as a label (listed in OUT/pseudo-labels.csv with scores), and a model is trained
 * again FROM SCRATCH with the run's own configuration (settings given in `train` replace its own)
 * plus those labels. Pseudo-labels only ever add test photos; the user's labels are never changed.
 * An interrupted bootstrap resumes its training with the labels it fixed.
 *
 * @param o - see {@link BootstrapOptions}
 * @param report - progress of the prediction and the training, messages
 * @returns the pseudo-labels and the new run's result; null when no test photo scored above
 *   `minScore` (no second run is trained: it would repeat the first)
 * @throws {@link WhaleidError} for a bad threshold, run or dataset
 * @example
 * await bootstrapRun({ runDir: 'runs/a', data: 'catalog', out: 'runs/a-boot', minScore: 0.999999, engine: { backend: 'wasm', threads: 2 } }, report);
 */
export async function bootstrapRun(o: BootstrapOptions, report: PipelineReport): Promise<{ labels: PseudoLabel[]; result: TrainResult | null }> {
  if (!(o.minScore >= 0 && o.minScore <= 1)) throw invalidParameterError('--min-score', 'a number between 0 and 1', o.minScore);
  const labelsFile = path.join(o.out, PSEUDO_LABELS.scored);
  if (hasCheckpoint(o.out)) {
    // interrupted earlier: the labels are fixed, only the training goes on
    const table = await readCsvFile(labelsFile);
    const labels = table.rows.map((r) => ({ image: r.fields[0], id: r.fields[1], score: Number(r.fields[2]) }));
    return { labels, result: (await trainRun(o.out, { data: o.data }, { resume: true, engine: o.engine, report, signal: o.signal })).result };
  }
  const base = readStoredTrainConfig(o.runDir);
  if (!base) throw new WhaleidError(`${o.runDir}: not a training run (config.json missing)`);
  const given = Object.fromEntries(Object.entries(o.train ?? {}).filter(([, v]) => v !== undefined));
  const settings: Partial<TrainConfig> & { data: string } = { ...base, ...given, data: o.data, pseudoLabels: path.join(o.out, PSEUDO_LABELS.labels) };
  // the prediction loads the run with tfjs: the engine starts once, as the training wants it
  await startTrainingEngine(o.engine, settings.replicas ?? 1);
  const pred = await predictDataset({
    ...o, runDir: o.runDir, threshold: o.minScore,
    onMessage: (l) => report.detail(l), onFeatures: report.progress('features'), onBoxes: report.progress('boxes'),
  });
  const labels: PseudoLabel[] = [];
  for (const t of pred.top) {
    const best = t.candidates[0];
    if (best && best.score > o.minScore && best.id !== NEW_WHALE) labels.push({ image: t.image, id: best.id, score: best.score });
  }
  await fs.mkdir(o.out, { recursive: true });
  await writeCsvFile(labelsFile, ['Image', 'Id', 'Score'], labels.map((l) => [l.image, l.id, l.score.toPrecision(9)]));
  // readLabels wants exactly Image,Id: the trainer reads this second file
  await writeCsvFile(path.join(o.out, PSEUDO_LABELS.labels), ['Image', 'Id'], labels.map((l) => [l.image, l.id]));
  // no label: a second run would train on the same data as the first, from scratch, for nothing
  if (labels.length === 0) return { labels, result: null };
  const { result } = await trainRun(o.out, settings, { engine: o.engine, report, signal: o.signal });
  return { labels, result };
}
