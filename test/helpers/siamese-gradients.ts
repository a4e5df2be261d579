// The loss and every weight gradient of a small Siamese network on a fixed batch, in training
// mode (BatchNorm on batch statistics): the quantity our engines must compute exactly like the
// reference backend, whatever kernels, threads or library they use.
import * as tf from '@tensorflow/tfjs';
import { createSiamese, type ModelPresetName } from '../../src/model/network/siamese.js';
import { randomArray } from './numeric.js';

export const PARITY_SIZE = 64;
export const PARITY_PAIRS = 6;

/** The network of a parity check: a preset (default `small`), an L2 factor (default 0), pairs (default 6). */
export interface ParityNetwork {
  preset?: ModelPresetName;
  l2?: number;
  pairs?: number;
}

/** The parity network itself (seed 1, 64 px), on the current backend; the caller disposes it. */
export function parityModel(net: ParityNetwork = {}): ReturnType<typeof createSiamese> {
  return createSiamese({ preset: net.preset ?? 'small', inputSize: PARITY_SIZE, seed: 1, l2: net.l2 ?? 0 });
}

/** The fixed batch (`pairs` pairs, default 6): NHWC photos in [-2, 2) and alternating labels, as arrays. */
export function parityBatch(pairs = PARITY_PAIRS): { a: Float32Array; b: Float32Array; labels: Float32Array; count: number; size: number } {
  const n = pairs * PARITY_SIZE * PARITY_SIZE;
  return {
    a: randomArray(n, 'parity-a', -2, 2),
    b: randomArray(n, 'parity-b', -2, 2),
    labels: Float32Array.from({ length: pairs }, (_, i) => i % 2),
    count: pairs,
    size: PARITY_SIZE,
  };
}

/** The network's initial weights (seed 1), as arrays in `model.weights` order, on the current backend. */
export function parityWeights(net: ParityNetwork = {}): Float32Array[] {
  const s = parityModel(net);
  const w = s.model.getWeights().map((t) => t.dataSync().slice() as Float32Array);
  s.model.dispose();
  return w;
}

/**
 * Loss (cross-entropy plus the L2 penalties) and gradients of every trainable weight (model
 * order, named by `names`) for `weights`, on the current backend; `after`: every weight (model
 * order) after the forward pass, i.e. with the BatchNorm moving averages updated.
 */
export function parityGradients(weights: Float32Array[], net: ParityNetwork = {}): { loss: number; grads: Float32Array[]; names: string[]; after: Map<string, Float32Array> } {
  const s = parityModel(net);
  s.model.setWeights(weights.map((w, i) => tf.tensor(w, s.model.weights[i].shape as number[])));
  const { a, b, labels, count, size } = parityBatch(net.pairs);
  const out = tf.tidy(() => {
    const xa = tf.tensor4d(a, [count, size, size, 1]);
    const xb = tf.tensor4d(b, [count, size, size, 1]);
    const y = tf.tensor2d(labels, [count, 1]);
    const { value, grads } = tf.variableGrads(() => {
      const p = s.model.apply([xa, xb], { training: true }) as tf.Tensor;
      const bce = tf.metrics.binaryCrossentropy(y, p).mean() as tf.Scalar;
      const penalties = s.model.calculateLosses();
      return penalties.length ? (tf.addN([bce, ...penalties]) as tf.Scalar) : bce;
    });
    const byName = new Map(Object.entries(grads).map(([k, g]) => [k, g.dataSync() as Float32Array]));
    return {
      loss: value.dataSync()[0],
      grads: s.model.trainableWeights.map((w) => byName.get((w.read() as tf.Variable).name) ?? byName.get(w.name)!),
      names: s.model.trainableWeights.map((w) => w.originalName),
    };
  });
  const after = new Map(s.model.weights.map((w) => [w.originalName, w.read().dataSync().slice() as Float32Array]));
  s.model.dispose();
  return { ...out, after };
}
