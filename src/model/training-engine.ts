/**
 * The training engine's public interface: what the trainer asks of whichever engine computes its
 * steps. Two implementations: `wasm` (tfjs on its wasm backend with our kernels, zero
 * dependencies, the reference in parity tests) and `native` (libtorch through our N-API addon,
 * CPU or CUDA).
 *
 * Why the tfjs {@link Siamese} stays the hub: it is the network's one definition (the native
 * engine builds its modules from it) and the owner of the files (model.json + weights.bin,
 * checkpoints, ONNX export). An engine starts from a Siamese's weights, moving averages and Adam
 * state and writes them back ({@link TrainingEngine.writeTo}) before anything reads them, so a
 * native run and a wasm run leave the same files and either can resume the other.
 *
 * How an engine is made and used (src/train/group-loop.ts; TrainOptions.engine picks it):
 * - `createTrainingEngine(siamese, options)` (training-engines.ts; `options.engine` the run's one
 *   resolved EngineSelection) builds one from a Siamese (its
 *   weights, moving averages and Adam state, e.g. just loaded from a checkpoint, with the head
 *   already initialised) and fixes its step strategy (whole steps, micro-batches, replicas) once.
 * - each schedule group: `setLearningRate`, then `step` over the group's batches;
 * - before validation, a checkpoint or the final export: `writeTo(siamese)`;
 * - the L2 rebuild at the kernel schedule's epoch 250: `writeTo(siamese)`, `dispose()`, then
 *   `rebuildSiamese` and a new engine from the rebuilt network (Adam starts afresh, as in Keras).
 *
 * State crosses in tfjs's names and layout ({@link NamedArrays}, {@link OptimizerState});
 * siamese-state.ts reads and writes them on the tfjs side (readSiameseWeights, writeSiameseWeights,
 * readAdamState, restoreAdamState: exact, bit for bit).
 */
import type { Siamese } from './network/siamese.js';

/**
 * A batch (or micro-batch) of training pairs as plain arrays, so an engine needs no tfjs tensors.
 * Crops are NHWC greyscale, `[count, size, size, 1]`, already normalised.
 */
export interface PairBatch {
  /** First photos of the pairs, `count * size * size` values. */
  readonly a: Float32Array;
  /** Second photos of the pairs, same shape. */
  readonly b: Float32Array;
  /** 1 for a matching pair (same individual), 0 otherwise; `count` values. */
  readonly labels: Float32Array;
  /** Pairs in the batch. */
  readonly count: number;
  /** Side of the square crops in pixels. */
  readonly size: number;
}

/**
 * Weights by tfjs layer-scoped name (the weight's `originalName`, as in model.json's manifest,
 * e.g. `s1_bn/moving_mean`, `stem_conv/kernel`), in tfjs layout (NHWC / HWIO).
 */
export type NamedArrays = Map<string, { readonly shape: readonly number[]; readonly values: Float32Array }>;

/**
 * Adam's state in tfjs's own terms: its step count and the first/second moments by weight name,
 * `<originalName>/m` and `<originalName>/v` (tfjs's own `Adam.getWeights()` uses the registered
 * variable names, which gain a `_1` suffix in a process holding two networks). The bias
 * corrections follow from the step count: beta^(steps+1) as a chain of float32 products.
 */
export interface OptimizerState {
  /** Adam steps taken so far (drives bias correction). */
  readonly iterations: number;
  /** Moments by tfjs optimizer weight name. */
  readonly moments: NamedArrays;
}

/** Which engine, on what device, with how many threads. */
export interface TrainingEngineInfo {
  /** `wasm` or `native`. */
  readonly engine: 'wasm' | 'native';
  /** `wasm`, `cpu` or `cuda`. */
  readonly device: string;
  /** CPU threads its kernels use (or replicas for wasm data parallelism). */
  readonly threads: number;
  /** A line for the user, e.g. `native (libtorch 1.13.1, cpu, 2 threads)`. */
  readonly description: string;
  /**
   * Its steps compute off the JS thread (native: libuv's pool), so the trainer loads the next
   * step's crops while one runs; an engine computing on the JS thread would only be slowed by it.
   */
  readonly computesOffThread: boolean;
}

/** A live network under training on one engine. */
export interface TrainingEngine {
  /** What runs the steps. */
  readonly info: TrainingEngineInfo;
  /**
   * One optimiser step over `pairs` pairs (binary cross-entropy averaged over the pairs, plus L2
   * on conv kernels; Adam applied once). The engine's strategy, fixed at creation, decides how:
   * with a micro-batch size below `pairs` the gradients are accumulated over micro-batches loaded
   * one at a time (each normalised with its own BatchNorm statistics).
   *
   * @param load - loads pairs [lo, hi) of the step
   * @param pairs - pairs in the step
   * @returns the step's mean loss, as `trainOnBatch` reports it
   */
  step(load: (lo: number, hi: number) => Promise<PairBatch>, pairs: number): Promise<number>;
  /** Sets Adam's learning rate for the following steps. */
  setLearningRate(lr: number): void;
  /** Trainable weights and BatchNorm moving averages, by tfjs variable name, tfjs layout. */
  getWeights(): Promise<NamedArrays>;
  /** Replaces weights (any subset, by tfjs name, tfjs layout). */
  setWeights(weights: NamedArrays): Promise<void>;
  /** Adam's state in tfjs's terms. */
  getOptimizerState(): Promise<OptimizerState>;
  /** Replaces Adam's state. */
  setOptimizerState(state: OptimizerState): Promise<void>;
  /**
   * Writes the weights, moving averages and Adam state into `siamese` (the network the engine was
   * created from), so what is saved, validated or exported from it is the engine's. An engine
   * that trains the Siamese's own tfjs variables (wasm) has nothing to copy.
   */
  writeTo(siamese: Siamese): Promise<void>;
  /** Frees the engine's memory, workers and native handles (not the Siamese it was created from). */
  dispose(): Promise<void>;
}
