/**
 * The one place a training engine is chosen and its name compared: `wasm` (tfjs, always
 * available) or `native` (libtorch through the N-API addon in native/, CPU or CUDA). A run
 * resolves its choice once ({@link selectTrainingEngine}: device, threads, precision against what
 * this machine has) into an {@link EngineSelection}, the object RUN/engine.json records, and
 * passes that object down; what differs between engines is asked of the selection's
 * {@link EngineTraits} or of the engine ({@link TrainingEngineInfo}), never of its name
 * (test/engine-choice.test.ts fails on a name compared anywhere else).
 */
import os from 'node:os';
import { invalidParameterError, WhaleidError } from '../util/errors.js';
import { bf16CpuWarning } from './native/cpu-bf16.js';
import { loadNativeAddon } from './native/native-addon.js';
import { requireAddon, createNativeTrainingEngine, type NativeEngineChoice, type NativeEngineSettings, type NativePrecision } from './native/native-training-engine.js';
import type { Siamese } from './network/siamese.js';
import type { TrainingEngine } from './training-engine.js';
import { createWasmTrainingEngine } from './tfjs/wasm-training-engine.js';

/** The engines a run can train on. */
export const TRAINING_ENGINES = ['wasm', 'native'] as const;

/** A training engine's name. */
export type TrainingEngineName = (typeof TRAINING_ENGINES)[number];

/** What a run asks for: an engine, or `auto` (native when its addon is built and loads, else wasm). */
export type EngineRequest = 'auto' | TrainingEngineName;

/**
 * The one thread default of training, for either engine: every core this process may use
 * (`os.availableParallelism()`). The wasm engine's threaded build holds at most 8 of them
 * (MAX_WASM_THREADS, a limit of that build, not a default).
 *
 * @returns the threads a run trains with when `--threads` is not given
 * @example
 * defaultTrainingThreads(); // 2 on a two-core machine
 */
export function defaultTrainingThreads(): number {
  return os.availableParallelism();
}

/** What an engine can do: what the rest of whaleid asks instead of comparing engine names. */
export interface EngineTraits {
  /** tfjs computes the steps, so tfjs gets the run's threads (else tfjs gets one: it has little to do). */
  readonly stepsOnTfjs: boolean;
  /** It trains the margin losses (`--loss arcface|subcenter-arcface`). */
  readonly marginLosses: boolean;
  /** It fine-tunes TorchScript backbones (`--backbone FILE.pt`). */
  readonly backbones: boolean;
  /** It has a device and a precision (stored in RUN/engine.json and held on resume). */
  readonly devices: boolean;
}

const TRAITS: Record<TrainingEngineName, EngineTraits> = {
  wasm: { stepsOnTfjs: true, marginLosses: false, backbones: false, devices: false },
  native: { stepsOnTfjs: false, marginLosses: true, backbones: true, devices: true },
};

/**
 * What an engine can do.
 *
 * @param engine - the engine's name
 * @returns its traits
 * @throws {@link WhaleidError} for a name that is no engine
 * @example
 * engineTraits('wasm').marginLosses; // false
 */
export function engineTraits(engine: TrainingEngineName): EngineTraits {
  const traits = (TRAITS as Partial<Record<string, EngineTraits>>)[engine];
  if (!traits) throw invalidParameterError('engine', `one of ${TRAINING_ENGINES.join(', ')}`, engine);
  return traits;
}

/** The engine a run trains on, resolved once per run: what RUN/engine.json records. */
export interface EngineSelection {
  readonly engine: TrainingEngineName;
  /** What the engine can do. */
  readonly traits: EngineTraits;
  /** The native engine's device, threads and precision (present exactly when native). */
  readonly native?: NativeEngineChoice;
  /** A line for the user: why not native, or what native ignores. */
  readonly note?: string;
}

/**
 * Resolves device, threads and precision of the native engine for this machine.
 *
 * @param settings - what was asked (unset: auto device, {@link defaultTrainingThreads}, fp32)
 * @returns the choice, its one-line description and, for bf16 on a CPU without bf16 instructions, a warning
 * @throws {@link WhaleidError} without the addon, for cuda where none is seen, or bad values
 * @example
 * resolveNativeChoice({ device: 'auto' }).description; // 'native (libtorch 1.13.0, cpu, 2 threads, fp32)'
 */
export function resolveNativeChoice(settings: NativeEngineSettings = {}): NativeEngineChoice {
  const torch = requireAddon().torchInfo();
  const asked = settings.device ?? 'auto';
  if (asked !== 'auto' && asked !== 'cpu' && asked !== 'cuda') throw invalidParameterError('--device', 'auto, cpu or cuda', asked);
  if (asked === 'cuda' && !torch.cudaAvailable) throw new WhaleidError(`--device cuda: libtorch ${torch.version} sees no CUDA GPU (a CPU-only build, or no driver/device)`);
  const device = asked === 'auto' ? (torch.cudaAvailable ? 'cuda' : 'cpu') : asked;
  const threads = settings.threads ?? defaultTrainingThreads();
  if (!Number.isSafeInteger(threads) || threads < 1 || threads > 256) throw invalidParameterError('--threads', 'an integer from 1 to 256', threads);
  const precision: NativePrecision = settings.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') throw invalidParameterError('--precision', 'fp32 or bf16', precision);
  const where = device === 'cuda' ? `cuda (${torch.cudaDevices} GPU${torch.cudaDevices === 1 ? '' : 's'})` : `cpu, ${threads} thread${threads === 1 ? '' : 's'}`;
  const warning = precision === 'bf16' && device === 'cpu' ? bf16CpuWarning() : null;
  return { device, threads, precision, description: `native (libtorch ${torch.version}, ${where}, ${precision})`, ...(warning ? { warning } : {}) };
}

