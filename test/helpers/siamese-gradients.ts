// The loss and every weight gradient of a small Siamese network on a fixed batch, in training
// mode (BatchNorm on batch statistics): the quantity our engine must compute exactly like the
// reference backend, whatever kernels or threads it uses.
import * as tf from '@tensorflow/tfjs';
import { createSiamese } from '../../src/model/siamese.js';
import { randomArray } from './numeric.js';

export const PARITY_SIZE = 64;
const PAIRS = 6;

/** The small preset's initial weights (seed 1), as arrays, on the current backend. */
export function parityWeights(): Float32Array[] {
  const s = createSiamese({ preset: 'small', inputSize: PARITY_SIZE, seed: 1 });
  const w = s.model.getWeights().map((t) => t.dataSync().slice() as Float32Array);
  s.model.dispose();
  return w;
}

/** Loss and gradients of every trainable weight (model order) for `weights`, on the current backend. */
export function parityGradients(weights: Float32Array[]): { loss: number; grads: Float32Array[] } {
  const s = createSiamese({ preset: 'small', inputSize: PARITY_SIZE, seed: 1 });
  s.model.setWeights(weights.map((w, i) => tf.tensor(w, s.model.weights[i].shape as number[])));
  const out = tf.tidy(() => {
    const a = tf.tensor4d(randomArray(PAIRS * PARITY_SIZE * PARITY_SIZE, 'parity-a', -2, 2), [PAIRS, PARITY_SIZE, PARITY_SIZE, 1]);
    const b = tf.tensor4d(randomArray(PAIRS * PARITY_SIZE * PARITY_SIZE, 'parity-b', -2, 2), [PAIRS, PARITY_SIZE, PARITY_SIZE, 1]);
    const y = tf.tensor2d(Array.from({ length: PAIRS }, (_, i) => i % 2), [PAIRS, 1]);
    const { value, grads } = tf.variableGrads(() => {
      const p = s.model.apply([a, b], { training: true }) as tf.Tensor;
      return tf.metrics.binaryCrossentropy(y, p).mean() as tf.Scalar;
    });
    const byName = new Map(Object.entries(grads).map(([k, g]) => [k, g.dataSync() as Float32Array]));
    return { loss: value.dataSync()[0], grads: s.model.trainableWeights.map((w) => byName.get((w.read() as tf.Variable).name) ?? byName.get(w.name)!) };
  });
  s.model.dispose();
  return out;
}
