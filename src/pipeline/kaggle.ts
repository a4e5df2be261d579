/**
 * The Kaggle pipeline as resumable steps: dedup, train run1, predict it with TTA, bootstrap run2
 * from run1's confident answers, predict run2, and the rank-vote ensemble of the two weighted by
 * their validation MAP@5. Each step writes its output last (atomically) and is skipped when that
 * output exists, so the pipeline resumes where it stopped; training resumes from its checkpoint.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { readSubmission, writeSubmission } from '../data/submission.js';
import { hasCheckpoint, readRunValidation, runPaths } from '../model/folders/run-folder.js';
import { ensembleSubmissions } from '../predict/ensemble.js';
import { predictDataset } from '../predict/predict-dataset.js';
import { resolveSchedule } from '../train/schedule.js';
import { TRAIN_DEFAULTS, resolveTrainConfig, type TrainConfig } from '../train/train-config.js';
import { readStoredTrainConfig } from '../train/stored-config.js';
import { bootstrapRun, PSEUDO_LABELS } from './bootstrap.js';
import { DUPLICATE_LISTS, writeDatasetDuplicates } from './dataset-duplicates.js';
import { newFirstLine, writePrediction } from './prediction-files.js';
import type { PipelineReport } from './pipeline-report.js';
import { refuseChangesOnResume } from './resume-check.js';
import { startTrainingEngine, trainRun, type EngineChoice } from './train-run.js';

/** Options of {@link runKaggle}. */
export interface KaggleOptions {
  /** Dataset folder (Kaggle layout). */
  data: string;
  /** Working folder: every step's output. */
  work: string;
  /** run1's training settings (boxes, rotate, cache and seed serve the other steps too). */
  train: Partial<TrainConfig>;
  engine: EngineChoice;
  /** Augmented copies per test photo in the predict steps. */
  tta: number;
  /** Bootstrapping: best score a test photo needs to be pseudo-labelled. */
  minScore: number;
}

/** The outputs of the steps, by step. */
export function kaggleOutputs(work: string, tta: number): { dedup: string; run1: string; sub1: string; run2: string; sub2: string; submission: string } {
  return {
    dedup: path.join(work, 'dedup', DUPLICATE_LISTS.groups),
    run1: path.join(work, 'run1'),
    sub1: path.join(work, `run1-tta${tta}.csv`),
    run2: path.join(work, 'run2'),
    sub2: path.join(work, `run2-tta${tta}.csv`),
    submission: path.join(work, 'submission.csv'),
  };
}

/** The step's output is there: say so and skip it. */
function done(report: PipelineReport, name: string, output: string): boolean {
  if (!existsSync(output)) return false;
  report.step(`${name}: ${output} already there, skipped`);
  return true;
}

const scheduleName = (c: TrainConfig): string => (typeof c.schedule === 'string' ? c.schedule : (c.schedule.name ?? 'custom'));

/**
 * Checks the whole configuration before any work, so a mistake is reported before hours of work
 * rather than after the dedup step: the training settings as a whole (batch and micro-batch,
 * schedule, ...), and for a run to resume that the settings given are the ones it was started with.
 *
 * @param o - the pipeline's options
 * @returns run1's configuration: the stored one when run1 was started, else the given one
 * @throws {@link WhaleidError} naming the first problem
 */
export function checkKaggle(o: KaggleOptions): TrainConfig {
  const given = resolveTrainConfig({ ...o.train, data: o.data });
  resolveSchedule(given.schedule);
  const run1 = kaggleOutputs(o.work, o.tta).run1;
  const stored = hasCheckpoint(run1) ? readStoredTrainConfig(run1) : null;
  if (stored) refuseChangesOnResume(run1, stored, o.train);
  return stored ?? given;
}

/** How a run of the pipeline ended. */
export interface KaggleOutcome {
  /** The final submission, or null when the pipeline was stopped before it. */
  submission: string | null;
  /** True when the signal stopped it: run it again to continue. */
  stopped: boolean;
  /** What is kept for the next run: each finished step's output, and a stopped training's checkpoint. */
  kept: string[];
}

/** One step: its name, the output that marks it done, and its work (true: stopped within it). */
interface Step {
  name: string;
  output: string;
  /** The step has nothing to do (said when it ran): skipped without a word on later runs. */
  skipped?: () => boolean;
  run(): Promise<boolean>;
}

/** A bootstrap whose labels are written, empty, and that trained no run: it added nothing. */
function bootstrapAddedNothing(run2: string): boolean {
  const labels = path.join(run2, PSEUDO_LABELS.labels);
  return existsSync(labels) && !hasCheckpoint(run2) && readFileSync(labels, 'utf8').trim().split('\n').length <= 1;
}

/**
 * Runs (or resumes) the pipeline, step by step; a step whose output exists is skipped. The
 * signal (Ctrl-C) stops it after the step in progress, or within a training at its next step,
 * keeping the checkpoint.
 *
 * @param o - see {@link KaggleOptions}
 * @param report - step lines, details, progress bars, training hooks
 * @param signal - stops the pipeline early
 * @returns the submission, or what was kept when stopped
 * @throws {@link WhaleidError} for bad settings or data (settings are checked before any work)
 * @example
 * await runKaggle({ data: 'humpback', work: 'work', train: { preset: 'cpu' }, engine: { backend: 'wasm', threads: 2 }, tta: 4, minScore: 0.999999 }, report);
 */
