/**
 * Training runs: {@link startTraining} begins one in a new run folder, {@link resumeTraining}
 * continues one from its last checkpoint with its stored configuration. Both go through the same
 * stages: data (training-data.ts), a starting network (fresh with its head initialised, or the
 * checkpoint's), the group loop through a training engine (group-loop.ts), and the finish
 * (training-finish.ts).
 *
 * A run writes RUN_DIR: `config.json`, `log.jsonl` (one record per epoch and per validation),
 * `checkpoint/` (at every schedule group), `model/` and `onnx/` (the final network) and
 * `report.html`. A resumed run gives the same files, bit for bit, as an uninterrupted one: all
 * randomness of a group derives from (seed, group number), and the checkpoint holds the weights,
 * BatchNorm statistics and Adam's state (restored exactly, see siamese-state.ts).
 */
import { existsSync, promises as fs } from 'node:fs';
import { createSiamese, type Siamese } from '../model/network/siamese.js';
import { resolveEngine } from '../model/training-engines.js';
import { hasCheckpoint, hasFinalModel, writeRunEngine } from '../model/folders/run-folder.js';
import { invalidParameterError, WhaleidError } from '../util/errors.js';
import { loadCheckpoint, readCheckpointState, trainedSeconds, writeLog, type TrainState } from './checkpoint.js';
import { trainGroups } from './group-loop.js';
import { warmUpBranch, warmupPending, warmupSteps } from './warmup.js';
import { initHeadFromTrainingPhotos } from './head-init.js';
import { resolveSchedule, totalEpochs, type Schedule } from './schedule.js';
import { resolveTrainConfig, type TrainConfig } from './train-config.js';
import { readStoredTrainConfig, writeStoredTrainConfig } from './stored-config.js';
import { prepareTrainingData, type TrainingData } from './training-data.js';
import { finishTraining, writeRunReport } from './training-finish.js';
import { runBackboneTraining } from './backbone-training.js';
import { createTrainingRun, type TrainOptions } from './training-run.js';
import { pairConstraints } from './training-views.js';
import type { ValidationResult } from './validation.js';

export type { TrainHooks, TrainOptions } from './training-run.js';

/** The outcome of a run. */
export interface TrainResult {
  runDir: string;
  /** The last validation (the final one for a finished run). */
  validation: ValidationResult | null;
  /** Epochs trained in all. */
  epochs: number;
  /** Seconds this process trained. */
  seconds: number;
  /** Seconds the run trained in all, every resume included (from its log). */
  totalSeconds: number;
  /** True when the caller's signal stopped the run before its end: resume it to continue. */
  stopped: boolean;
  /** Photos left out of training (dataset rows with errors, unreadable photos; each reported). */
  skipped: number;
}

/**
 * Starts a training run in a new run folder (see the module's documentation for what it writes).
 *
 * @param runDir - the run folder (created; refused when a run is already there)
 * @param settings - the configuration (defaults filled in, stored as config.json)
 * @param options - hooks, stop signal and engine
 * @returns where the run is, its last validation, its duration and whether it was stopped
 * @throws {@link WhaleidError} for a bad dataset or configuration, or a run already in the folder
 * @example
 * await startTraining('runs/demo', { data: 'catalog', preset: 'tiny', schedule: 'short' });
 */
