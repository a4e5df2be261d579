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
import { hasCheckpoint, hasFinalModel } from '../model/folders/run-folder.js';
import { allNewWhale, mostFrequentIds } from '../predict/baselines.js';
import type { Scores } from '../infer/metrics.js';
import { predictDataset } from '../predict/predict-dataset.js';
import { TRAIN_DEFAULTS, type TrainConfig } from '../train/train-config.js';
import type { PipelineReport } from './pipeline-report.js';
import { startTrainingEngine, trainRun, type EngineChoice } from './train-run.js';
import { calibrateOnHeldOut, holdOutIndividuals } from './demo-matchers.js';
import type { MatcherKind } from '../infer/matchers/matcher-registry.js';

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
  /** What made it: a baseline, or the matcher that identified. */
  kind: 'baseline' | MatcherKind;
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
    report.step(`step 1/5: catalog already in ${catalog}, kept`);
  } else {
    report.step(`step 1/5: drawing a synthetic catalog of ${o.individuals} whales into ${catalog}`);
    const { generateSynthCatalog } = await import('../data/synth/index.js');
    const s = await generateSynthCatalog({ out: catalog, individuals: o.individuals, seed, onProgress: report.progress('synth') });
    report.step(`  ${s.trainPhotos} train + ${s.testPhotos} test photos in ${s.seconds.toFixed(1)} s`);
  }
  const ds = await loadDataset(catalog);
  const images = ds.test.map((t) => t.image);
  const rows: DemoRow[] = [];
  const score = async (name: string, kind: DemoRow['kind'], file: string, predictions: Prediction[]): Promise<void> => {
    await writeSubmission(file, predictions);
    rows.push({ name, kind, scores: await scoreSubmissionFiles(file, truth) });
  };

  report.step('step 2/5: baseline submissions');
  await score('all new_whale', 'baseline', path.join(o.out, 'baseline-all-new-whale.csv'), allNewWhale(images));
  await score('most frequent ids', 'baseline', path.join(o.out, 'baseline-most-frequent-ids.csv'), mostFrequentIds(ds.train.map((p) => p.id), images));

  // a fifth of the individuals stay out of training: the matchers other than the network's are calibrated on them
  const held = await holdOutIndividuals(ds.train, o.out, 0.2, seed);
  const settings = { ...o.train, data: catalog, seed, exclude: held.excludeFile };
  if (hasFinalModel(run)) {
    await startTrainingEngine(o.engine, settings.replicas ?? 1); // prediction loads the run with tfjs
    report.step(`step 3/5: trained model already in ${run}, kept`);
  } else {
    const resume = hasCheckpoint(run);
    const { result: r } = await trainRun(run, settings, {
      resume, engine: o.engine, report, signal,
      onEngine: (e) => report.step(`step 3/5: ${resume ? 'resuming' : 'training'} a Siamese network (recipe ${settings.recipe ?? 'none'}, preset ${settings.preset ?? TRAIN_DEFAULTS.preset}, ${e.description}) in ${run}`),
    });
    if (r.stopped) return { rows, stopped: true };
    report.step(`  ${r.epochs} epochs in ${(r.seconds / 60).toFixed(1)} min; validation MAP@5 ${r.validation?.map5.toFixed(4) ?? '-'} at threshold ${r.validation?.threshold ?? '-'}`);
  }

  report.step(`step 4/5: identifying the ${images.length} test photos (TTA ${o.tta})`);
  for (const tta of o.tta > 0 ? [0, o.tta] : [0]) {
    const res = await predictDataset({ runDir: run, data: catalog, tta, seed, cacheDir: o.train.cacheDir });
    await score(`siamese, ${tta ? `TTA ${tta}` : 'no TTA'}`, 'siamese', path.join(o.out, `submission-tta${tta}.csv`), res.predictions);
  }

  report.step(`step 5/5: the local and fused matchers, calibrated on the ${held.individuals} individuals held out of training (${held.folder})`);
  const calibrations = await calibrateOnHeldOut({ runDir: run, heldOut: held.folder, out: o.out, cacheDir: o.train.cacheDir, seed, onMessage: (l) => report.detail(l) });
  for (const [kind, file] of calibrations) {
    const res = await predictDataset({ runDir: run, data: catalog, seed, cacheDir: o.train.cacheDir, matcher: kind, matcherCalibration: file, onMessage: (l) => report.detail(l) });
    await score(kind, kind, path.join(o.out, `submission-${kind}.csv`), res.predictions);
  }
  return { rows, stopped: false };
}

/**
 * What the demo's figures say, in a few lines: one table of every answer against the baselines,
 * one sentence on the best matcher against the best baseline, and where to look next.
 *
 * @param rows - the scored submissions
 * @param out - the demo's folder
 * @returns the lines to print
 * @example
 * for (const line of demoSummary(rows, 'demo-out')) console.log(line);
 */
export function demoSummary(rows: readonly DemoRow[], out: string): string[] {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  const lines = [`MAP@5 on the ${rows[0]?.scores.count ?? 0} synthetic test photos (1 = the right individual first every time; a new individual's right answer is new_whale):`, `  ${'answer'.padEnd(30)} MAP@5   top-1   top-5`];
  for (const r of rows) lines.push(`  ${`${r.name}${r.kind === 'baseline' ? ' (baseline)' : ''}`.padEnd(30)} ${r.scores.map5.toFixed(3)}   ${pct(r.scores.top1).padStart(5)}   ${pct(r.scores.top5).padStart(5)}`);
  const baseline = rows.filter((r) => r.kind === 'baseline').reduce<DemoRow | null>((b, r) => (!b || r.scores.map5 > b.scores.map5 ? r : b), null);
  const best = rows.filter((r) => r.kind !== 'baseline').reduce<DemoRow | null>((b, r) => (!b || r.scores.map5 > b.scores.map5 ? r : b), null);
  if (best && baseline) {
    lines.push('', `The ${best.name} matcher puts the right answer first for ${pct(best.scores.top1)} of the test photos and within the first five for ${pct(best.scores.top5)}; the best baseline (${baseline.name}) does so for ${pct(baseline.scores.top1)}: ${best.scores.map5 >= 2 * baseline.scores.map5 ? 'the system tells these individuals apart' : 'the system is barely better than guessing here: train longer (a larger --max-minutes)'}.`);
  }
  const { run } = demoPaths(out);
  lines.push(`Training report: ${path.join(run, 'report.html')}. Next: review photos in the service with the best matcher (README, "The photo-ID service"):`);
  lines.push(`  whaleid catalog import --catalog ${path.join(out, 'whales.db')} --data ${demoPaths(out).catalog}`);
  lines.push(`  WHALEID_TOKEN=long-secret whaleid serve --catalog ${path.join(out, 'whales.db')} --model ${run} --matcher fused --matcher-calibration ${path.join(out, 'held-out-fused.matcher.json')}`);
  return lines;
}
