/**
 * The one place a training engine is chosen: `wasm` (tfjs, always available) or `native`
 * (libtorch through the N-API addon in native/, CPU or CUDA). The trainer asks only for a
 * {@link TrainingEngine}; which one computes its steps is an option of the run.
 */
import { invalidParameterError, WhaleidError } from '../util/errors.js';
import type { Siamese } from './siamese.js';
import type { TrainingEngine } from './training-engine.js';
import { createWasmTrainingEngine } from './wasm-training-engine.js';

/** The engines a run can train on. */
export const TRAINING_ENGINES = ['wasm', 'native'] as const;

/** A training engine's name. */
export type TrainingEngineName = (typeof TRAINING_ENGINES)[number];

/** Options of {@link createTrainingEngine}: which engine, and its step strategy. */
export interface TrainingEngineOptions {
  /** Which engine; default `wasm`. */
  readonly engine?: TrainingEngineName;
  /** wasm: data-parallel replicas on worker threads (1, the default: none). */
  readonly replicas?: number;
  /** Pairs per micro-batch (gradients accumulated, applied once per step); unset: whole steps. */
  readonly microBatch?: number;
  /** native: `cpu` or `cuda` (default: cuda when available). */
  readonly device?: string;
  /** native: CPU threads of its kernels (default: every core). */
  readonly threads?: number;
}

/**
 * Makes the training engine of a run from a Siamese network, with its step strategy fixed once
 * (whole steps, micro-batches or replicas): the trainer never picks a strategy per step.
 *
 * The native engine plugs in below: `case 'native'` imports `./native-training-engine.js`
 * dynamically (so the addon loads only when asked for) and returns
 * `createNativeTrainingEngine(siamese, options)`; it takes the same options (`replicas` > 1 is
 * wasm's way to use cores and may be refused there) and implements {@link TrainingEngine}.
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
      // the native engine's slot (helper `native`): see this function's documentation
      throw new WhaleidError('the native training engine is not built into this version; use the wasm engine');
    default:
      throw invalidParameterError('engine', `one of ${TRAINING_ENGINES.join(', ')}`, engine);
  }
}
