import * as tf from '@tensorflow/tfjs';
import { invalidParameterError } from '../util/errors.js';

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
  if (!Number.isSafeInteger(count) || count < 1) throw invalidParameterError('count', 'a positive integer', count);
  const vars = model.trainableWeights.map((w) => (w as unknown as { read(): tf.Variable }).read());
  let acc: tf.NamedTensorMap | null = null; // sum over micro-batches of n_i * gradient_i
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
    // the full batch's gradient: the n-weighted mean of the micro-batches' gradients
    const sum = acc!;
    const mean = tf.tidy(() => Object.fromEntries(Object.entries(sum).map(([k, g]) => [k, tf.div(g, total)])));
    model.optimizer.applyGradients(mean);
    tf.dispose(Object.values(mean));
    return lossSum / total;
  } finally {
    if (acc) tf.dispose(Object.values(acc));
  }
}
