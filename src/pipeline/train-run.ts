/**
 * Training a run as every pipeline does it: the tfjs engine started for the run's replicas, the
 * trainer run with the report's progress hooks. The one place that decides the engine's threads
 * (the CLI used to read a stored run config for it).
 */
import { initEngine, type EngineInfo } from '../model/tfjs/tfjs-backend.js';
import { MAX_WASM_THREADS } from '../model/tfjs/wasm-threads.js';
import { engineTraits, selectTrainingEngine, type EngineSelection } from '../model/training-engines.js';
import { WhaleidError } from '../util/errors.js';
import { loadDataset } from '../data/dataset.js';
import { NEW_WHALE } from '../data/labels.js';
import { formatIssue, reportIssues } from '../data/issues.js';
import { resolveTrainConfig, type TrainConfig } from '../train/train-config.js';
import { readStoredTrainConfig } from '../train/stored-config.js';
import { resumeConfig, resumeTraining, startTraining, type TrainOptions, type TrainResult } from '../train/trainer.js';
import type { PipelineReport } from './pipeline-report.js';
import { refuseChangesOnResume } from './resume-check.js';
import { resumedEngine, runEngineRecord, withEngineDefaults, type EngineChoice, type RunEngine } from './run-engine.js';

export type { EngineChoice } from './run-engine.js';

/** The engines a run uses: tfjs (always) and the one computing the training steps. */
export interface StartedEngines {
  readonly tfjs: EngineInfo;
  readonly training: EngineSelection;
  /** What a new run stores of them (RUN/engine.json). */
  readonly record: RunEngine;
  /** A line for the user: which engine trains, how, and why not native when auto fell back. */
  readonly description: string;
}

/** A run's outcome and the engines it trained with. */
export interface TrainRunResult {
  result: TrainResult;
  engine: StartedEngines;
  replicas: number;
}

/**
 * The settings a run will train with: the given ones, or for a resume the stored ones (after
 * checking that the settings given do not differ from them, as a resume ignores them).
 *
 * @param runDir - the run folder
 * @param settings - the given settings
 * @param resume - continue the stored run
 * @returns the settings in force
 */
function runSettings(runDir: string, settings: Partial<TrainConfig>, resume: boolean): Partial<TrainConfig> {
  if (!resume) return settings;
  const stored = readStoredTrainConfig(runDir);
  if (stored) refuseChangesOnResume(runDir, stored, settings);
  return stored ?? {};
}

/**
 * Starts the engines of a training run: picks the training engine (native or wasm, see
 * {@link selectTrainingEngine}) and starts tfjs, which every run needs (the network's definition,
 * prediction). Wasm replicas run single-threaded each on their own threads, so with replicas this
 * thread's tfjs starts with one thread (they would compete for the cores otherwise); so does it
 * when the native engine computes the steps (tfjs then has little to do).
 *
 * @param asked - the engines asked for and their threads (unset: the defaults)
 * @param replicas - the run's wasm replica count
 * @returns the engines started and a line describing them
 * @throws {@link WhaleidError} for `--engine native` without the addon, cuda without a GPU
 * @example
 * const { description } = await startTrainingEngine({ backend: 'wasm', threads: 2 }, 1);
 */
export async function startTrainingEngine(asked: EngineChoice, replicas: number): Promise<StartedEngines> {
  const engine = withEngineDefaults(asked);
  const training = selectTrainingEngine(engine.engine ?? 'auto', { device: engine.device, threads: engine.threads, precision: engine.precision }, { backend: engine.backend, replicas });
  const tfjs = await initEngine({ backend: engine.backend, threads: replicas > 1 || !training.traits.stepsOnTfjs ? 1 : Math.min(MAX_WASM_THREADS, engine.threads) });
  const wasm = `tfjs ${tfjs.backend}, ${tfjs.threads} thread(s)${replicas > 1 ? ` x ${replicas} replicas` : ''}`;
  const main = training.native ? training.native.description : wasm;
  return { tfjs, training, record: runEngineRecord(engine, training), description: training.note ? `${main} (${training.note})` : main };
}

/**
 * Refuses a dataset a new run could not train on, before the engine starts: its fatal problems
 * (the other problems are reported once, as training reads the data).
 *
 * @param data - the dataset folder
 * @param report - where the fatal problems go
 * @throws {@link WhaleidError} when the dataset is missing or has a fatal problem
 */