export async function startTraining(runDir: string, settings: Partial<TrainConfig> & { data: string }, options: TrainOptions = {}): Promise<TrainResult> {
  const config = resolveTrainConfig(settings);
  if (hasCheckpoint(runDir)) throw new WhaleidError(`${runDir}: a run is already there; use --resume to continue it or choose another --out`);
  const created = !existsSync(runDir);
  await fs.mkdir(runDir, { recursive: true });
  try {
    await writeStoredTrainConfig(runDir, config);
    if (options.engineRecord) await writeRunEngine(runDir, options.engineRecord);
    return await runTraining(runDir, config, false, options);
  } catch (e) {
    // a run refused before its first checkpoint (its data unusable) leaves no folder that looks
    // like a run to resume; one that got further is kept for --resume
    if (created && e instanceof WhaleidError && !hasCheckpoint(runDir)) await fs.rm(runDir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Continues a run from its last checkpoint (`checkpoint.old` when the latest is damaged) with
 * the configuration stored in its folder; a run stopped before its first checkpoint starts over.
 *
 * @param runDir - the run folder
 * @param options - hooks, stop signal and engine (any engine can resume any run)
 * @returns as {@link startTraining}
 * @throws {@link WhaleidError} when the folder holds no run, its config.json is invalid, or no
 *   checkpoint can be read
 * @example
 * await resumeTraining('runs/demo', { onMessage: console.error });
 */
export async function resumeTraining(runDir: string, options: TrainOptions & { moreMinutes?: number } = {}): Promise<TrainResult> {
  const stored = readStoredTrainConfig(runDir);
  if (!stored) throw new WhaleidError(`${runDir}: no training run to resume (config.json missing)`);
  return runTraining(runDir, await resumeConfig(runDir, stored, options.moreMinutes), true, options);
}

/**
 * The configuration a resume trains with: the stored one; for a finished run (its model/ and
 * onnx/ written, which predictions may already use) only when asked, that is when its time budget
 * ran out before its schedule's end and `moreMinutes` gives a new budget (for this process;
 * config.json keeps the run's own). A run whose schedule ended has nothing left. Cheap: callers
 * check it before starting an engine.
 *
 * @param runDir - the run folder
 * @param stored - its stored configuration
 * @param moreMinutes - a new time budget for a finished run (the person's explicit choice)
 * @returns the configuration to train with
 * @throws {@link WhaleidError} saying that the run is finished, why, and what continuing takes;
 *   or that `moreMinutes` was given for a run that is not finished
 * @example
 * await resumeConfig('runs/a', stored, 30); // { ...stored, maxMinutes: 30 } for a run its budget stopped
 */
export async function resumeConfig(runDir: string, stored: TrainConfig, moreMinutes?: number): Promise<TrainConfig> {
  if (moreMinutes !== undefined && !(moreMinutes > 0)) throw invalidParameterError('--more-minutes', 'a positive number of minutes', moreMinutes);
  if (!hasFinalModel(runDir)) {
    if (moreMinutes !== undefined) throw new WhaleidError(`--more-minutes: ${runDir} is not finished (it resumes where it stopped, within its own budget); leave the flag out`);
    return stored;
  }
  // an unreadable checkpoint is the checkpoint loader's to report (it falls back to checkpoint.old)
  const state = await readCheckpointState(runDir).catch(() => undefined);
  if (state === undefined) return stored;
  const schedule = resolveSchedule(stored.schedule);
  const minutes = state ? (trainedSeconds(state.history) / 60).toFixed(1) : '?';
  const epochs = state?.epochsDone ?? 0;
  if (!state || state.groupsDone >= schedule.groups.length) {
    throw new WhaleidError(`${runDir} is finished: its schedule ended after ${epochs} epochs (${minutes} min); its model/ and onnx/ are what predictions use, and there is nothing left to train: train into a new folder to train again`);
  }
  if (moreMinutes === undefined) {
    throw new WhaleidError(`${runDir} is finished: its time budget of ${stored.maxMinutes ?? '?'} min ran out after ${epochs} of ${totalEpochs(schedule)} epochs (${minutes} min); its model/ and onnx/ are what predictions use. To train the rest and replace them, resume with --more-minutes N (a new budget)`);
  }
  return { ...stored, maxMinutes: moreMinutes };
}

async function runTraining(runDir: string, config: TrainConfig, resume: boolean, options: TrainOptions): Promise<TrainResult> {
  // the run's one engine choice: every engine, classifier and backbone of the run is made from it
  const engine = resolveEngine(options.engine, options.native);
  if (config.backbone !== undefined) {
    const r = await runBackboneTraining(runDir, config, resume, options, engine);
    return { ...r, totalSeconds: r.seconds, validation: null };
  }
  const started = Date.now();
  const say = options.onMessage ?? ((): void => {});
  const schedule = resolveSchedule(config.schedule);
  // the checkpoint first: a run that cannot resume says so before any data is read
  const resumed = resume ? await loadCheckpoint(runDir, say) : null;
  if (resumed) say(`resuming after ${resumed.state.epochsDone} epochs (${resumed.state.groupsDone} groups)`);
  const data = await prepareTrainingData(config, runDir, say);
  const { siamese, state } = resumed ?? (await freshStart(config, schedule, data));
  await writeLog(runDir, state.history);
  const pairs = pairConstraints(data, config);
  if (pairs.viewOf) say(`views by /${config.viewPattern}/: ${pairs.views.map((v) => v || '(none)').join(', ')}`);
  const run = createTrainingRun({ runDir, config, schedule, data, pairs, state, options, engine, started });
  const stepsPerEpoch = Math.ceil((2 * data.split.train.length) / config.batchSize);
  const warmup = warmupSteps(run);
  const pending = warmupPending(run);
  options.onStart?.(warmup + totalEpochs(schedule) * stepsPerEpoch, (pending ? 0 : warmup) + state.epochsDone * stepsPerEpoch);
  const trained = pending && !(await warmUpOrDispose(run, siamese)) ? { siamese, end: 'stopped' as const } : await trainGroups(run, siamese);
  try {
    const finished = trained.end !== 'stopped';
    if (finished) await finishTraining(run, trained.siamese);
    await writeRunReport(run, finished);
  } finally {
    trained.siamese.model.dispose();
  }
  return { runDir, validation: run.validator.last(), epochs: state.epochsDone, seconds: (Date.now() - started) / 1000, totalSeconds: trainedSeconds(state.history), stopped: trained.end === 'stopped', skipped: data.skipped };
}

/** The warm-up; the network is freed when it fails (the caller's try starts after it). */
async function warmUpOrDispose(run: Parameters<typeof warmUpBranch>[0], siamese: Siamese): Promise<boolean> {
  try {
    return await warmUpBranch(run, siamese);
  } catch (e) {
    siamese.model.dispose();
    throw e;
  }
}

/** A new network (its head initialised) at the schedule's start. */
async function freshStart(config: TrainConfig, schedule: Schedule, data: TrainingData): Promise<{ siamese: Siamese; state: TrainState }> {
  const siamese = createSiamese({ preset: config.preset, inputSize: config.inputSize, seed: config.seed, lr: schedule.groups[0].lr * config.lrScale });
  if (config.headInit === 'distance') await initHeadFromTrainingPhotos(siamese, data);
  return { siamese, state: { groupsDone: 0, epochsDone: 0, history: [] } };
}
