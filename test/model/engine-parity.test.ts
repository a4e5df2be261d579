// The speed work must not change what training computes: the whole Siamese network's gradients on
// our engine (wasm + our Conv2D gradient, Sum/Mean and BatchNorm-gradient kernels) against the
// cpu backend with tfjs's own kernels and gradients, in training mode (batch statistics).
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../src/model/engine.js';
import { createSiamese } from '../../src/model/siamese.js';
import { registerBatchNormGradient, unregisterBatchNormGradient } from '../../src/model/batch-norm-grad.js';
import { randomArray, relError } from '../helpers/numeric.js';

const PAIRS = 6;
const SIZE = 64;

/** Loss gradients of every trainable weight, in the model's weight order, and the loss. */
function gradients(weights: Float32Array[]): { loss: number; grads: Float32Array[] } {
  const s = createSiamese({ preset: 'small', inputSize: SIZE, seed: 1 });
  s.model.setWeights(weights.map((w, i) => tf.tensor(w, s.model.weights[i].shape as number[])));
  const out = tf.tidy(() => {
    const a = tf.tensor4d(randomArray(PAIRS * SIZE * SIZE, 'parity-a', -2, 2), [PAIRS, SIZE, SIZE, 1]);
    const b = tf.tensor4d(randomArray(PAIRS * SIZE * SIZE, 'parity-b', -2, 2), [PAIRS, SIZE, SIZE, 1]);
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

describe('training parity of our engine with tfjs reference kernels', () => {
  afterAll(async () => {
    registerBatchNormGradient();
    await initEngine({ backend: 'wasm' });
  });

  it('gives the Siamese network the same loss and weight gradients as the cpu backend with stock gradients (small preset, batch statistics)', async () => {
    await initEngine({ backend: 'cpu' });
    const seedModel = createSiamese({ preset: 'small', inputSize: SIZE, seed: 1 });
    const weights = seedModel.model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
    seedModel.model.dispose();
    unregisterBatchNormGradient();
    const ref = gradients(weights);
    registerBatchNormGradient();
    await initEngine({ backend: 'wasm' });
    const ours = gradients(weights);
    expect(ours.grads.length).toBe(ref.grads.length);
    expect(ours.grads.length).toBeGreaterThan(20);
    expect(Math.abs(ours.loss - ref.loss)).toBeLessThan(1e-5);
    const errors = ours.grads.map((g, i) => relError(g, ref.grads[i]));
    expect(Math.max(...errors)).toBeLessThan(2e-4); // measured 4.5e-5
    errors.sort((p, q) => p - q);
    console.log(`loss ${ours.loss} vs ${ref.loss}; weight-gradient relative errors: median ${errors[Math.floor(errors.length / 2)].toExponential(2)}, max ${errors.at(-1)!.toExponential(2)} over ${errors.length} weights`);
    expect(errors[Math.floor(errors.length / 2)]).toBeLessThan(5e-5); // measured 2.0e-5
  });
});
