/**
 * The one place a training engine is chosen: `wasm` (tfjs, always available) or `native`
 * (libtorch through the N-API addon in native/, CPU or CUDA). The trainer asks only for a
 * {@link TrainingEngine}; which one computes its steps is an option of the run.
 */
import { invalidParameterError } from '../util/errors.js';
import { loadNativeAddon } from './native/native-addon.js';
import { createNativeTrainingEngine, resolveNativeChoice, type NativeEngineChoice, type NativeEngineSettings, type NativePrecision } from './native/native-training-engine.js';
import type { Siamese } from './network/siamese.js';
import type { TrainingEngine } from './training-engine.js';
import { createWasmTrainingEngine } from './tfjs/wasm-training-engine.js';

/** The engines a run can train on. */
export const TRAINING_ENGINES = ['wasm', 'native'] as const;

/** A training engine's name. */
export type TrainingEngineName = (typeof TRAINING_ENGINES)[number];

/** What a run asks for: an engine, or `auto` (native when its addon is built and loads, else wasm). */
export type EngineRequest = 'auto' | TrainingEngineName;

/** The engine a run trains on, with the reason when `auto` could not pick native. */
export interface EngineSelection {
  readonly engine: TrainingEngineName;
  /** The native engine's device, threads and precision (when native). */
  readonly native?: NativeEngineChoice;
  /** A line for the user: why not native, or what native ignores. */
  readonly note?: string;
}

/**
 * Picks the training engine of a run. `auto` is native when the addon is built and loads (and
 * tfjs's cpu backend was not asked for), else wasm with the reason in `note`; `native` without
 * the addon is an error naming why.
 *
 * @param asked - `auto` (default), `native` or `wasm`
 * @param settings - the native engine's device, threads and precision
 * @param context - the tfjs backend asked for and the run's wasm replicas
 * @returns the engine and, for native, its resolved settings
 * @throws {@link WhaleidError} for native without the addon, cuda without a GPU, bf16 off CUDA
 * @example
 * const { engine, note } = selectTrainingEngine('auto', { threads: 2 }, { backend: 'wasm', replicas: 1 });
 */
export function selectTrainingEngine(asked: EngineRequest = 'auto', settings: NativeEngineSettings = {}, context: { backend: 'wasm' | 'cpu'; replicas: number }): EngineSelection {
  if (asked !== 'auto' && !(TRAINING_ENGINES as readonly string[]).includes(asked)) throw invalidParameterError('--engine', `auto or one of ${TRAINING_ENGINES.join(', ')}`, asked);
  if (asked === 'wasm' || (asked === 'auto' && context.backend === 'cpu')) return { engine: 'wasm' };
  if (asked === 'auto') {
    const addon = loadNativeAddon();
    if (!addon.available) return { engine: 'wasm', note: `training on tfjs-wasm: ${addon.reason}` };
  }
  const native = resolveNativeChoice(settings);
  const note = context.replicas > 1 ? `--replicas ${context.replicas} is for the wasm engine: the native engine computes each step whole on ${native.threads} threads` : undefined;
  return { engine: 'native', native, note };
}

/** Options of {@link createTrainingEngine}: which engine, and its step strategy. */
export interface TrainingEngineOptions {
  /** Which engine; default `wasm`. */
  readonly engine?: TrainingEngineName;
  /** wasm: data-parallel replicas on worker threads (1, the default: none). */
  readonly replicas?: number;
  /** Pairs per micro-batch (gradients accumulated, applied once per step); unset: whole steps. */
  readonly microBatch?: number;
  /** native: `auto` (default: cuda when the libtorch has CUDA and sees a GPU), `cpu` or `cuda`. */
  readonly device?: 'auto' | 'cpu' | 'cuda';
  /** native: CPU threads of its kernels (default: every core, up to 8). */
  readonly threads?: number;
  /** native: `fp32` (default) or `bf16` (autocast, CUDA). */
  readonly precision?: NativePrecision;
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
 * @param options - engine and strategy
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
  const engine = options.engine ?? 'wasm';
  switch (engine) {
    case 'wasm':
      return createWasmTrainingEngine(siamese, { replicas: options.replicas, microBatch: options.microBatch });
    case 'native':
      return createNativeTrainingEngine(siamese, options);
    default:
      throw invalidParameterError('engine', `one of ${TRAINING_ENGINES.join(', ')}`, engine);
  }
}
