/**
 * Training a run as every pipeline does it: the tfjs engine started for the run's replicas, the
 * trainer run with the report's progress hooks. The one place that decides the engine's threads
 * (the CLI used to read a stored run config for it).
 */
import { initEngine, type EngineBackend, type EngineInfo } from '../model/engine.js';
import { resolveTrainConfig, type TrainConfig } from '../train/train-config.js';
import { readStoredTrainConfig } from '../train/stored-config.js';
import { resumeTraining, startTraining, type TrainOptions, type TrainResult } from '../train/trainer.js';
import type { PipelineReport } from './report.js';
import { refuseChangesOnResume } from './resume-check.js';

/**
 * How to run the training (not what to train): the tfjs engine started here, and the trainer's
 * own engine options (which engine computes the steps), passed to it as they are.
 */
export interface EngineChoice extends Pick<TrainOptions, 'engine'> {
  /** tfjs backend. */
  backend: EngineBackend;
  /** wasm threads for a run without replicas. */
  threads: number;
}

/** A run's outcome and the engine it trained on. */
export interface TrainRunResult {
  result: TrainResult;
  engine: EngineInfo;
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
 * Starts the tfjs engine for a training run. Replicas run single-threaded each on their own
 * threads, so with replicas this thread's engine starts with one thread too (they would compete
 * for the cores otherwise).
 *
 * @param engine - backend and threads
 * @param replicas - the run's replica count
 * @returns the engine started
 * @example
 * await startTrainingEngine({ backend: 'wasm', threads: 2 }, 1);
 */
export function startTrainingEngine(engine: EngineChoice, replicas: number): Promise<EngineInfo> {
  return initEngine({ backend: engine.backend, threads: replicas > 1 ? 1 : engine.threads });
}

/**
 * Trains a run, or resumes it from its checkpoint (a resumed run keeps its stored configuration,
 * replicas included; settings given that differ from it are refused).
 *
 * @param runDir - the run folder
 * @param settings - the configuration (ignored on resume)
 * @param options - resume, engine, report, a stop signal (the result then says `stopped`);
 *   `onEngine` hears which engine started before training
 * @returns the result, the engine and the replicas
 * @throws {@link WhaleidError} for a bad configuration or dataset, or a resume without a run
 * @example
 * const { result } = await trainRun('runs/a', { data: 'catalog', preset: 'tiny' }, { engine: { backend: 'wasm', threads: 2 }, report });
 */
export async function trainRun(
  runDir: string,
  settings: Partial<TrainConfig> & { data: string },
  options: { resume?: boolean; engine: EngineChoice; report: PipelineReport; signal?: AbortSignal; onEngine?: (engine: EngineInfo, replicas: number) => void },
): Promise<TrainRunResult> {
  const resume = options.resume === true;
  if (!resume) resolveTrainConfig(settings); // a bad setting is reported before the engine starts
  const inForce = runSettings(runDir, settings, resume);
  const replicas = inForce.replicas ?? 1;
  const engine = await startTrainingEngine(options.engine, replicas);
  options.onEngine?.(engine, replicas);
  // the budget counts from this process's start of the run: the bar's ETA never passes its end
  const deadline = inForce.maxMinutes === undefined ? undefined : Date.now() + inForce.maxMinutes * 60_000;
  const hooks = options.report.training({ deadline });
  try {
    const { backend: _backend, threads: _threads, ...trainerEngine } = options.engine;
    const driven: TrainOptions = { ...hooks, ...trainerEngine, signal: options.signal };
    const result = resume ? await resumeTraining(runDir, driven) : await startTraining(runDir, settings, driven);
    return { result, engine, replicas };
  } finally {
    hooks.done();
  }
}