export async function runKaggle(o: KaggleOptions, report: PipelineReport, signal?: AbortSignal): Promise<KaggleOutcome> {
  const run1Config = checkKaggle(o);
  const out = kaggleOutputs(o.work, o.tta);
  // every step loads tfjs: the engine starts once, as run1 trains (replicas single-threaded)
  await startTrainingEngine(o.engine, run1Config.replicas);
  const seed = o.train.seed ?? TRAIN_DEFAULTS.seed;
  const shared = { data: o.data, boxes: o.train.boxes, rotate: o.train.rotate, cacheDir: o.train.cacheDir, seed, tta: o.tta };
  const kept: string[] = [];
  const stoppedTraining = (runDir: string, epochs: number): boolean => {
    // before its first checkpoint a run has nothing to resume from: it starts again
    if (hasCheckpoint(runDir)) kept.push(`${runDir} (its checkpoint; ${epochs} epochs trained)`);
    return true;
  };
  const predict = (runDir: string, file: string) => async (): Promise<boolean> => {
    const res = await predictDataset({ ...shared, runDir, onMessage: (l) => report.detail(l), onFeatures: report.progress('features'), onBoxes: report.progress('boxes') });
    await writePrediction(file, res);
    report.step(`predict ${path.basename(runDir)}: ${file} (threshold ${res.threshold}, ${newFirstLine(res)})`);
    return false;
  };
  const steps: Step[] = [
    { name: 'dedup', output: out.dedup, run: async () => {
      const found = await writeDatasetDuplicates({ data: o.data, out: path.dirname(out.dedup), cacheDir: o.train.cacheDir }, report);
      report.step(`dedup: ${found.groups.length} duplicate groups (${found.grouped} photos), ${found.testTrainPairs} test-train pairs, ${found.failures} unreadable photos; lists in ${path.dirname(out.dedup)}`);
      return false;
    } },
    { name: 'train run1', output: runPaths(out.run1).modelJson, run: async () => {
      const resume = hasCheckpoint(out.run1);
      report.step(`train run1: ${resume ? 'resuming' : 'starting'} (${run1Config.preset}, ${scheduleName(run1Config)})`);
      const { result } = await trainRun(out.run1, { ...o.train, data: o.data }, { resume, engine: o.engine, report, signal });
      if (result.stopped) return stoppedTraining(out.run1, result.epochs);
      report.step(`train run1: validation MAP@5 ${result.validation?.map5.toFixed(4) ?? '-'}`);
      return false;
    } },
    { name: 'predict run1', output: out.sub1, run: predict(out.run1, out.sub1) },
    { name: 'bootstrap run2', output: runPaths(out.run2).modelJson, skipped: () => bootstrapAddedNothing(out.run2), run: async () => {
      const { labels, result } = await bootstrapRun({ ...shared, tta: 0, runDir: out.run1, out: out.run2, minScore: o.minScore, engine: o.engine, signal }, report);
      if (!result) {
        report.step(`bootstrap run2: no test photo scored above --min-score ${o.minScore}: no pseudo-labels, so no second run (it would repeat run1); the submission is run1's`);
        return false;
      }
      if (result.stopped) return stoppedTraining(out.run2, result.epochs);
      report.step(`bootstrap run2: ${labels.length} pseudo-labels; validation MAP@5 ${result.validation?.map5.toFixed(4) ?? '-'}`);
      return false;
    } },
    { name: 'predict run2', output: out.sub2, skipped: () => bootstrapAddedNothing(out.run2), run: predict(out.run2, out.sub2) },
    { name: 'ensemble', output: out.submission, run: async () => {
      if (bootstrapAddedNothing(out.run2)) {
        // one run: its submission is the pipeline's, and the line says so
        await writeSubmission(out.submission, await readSubmission(out.sub1));
        report.step(`submission: ${out.submission} is run1's (${out.sub1}): bootstrap added no pseudo-label, so there was nothing to ensemble`);
        return false;
      }
      // each run's vote is weighted by its validation MAP@5 (squared by the ensemble)
      const subs = [];
      for (const [name, runDir, file] of [['run1', out.run1, out.sub1], ['run2', out.run2, out.sub2]]) {
        const validation = readRunValidation(runDir);
        subs.push({ name, score: validation ? Math.max(1e-3, validation.map5) : 1, predictions: await readSubmission(file) });
      }
      await writeSubmission(out.submission, ensembleSubmissions(subs));
      report.step(`ensemble: ${out.submission} (weights ${subs.map((x) => `${x.name} ${x.score.toFixed(3)}`).join(', ')})`);
      return false;
    } },
  ];
  for (const step of steps) {
    if (signal?.aborted) return { submission: null, stopped: true, kept };
    if (step.skipped?.()) continue;
    if (done(report, step.name, step.output)) {
      kept.push(step.output);
      continue;
    }
    if (await step.run()) return { submission: null, stopped: true, kept };
    kept.push(step.output);
  }
  return { submission: out.submission, stopped: false, kept };
}

