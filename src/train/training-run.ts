/**
 * What the stages of a training run share: its settings, data, position and log, the caller's
 * hooks and stop signal. trainer.ts builds it; the group loop and the finish read and advance it.
 */
import { promises as fs } from 'node:fs';
import { runPaths } from '../model/folders/run-folder.js';
import type { EngineSelection, TrainingEngineName } from '../model/training-engines.js';
import type { NativeEngineSettings } from '../model/native/native-training-engine.js';
import type { TrainState } from './checkpoint.js';
import type { Schedule } from './schedule.js';
import type { TrainConfig } from './train-config.js';
import type { TrainingData } from './training-data.js';
import type { PairConstraints } from './training-views.js';
import { createRunValidator, type RunValidator } from './run-validation.js';

/** Callbacks of a run: progress display and messages. */
export interface TrainHooks {
  /** Total steps known: called once at start (and after a resume with the steps already done). */
  onStart?: (totalSteps: number, doneSteps: number) => void;
  /** After each training step, with a short status (loss, last validation). */
  onStep?: (status: string) => void;
  /** A line for the user (stage changes, validation results). */
  onMessage?: (line: string) => void;
  /** After each schedule group's checkpoint is written: where a resume would start. */
  onCheckpoint?: (groupsDone: number, epochsDone: number) => void;
}

/** How a run is driven: hooks, the caller's stop signal and the engine. */
export interface TrainOptions extends TrainHooks {
  /**
   * Stops the run before its next step (Ctrl-C): the last checkpoint stays, and a resume
   * continues from it as if the run had not stopped. The run's result then says `stopped`.
   */
  signal?: AbortSignal;
  /**
   * Which engine computes the steps: the selection the caller resolved (the pipeline's, which
   * RUN/engine.json records), or a name resolved once when the run starts with `native`'s
   * settings (training-engines.ts); default `wasm`.
   */
  engine?: TrainingEngineName | EngineSelection;
  /** The native engine's device, threads and precision, with an engine given by name. */
  native?: NativeEngineSettings;
  /**
   * The engine settings a new run stores beside its configuration (RUN/engine.json), written
   * with it so that a refused start leaves neither; a resume restores them (the pipeline does).
   */
  engineRecord?: object;
}

/** A run in progress. */
export interface TrainingRun {
  readonly runDir: string;
  readonly config: TrainConfig;
  readonly schedule: Schedule;
  readonly data: TrainingData;
  readonly pairs: PairConstraints;
  /** Position and history; advanced by the group loop. */
  readonly state: TrainState;
  readonly options: TrainOptions;
  /** The engine, resolved once for the run: every engine the run makes is made from it. */
  readonly engine: EngineSelection;
  /** `Date.now()` when this process started the run (time budget, log seconds). */
  readonly started: number;
  readonly validator: RunValidator;
  /** A line for the user. */
  say(line: string): void;
  /** Appends a record to the history and to log.jsonl. */
  record(entry: Record<string, unknown>): Promise<void>;
}

/**
 * Assembles a {@link TrainingRun}.
 *
 * @param parts - everything but the log and validator, which are made here
 * @returns the run
 * @example
 * const run = createTrainingRun({ runDir, config, schedule, data, pairs, state, options, started: Date.now() });
 */
export function createTrainingRun(parts: Omit<TrainingRun, 'validator' | 'say' | 'record'>): TrainingRun {
  const say = parts.options.onMessage ?? ((): void => {});
  const log = runPaths(parts.runDir).log;
  const record = async (entry: Record<string, unknown>): Promise<void> => {
    parts.state.history.push(entry);
    await fs.appendFile(log, JSON.stringify(entry) + '\n');
  };
  return { ...parts, say, record, validator: createRunValidator(parts.data, record, say) };
}
