/**
 * The demo: the main job end to end on the embedded synthetic catalog: draw a catalog, score the
 * trivial baselines, train a small Siamese network, identify the test photos and score the
 * submissions. Each step is skipped when its output is already there, so a rerun (or a run
 * resumed after a kill) is cheap.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { loadDataset } from '../data/dataset.js';
import { writeSubmission, type Prediction } from '../data/submission.js';
import { scoreSubmissionFiles } from '../eval/submission-files.js';
import { hasCheckpoint, hasFinalModel } from '../model/run-folder.js';
import { allNewWhale, mostFrequentIds } from '../predict/baselines.js';
import type { Scores } from '../infer/metrics.js';
import { predictDataset } from '../predict/predict-dataset.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../train/train-config.js';
import type { PipelineReport } from './report.js';
import { startTrainingEngine, trainRun, type EngineChoice } from './training-run.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Working folder. */
  out: string;
  /** Whales in the synthetic catalog. */
  individuals: number;
  /** Augmented copies per test photo (a second submission without TTA is scored too). */
  tta: number;
  /** Training settings (the demo passes the synthetic recipe's, with its time budget). */
  train: Partial<TrainConfig>;
  engine: EngineChoice;
}

/** One scored submission of the demo. */
export interface DemoRow {
  name: string;
  scores: Scores;
}

/** The demo's folder layout. */
export function demoPaths(out: string): { catalog: string; truth: string; run: string } {
  const catalog = path.join(out, 'catalog');
  return { catalog, truth: path.join(catalog, 'test_truth.csv'), run: path.join(out, 'run') };
}

/**
 * Runs (or resumes) the demo.
 *
 * @param o - see {@link DemoOptions}
 * @param report - step lines, progress, training hooks
 * @param signal - stops the training at its next step (its checkpoint kept); the demo then ends
 * @returns the scored submissions (baselines first, then the Siamese network's), and whether it
 *   was stopped before the end
 * @throws {@link WhaleidError} for bad settings
 * @example
 * const rows = await runDemo({ out: 'demo-out', individuals: 150, tta: 4, train: { preset: 'small' }, engine: { backend: 'wasm', threads: 2 } }, report);
 */
export async function runDemo(o: DemoOptions, report: PipelineReport, signal?: AbortSignal): Promise<{ rows: DemoRow[]; stopped: boolean }> {
  const { catalog, truth, run } = demoPaths(o.out);
  const seed = o.train.seed ?? TRAIN_DEFAULTS.seed;
  if (existsSync(truth)) {
    report.step(`step 1/4: catalog already in ${catalog}, kept`);
  } else {
    report.step(`step 1/4: drawing a synthetic catalog of ${o.individuals} whales into ${catalog}`);
    const { generateSynthCatalog } = await import('../data/synth/index.js');
    const s = await generateSynthCatalog({ out: catalog, individuals: o.individuals, seed, onProgress: report.progress('synth') });
    report.step(`  ${s.trainPhotos} train + ${s.testPhotos} test photos in ${s.seconds.toFixed(1)} s`);
  }
  const ds = await loadDataset(catalog);
  const images = ds.test.map((t) => t.image);
  const rows: DemoRow[] = [];
  const score = async (name: string, file: string, predictions: Prediction[]): Promise<void> => {
    await writeSubmission(file, predictions);
    rows.push({ name, scores: await scoreSubmissionFiles(file, truth) });
  };

  report.step('step 2/4: baseline submissions');
  await score('all new_whale', path.join(o.out, 'baseline-all-new-whale.csv'), allNewWhale(images));
  await score('most frequent ids', path.join(o.out, 'baseline-most-frequent-ids.csv'), mostFrequentIds(ds.train.map((p) => p.id), images));

  const settings = { ...o.train, data: catalog, seed };
  if (hasFinalModel(run)) {
    await startTrainingEngine(o.engine, settings.replicas ?? 1); // prediction loads the run with tfjs
    report.step(`step 3/4: trained model already in ${run}, kept`);
  } else {
    const resume = hasCheckpoint(run);
    const { result: r } = await trainRun(run, settings, {
      resume, engine: o.engine, report, signal,
      onEngine: (e) => report.step(`step 3/4: ${resume ? 'resuming' : 'training'} a Siamese network (recipe ${settings.recipe ?? 'none'}, preset ${settings.preset ?? TRAIN_DEFAULTS.preset}, ${e.description}) in ${run}`),
    });
    if (r.stopped) return { rows, stopped: true };
    report.step(`  ${r.epochs} epochs in ${(r.seconds / 60).toFixed(1)} min; validation MAP@5 ${r.validation?.map5.toFixed(4) ?? '-'} at threshold ${r.validation?.threshold ?? '-'}`);
  }

  report.step(`step 4/4: identifying the ${images.length} test photos (TTA ${o.tta})`);
  for (const tta of o.tta > 0 ? [0, o.tta] : [0]) {
    const res = await predictDataset({ runDir: run, data: catalog, tta, seed, cacheDir: o.train.cacheDir });
    await score(`Siamese, ${tta ? `TTA ${tta}` : 'no TTA'} (thr ${res.threshold})`, path.join(o.out, `submission-tta${tta}.csv`), res.predictions);
  }
  return { rows, stopped: false };
}
