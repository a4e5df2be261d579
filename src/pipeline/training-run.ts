/**
 * Training a run as every pipeline does it: the tfjs engine started for the run's replicas, the
 * trainer run with the report's progress hooks. The one place that decides the engine's threads
 * (the CLI used to read a stored run config for it).
 */
import { initEngine, type EngineBackend, type EngineInfo } from '../model/engine.js';
import { MAX_WASM_THREADS } from '../model/wasm-threads.js';
import type { NativeEngineSettings } from '../model/native-training-engine.js';
import { selectTrainingEngine, type EngineRequest, type EngineSelection } from '../model/training-engines.js';
import { resolveTrainConfig, type TrainConfig } from '../train/train-config.js';
import { readStoredTrainConfig } from '../train/stored-config.js';
import { resumeTraining, startTraining, type TrainOptions, type TrainResult } from '../train/trainer.js';
import type { PipelineReport } from './report.js';
import { refuseChangesOnResume } from './resume-check.js';

/**
 * How to run the training (not what to train): which engine computes the steps (picked by
 * {@link startTrainingEngine}), its device, precision and threads, and the tfjs backend.
 */
export interface EngineChoice {
  /** tfjs backend (the wasm engine's, and tfjs's own work: the network's definition, prediction). */
  backend: EngineBackend;
  /** Threads: the native engine's, or wasm's for a run without replicas. */
  threads: number;
  /** `auto` (default: native when its addon is built, else wasm), `native` or `wasm`. */
  engine?: EngineRequest;
  /** The native engine's device: `auto` (default), `cpu` or `cuda`. */
  device?: NativeEngineSettings['device'];
  /** The native engine's precision: `fp32` (default) or `bf16` (CUDA). */
  precision?: NativeEngineSettings['precision'];
}

/** The engines a run uses: tfjs (always) and the one computing the training steps. */
export interface StartedEngines {
  readonly tfjs: EngineInfo;
  readonly training: EngineSelection;
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
 * @param engine - the engines asked for and their threads
 * @param replicas - the run's wasm replica count
 * @returns the engines started and a line describing them
 * @throws {@link WhaleidError} for `--engine native` without the addon, cuda without a GPU, bf16 off CUDA
 * @example
 * const { description } = await startTrainingEngine({ backend: 'wasm', threads: 2 }, 1);
 */
export async function startTrainingEngine(engine: EngineChoice, replicas: number): Promise<StartedEngines> {
  const training = selectTrainingEngine(engine.engine ?? 'auto', { device: engine.device, threads: engine.threads, precision: engine.precision }, { backend: engine.backend, replicas });
  const native = training.engine === 'native';
  const tfjs = await initEngine({ backend: engine.backend, threads: replicas > 1 || native ? 1 : Math.min(MAX_WASM_THREADS, engine.threads) });
  const wasm = `tfjs ${tfjs.backend}, ${tfjs.threads} thread(s)${replicas > 1 ? ` x ${replicas} replicas` : ''}`;
  const main = training.native ? training.native.description : wasm;
  return { tfjs, training, description: training.note ? `${main} (${training.note})` : main };
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
  options: { resume?: boolean; engine: EngineChoice; report: PipelineReport; signal?: AbortSignal; onEngine?: (engines: StartedEngines, replicas: number) => void },
): Promise<TrainRunResult> {
  const resume = options.resume === true;
  if (!resume) resolveTrainConfig(settings); // a bad setting is reported before the engine starts
  const inForce = runSettings(runDir, settings, resume);
  const replicas = inForce.replicas ?? 1;
  const engine = await startTrainingEngine(options.engine, replicas);
  if (options.onEngine) options.onEngine(engine, replicas);
  else options.report.detail(`training engine: ${engine.description}`);
  // the budget counts from this process's start of the run: the bar's ETA never passes its end
  const deadline = inForce.maxMinutes === undefined ? undefined : Date.now() + inForce.maxMinutes * 60_000;
  const hooks = options.report.training({ deadline });
  try {
    const driven: TrainOptions = { ...hooks, signal: options.signal, engine: engine.training.engine, native: engine.training.native };
    const result = resume ? await resumeTraining(runDir, driven) : await startTraining(runDir, settings, driven);
    return { result, engine, replicas };
  } finally {
    hooks.done();
  }
}
