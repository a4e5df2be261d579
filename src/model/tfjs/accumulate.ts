import * as tf from '@tensorflow/tfjs';
import { invalidParameterError } from '../../util/errors.js';

/** One micro-batch: the model's inputs and the targets. */
export interface MicroBatch {
  inputs: tf.Tensor[];
  y: tf.Tensor;
}

/**
 * One optimiser step over a batch split into micro-batches, loaded one at a time: gradients of
 * each micro-batch are accumulated (weighted by its share of the batch) and applied once. Memory
 * is that of one micro-batch, so the method's 512 px model with 32 pairs per step fits the wasm
 * backend's 4 GB (16 micro-batches of 2 pairs).
 *
 * The step is the one `trainOnBatch` takes (binary cross-entropy averaged over the batch, plus
 * the layers' regularisation penalties, Adam applied once), and equals it exactly for a model
 * without BatchNorm. BatchNorm normalises each micro-batch with that micro-batch's statistics and
 * updates its moving averages once per micro-batch (as data-parallel training without synchronised
 * BatchNorm does); with one micro-batch the step is `trainOnBatch`'s step.
 *
 * @param model - a compiled pair model (its optimiser, loss binary cross-entropy)
 * @param count - number of micro-batches
 * @param load - loads micro-batch i (its tensors are disposed here after use)
 * @returns the batch's mean loss (cross-entropy + penalties), as trainOnBatch reports it
 * @throws {@link WhaleidError} when count is not a positive integer
 * @example
 * const loss = await trainOnMicroBatches(siamese.model, 16, async (i) => loadPairs(i));
 */
export async function trainOnMicroBatches(model: tf.LayersModel, count: number, load: (i: number) => Promise<MicroBatch>): Promise<number> {
  const sums = await accumulateGradients(model, count, load);
  try {
    applyGradientSums(model, [sums]);
    return sums.lossSum / sums.total;
  } finally {
    tf.dispose(Object.values(sums.grads));
  }
}

/** Gradients summed over micro-batches, each weighted by its pair count. */
export interface GradientSums {
  /** Per trainable variable (by name): the sum over micro-batches of n_i * gradient_i. */
  grads: tf.NamedTensorMap;
  /** Sum over micro-batches of n_i * loss_i. */
  lossSum: number;
  /** Pairs in all micro-batches. */
  total: number;
}

/**
 * The gradient work of {@link trainOnMicroBatches} without the optimiser step: micro-batches
 * loaded one at a time, their gradients weighted by size and summed (BatchNorm's moving averages
 * are updated as the forward passes run). Data-parallel replicas each run this on their share.
 *
 * @param model - a pair model (its loss binary cross-entropy, plus the layers' penalties)
 * @param count - number of micro-batches
 * @param load - loads micro-batch i (its tensors are disposed here after use)
 * @returns the summed gradients (the caller disposes them), loss sum and pair count
 * @throws {@link WhaleidError} when count is not a positive integer
 * @example
 * const { grads, total } = await accumulateGradients(model, 2, load);
 */
export async function accumulateGradients(model: tf.LayersModel, count: number, load: (i: number) => Promise<MicroBatch>): Promise<GradientSums> {
  if (!Number.isSafeInteger(count) || count < 1) throw invalidParameterError('count', 'a positive integer', count);
  const vars = model.trainableWeights.map((w) => (w as unknown as { read(): tf.Variable }).read());
  let acc: tf.NamedTensorMap | null = null;
  let lossSum = 0;
  let total = 0;
  try {
    for (let i = 0; i < count; i++) {
      const mb = await load(i);
      try {
        const n = mb.y.shape[0];
        const { value, grads } = tf.variableGrads(() => tf.tidy(() => {
          const pred = model.apply(mb.inputs, { training: true }) as tf.Tensor;
          const bce = tf.mean(tf.metrics.binaryCrossentropy(mb.y, pred)) as tf.Scalar;
          const penalties = model.calculateLosses();
          return penalties.length ? (tf.addN([bce, ...penalties]) as tf.Scalar) : bce;
        }), vars);
        lossSum += (await value.data())[0] * n;
        total += n;
        const prev: tf.NamedTensorMap | null = acc;
        acc = tf.tidy(() => Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, prev ? tf.add(prev[k], tf.mul(g, n)) : tf.mul(g, n)])));
        tf.dispose([value, ...Object.values(grads), ...(prev ? Object.values(prev) : [])]);
      } finally {
        tf.dispose([...mb.inputs, mb.y]);
      }
    }
    const grads = acc!;
    acc = null;
    return { grads, lossSum, total };
  } finally {
    if (acc) tf.dispose(Object.values(acc));
  }
}

/**
 * One optimiser step with the full batch's gradient: the pair-weighted mean of several
 * {@link GradientSums} (micro-batches, or replicas' shares).
 *
 * @param model - the compiled model whose optimiser takes the step
 * @param parts - gradient sums over disjoint parts of the batch (same variable names)
 * @example
 * applyGradientSums(model, [mine, fromWorker]);
 */
export function applyGradientSums(model: tf.LayersModel, parts: readonly GradientSums[]): void {
  const total = parts.reduce((s, p) => s + p.total, 0);
  const mean = tf.tidy(() => Object.fromEntries(Object.keys(parts[0].grads).map((k) => [k, tf.div(parts.length === 1 ? parts[0].grads[k] : tf.addN(parts.map((p) => p.grads[k])), total)])));
  model.optimizer.applyGradients(mean);
  tf.dispose(Object.values(mean));
}
