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
 */

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

/** Weights by tfjs variable name (e.g. `bn_1/moving_mean`), in tfjs layout (NHWC / HWIO). */
export type NamedArrays = Map<string, { readonly shape: readonly number[]; readonly values: Float32Array }>;

/**
 * Adam's state in tfjs's own terms: its step count and the first/second moments by variable
 * name (the names `Adam.getWeights()` gives, `<variable>/m` and `<variable>/v`).
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
}

/** A live network under training on one engine. */
export interface TrainingEngine {
  /** What runs the steps. */
  readonly info: TrainingEngineInfo;
  /**
   * One optimiser step over `pairs` pairs (binary cross-entropy averaged over the pairs, plus L2
   * on conv kernels; Adam applied once). With `microBatch` < pairs the gradients are accumulated
   * over micro-batches loaded one at a time (each normalised with its own BatchNorm statistics).
   *
   * @param load - loads pairs [lo, hi) of the step
   * @param pairs - pairs in the step
   * @param microBatch - pairs per micro-batch (>= pairs: one piece)
   * @returns the step's mean loss, as `trainOnBatch` reports it
   */
  step(load: (lo: number, hi: number) => Promise<PairBatch>, pairs: number, microBatch: number): Promise<number>;
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
  /** Frees the engine's memory, workers and native handles. */
  dispose(): Promise<void>;
}