/**
 * Picks the training engine of a run, once. `auto` is native when the addon is built and loads
 * (and tfjs's cpu backend was not asked for), else wasm with the reason in `note`; `native`
 * without the addon is an error naming why.
 *
 * @param asked - `auto` (default), `native` or `wasm`
 * @param settings - the native engine's device, threads and precision
 * @param context - the tfjs backend asked for and the run's wasm replicas (default: wasm, 1)
 * @returns the engine, its traits and, for native, its resolved settings
 * @throws {@link WhaleidError} for an unknown engine, native without the addon, cuda without a GPU
 * @example
 * const { engine, note } = selectTrainingEngine('auto', { threads: 2 }, { backend: 'wasm', replicas: 1 });
 */
export function selectTrainingEngine(asked: EngineRequest = 'auto', settings: NativeEngineSettings = {}, context: { backend: 'wasm' | 'cpu'; replicas: number } = { backend: 'wasm', replicas: 1 }): EngineSelection {
  if (asked !== 'auto' && !(TRAINING_ENGINES as readonly string[]).includes(asked)) throw invalidParameterError('--engine', `auto or one of ${TRAINING_ENGINES.join(', ')}`, asked);
  if (asked === 'wasm' || (asked === 'auto' && context.backend === 'cpu')) return { engine: 'wasm', traits: TRAITS.wasm };
  if (asked === 'auto') {
    const addon = loadNativeAddon();
    if (!addon.available) return { engine: 'wasm', traits: TRAITS.wasm, note: `training on tfjs-wasm: ${addon.reason}` };
  }
  const native = resolveNativeChoice(settings);
  const note = context.replicas > 1 ? `--replicas ${context.replicas} is for the wasm engine: the native engine computes each step whole on ${native.threads} threads` : undefined;
  return { engine: 'native', traits: TRAITS.native, native, note };
}

/**
 * A run's engine as a selection: one already made is taken as it is; a name (the API's callers
 * and tests) is resolved here with `settings`.
 *
 * @param engine - a selection, an engine's name, or nothing (wasm)
 * @param settings - the native engine's settings, for a name
 * @returns the selection
 * @throws {@link WhaleidError} as {@link selectTrainingEngine}, naming `engine` for an unknown name
 * @example
 * resolveEngine('native', { device: 'cpu', threads: 2 }).native?.threads; // 2
 */
export function resolveEngine(engine: TrainingEngineName | EngineSelection | undefined, settings: NativeEngineSettings = {}): EngineSelection {
  if (typeof engine === 'object') return engine;
  const name = engine ?? 'wasm';
  engineTraits(name); // an unknown name is refused here, naming `engine`
  return selectTrainingEngine(name, settings);
}

/** Options of {@link createTrainingEngine}: which engine, and its step strategy. */
export interface TrainingEngineOptions extends NativeEngineSettings {
  /** The run's selection, or an engine's name resolved with the settings here; default `wasm`. */
  readonly engine?: TrainingEngineName | EngineSelection;
  /** wasm: data-parallel replicas on worker threads (1, the default: none). */
  readonly replicas?: number;
  /** Pairs per micro-batch (gradients accumulated, applied once per step); unset: whole steps. */
  readonly microBatch?: number;
}

/**
 * Makes the training engine of a run from a Siamese network, with its step strategy fixed once
 * (whole steps, micro-batches or replicas): the trainer never picks a strategy per step.
 *
 * The native engine's addon (and libtorch) loads only when it is asked for; it ignores `replicas`
 * (wasm's way to use cores; native uses `threads`).
 *
 * @param siamese - the network to train (weights, moving averages and Adam state as they stand;
 *   head already initialised)
 * @param options - engine (the run's selection) and strategy
 * @returns the engine; `dispose()` it when training ends or before the model is rebuilt
 * @throws {@link WhaleidError} for an unknown engine, bad options, or an engine that cannot start
 * @example
 * const engine = await createTrainingEngine(siamese, { engine: 'wasm', replicas: 2 });
 * engine.setLearningRate(64e-5);
 * const loss = await engine.step(loadPairs, 32);
 * await engine.writeTo(siamese); // before a checkpoint, validation or export
 * await engine.dispose();
 */
export async function createTrainingEngine(siamese: Siamese, options: TrainingEngineOptions = {}): Promise<TrainingEngine> {
  const selection = resolveEngine(options.engine, options);
  switch (selection.engine) {
    case 'wasm':
      return createWasmTrainingEngine(siamese, { replicas: options.replicas, microBatch: options.microBatch });
    case 'native':
      if (!selection.native) throw new WhaleidError('the native engine was selected without its device, threads and precision');
      return createNativeTrainingEngine(siamese, { choice: selection.native, microBatch: options.microBatch });
  }
}