async function checkDatasetUsable(data: string, report: PipelineReport): Promise<void> {
  const ds = await loadDataset(data);
  const fatal = ds.issues.filter((i) => i.severity === 'fatal');
  if (fatal.length === 0) {
    // the trainer's own refusal, foreseen: pairs need individuals with two photos or more
    const count = new Map<string, number>();
    for (const p of ds.train) if (p.id !== NEW_WHALE) count.set(p.id, (count.get(p.id) ?? 0) + 1);
    if ([...count.values()].filter((n) => n >= 2).length === 0) throw new WhaleidError(`${data}: no individual has 2 or more labelled photos (${ds.train.length} labelled photos of ${count.size} individuals); nothing to learn from`);
    return;
  }
  if (fatal.length > 1) reportIssues(fatal.slice(1), (line) => report.detail(line));
  throw new WhaleidError(`${data}: dataset unusable: ${formatIssue(fatal[0])}${fatal.length > 1 ? ` (and ${fatal.length - 1} more fatal problems)` : ''}`);
}

/**
 * Starts the engine a run is resumed on: the one it was started on (flags that would change it are
 * refused), or for a run from before engines were stored, the one asked for.
 *
 * @param runDir - the run folder
 * @param asked - the engine flags given
 * @param replicas - the run's wasm replicas
 * @returns the engines started
 * @throws {@link WhaleidError} for a changed flag, or a stored engine this machine cannot start
 */
async function startStoredEngine(runDir: string, asked: EngineChoice, replicas: number): Promise<StartedEngines> {
  const { choice, stored } = resumedEngine(runDir, asked);
  if (!stored) return startTrainingEngine(choice, replicas);
  try {
    return await startTrainingEngine(choice, replicas);
  } catch (e) {
    if (!(e instanceof WhaleidError)) throw e;
    throw new WhaleidError(`${runDir} was started on the ${choice.engine} engine${choice.engine !== 'auto' && engineTraits(choice.engine).devices ? ` (${choice.device}, ${choice.threads} threads, ${choice.precision})` : ''}, which cannot start here: ${e.message}; resume it where it can, or train into a new folder`);
  }
}

/**
 * Trains a run, or resumes it from its checkpoint (a resumed run keeps its stored configuration,
 * replicas included; settings given that differ from it are refused).
 *
 * @param runDir - the run folder
 * @param settings - the configuration (ignored on resume)
 * @param options - resume, engine, report, a stop signal (the result then says `stopped`);
 *   `onEngine` hears which engines started before training (without it the report's detail does)
 * @returns the result, the engine and the replicas
 * @throws {@link WhaleidError} for a bad configuration or dataset, or a resume without a run
 * @example
 * const { result } = await trainRun('runs/a', { data: 'catalog', preset: 'tiny' }, { engine: { backend: 'wasm', threads: 2 }, report });
 */
export async function trainRun(
  runDir: string,
  settings: Partial<TrainConfig> & { data: string },
  options: { resume?: boolean; moreMinutes?: number; engine: EngineChoice; report: PipelineReport; signal?: AbortSignal; onEngine?: (engines: StartedEngines, replicas: number) => void },
): Promise<TrainRunResult> {
  const resume = options.resume === true;
  // a bad setting or an unusable dataset is reported before the engine starts or anything is printed or written
  if (!resume) await checkDatasetUsable(resolveTrainConfig(settings).data, options.report);
  const inForce = runSettings(runDir, settings, resume);
  // a finished run goes on only when asked: said before the engine starts
  const stored = resume ? readStoredTrainConfig(runDir) : null;
  if (stored) {
    resumedEngine(runDir, options.engine); // a changed engine flag is named first
    await resumeConfig(runDir, stored, options.moreMinutes);
  }
  const replicas = inForce.replicas ?? 1;
  const engine = resume ? await startStoredEngine(runDir, options.engine, replicas) : await startTrainingEngine(options.engine, replicas);
  if (options.onEngine) options.onEngine(engine, replicas);
  else options.report.detail(`training engine: ${engine.description}`);
  if (engine.training.native?.warning) options.report.detail(engine.training.native.warning);
  // the budget counts from this process's start of the run: the bar's ETA never passes its end
  const deadline = inForce.maxMinutes === undefined ? undefined : Date.now() + inForce.maxMinutes * 60_000;
  const hooks = options.report.training({ deadline });
  try {
    const driven: TrainOptions = { ...hooks, signal: options.signal, engine: engine.training, engineRecord: engine.record };
    const result = resume ? await resumeTraining(runDir, { ...driven, moreMinutes: options.moreMinutes }) : await startTraining(runDir, settings, driven);
    return { result, engine, replicas };
  } finally {
    hooks.done();
  }
}
