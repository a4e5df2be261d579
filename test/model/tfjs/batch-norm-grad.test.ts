// Our FusedBatchNorm gradient against the gradient of the same function written with elementary
// ops (whose gradients are tfjs's own) and against tfjs's stock FusedBatchNorm gradient.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../src/model/tfjs/tfjs-backend.js';
import { batchNormGradientRegistered, registerBatchNormGradient, unregisterBatchNormGradient } from '../../../src/model/tfjs/batch-norm-grad.js';
import { randomArray, relError } from '../../helpers/numeric.js';

const EPS = 1e-3;
const SHAPE: [number, number, number, number] = [3, 5, 4, 6];

/** Inputs: x, then per-channel mean, variance, offset, scale. */
function inputs(): tf.Tensor[] {
  const c = SHAPE[3];
  return [
    tf.tensor4d(randomArray(SHAPE.reduce((p, q) => p * q), 'bn-x', -2, 3), SHAPE),
    tf.tensor1d(randomArray(c, 'bn-mean', 0, 1)),
    tf.tensor1d(randomArray(c, 'bn-var', 0.2, 2)),
    tf.tensor1d(randomArray(c, 'bn-offset')),
    tf.tensor1d(randomArray(c, 'bn-scale', 0.5, 2)),
  ];
}

// A loss that weights every output differently, so each gradient element matters.
const weights = (): tf.Tensor => tf.tensor4d(randomArray(SHAPE.reduce((p, q) => p * q), 'bn-w'), SHAPE);

/** Gradients with respect to the inputs at `which` (default all five). */
function gradsOf(f: (...t: tf.Tensor[]) => tf.Tensor, which = [0, 1, 2, 3, 4]): Float32Array[] {
  return tf.tidy(() => {
    const w = weights();
    const all = inputs();
    const g = tf.grads((...t: tf.Tensor[]) => {
      const args = all.slice();
      which.forEach((k, i) => (args[k] = t[i]));
      return tf.sum(tf.mul(f(...args), w));
    });
    return g(which.map((k) => all[k])).map((t) => t.dataSync() as Float32Array);
  });
}

const fused = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor): tf.Tensor =>
  tf.batchNorm(x as tf.Tensor4D, m as tf.Tensor1D, v as tf.Tensor1D, o as tf.Tensor1D, s as tf.Tensor1D, EPS);
const composed = (x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor): tf.Tensor =>
  tf.add(tf.mul(tf.mul(tf.sub(x, m), tf.rsqrt(tf.add(v, EPS))), s), o);

describe('FusedBatchNorm gradient', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
  });
  afterAll(() => {
    registerBatchNormGradient();
  });

  it('is registered by initEngine', () => {
    expect(batchNormGradientRegistered()).toBe(true);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`equals the elementary ops' gradient for x, mean, variance, offset and scale (${backend})`, async () => {
      await initEngine({ backend });
      const ours = gradsOf(fused);
      const ref = gradsOf(composed);
      ['x', 'mean', 'variance', 'offset', 'scale'].forEach((name, i) => {
        expect(relError(ours[i], ref[i]), name).toBeLessThan(1e-5);
      });
    });
  }

  it('equals the stock gradient, also when mean and variance come from tf.moments (as in layers)', async () => {
    await initEngine({ backend: 'cpu' });
    const viaMoments = (x: tf.Tensor, _m: tf.Tensor, _v: tf.Tensor, o: tf.Tensor, s: tf.Tensor): tf.Tensor => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return fused(x, mean, variance, o, s);
    };
    // mean and variance are not inputs of viaMoments: gradients for x, offset and scale only
    const ours = [gradsOf(fused), gradsOf(viaMoments, [0, 3, 4])];
    unregisterBatchNormGradient();
    expect(batchNormGradientRegistered()).toBe(false);
    const stock = [gradsOf(fused), gradsOf(viaMoments, [0, 3, 4])];
    registerBatchNormGradient();
    for (let k = 0; k < 2; k++) {
      ours[k].forEach((g, i) => expect(relError(g, stock[k][i])).toBeLessThan(1e-5));
    }
    // Through moments the gradient of x is small (normalisation removes mean and scale): it must
    // still be the same function of the weights, not zero.
    expect(Math.max(...ours[1][0].map(Math.abs))).toBeGreaterThan(1e-3);
  });
});
