import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../src/model/tfjs/tfjs-backend.js';
import { createSiamese } from '../../../src/model/network/siamese.js';
import { trainOnMicroBatches } from '../../../src/model/tfjs/accumulate.js';
import { createReplicaPool, type ReplicaPool } from '../../../src/model/tfjs/replicas.js';
import { relError } from '../../helpers/numeric.js';

const config = { preset: 'tiny' as const, inputSize: 64, seed: 9, lr: 1e-3 };
const pairs = 8;

function batch(): { inputs: tf.Tensor[]; y: tf.Tensor } {
  return {
    inputs: [tf.randomNormal([pairs, 64, 64, 1], 0, 1, 'float32', 1), tf.randomNormal([pairs, 64, 64, 1], 0, 1, 'float32', 2)],
    y: tf.tensor2d(Array.from({ length: pairs }, (_, i) => i % 2), [pairs, 1]),
  };
}

const half = (t: tf.Tensor, k: number): tf.Tensor => tf.slice(t, k * (pairs / 2), pairs / 2);

describe('data-parallel replicas', () => {
  let pool: ReplicaPool;
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    pool = await createReplicaPool(2, createSiamese(config).config);
  });
  afterAll(async () => {
    await pool.close();
  });

  it('a step of 2 replicas (this thread + a worker) gives the weights of the same 2 halves trained as micro-batches, and averages the BatchNorm moving statistics', async () => {
    const parallel = createSiamese(config);
    const serial = createSiamese(config);
    const start = parallel.model.getWeights().map((w) => w.clone());
    const b = batch();
    const lossP = await pool.step(parallel.model, b);
    const lossS = await trainOnMicroBatches(serial.model, 2, async (k) => ({ inputs: b.inputs.map((t) => half(t, k)), y: half(b.y, k) }));
    expect(Math.abs(lossP - lossS)).toBeLessThan(1e-6);

    const trainedP = parallel.model.trainableWeights.map((w) => w.read().dataSync());
    const trainedS = serial.model.trainableWeights.map((w) => w.read().dataSync());
    const before = parallel.model.trainableWeights.map((w) => start[parallel.model.weights.indexOf(w)].dataSync());
    expect(Math.min(...trainedP.map((w, k) => relError(w, before[k])))).toBeGreaterThan(0); // every weight took a step
    const errors = trainedP.map((w, k) => relError(w, trainedS[k]));
    expect(Math.max(...errors)).toBeLessThan(1e-4);

    // moving averages: the mean of each half's update from the same start
    const ref = createSiamese(config);
    const after = [0, 1].map((k) => {
      ref.model.setWeights(start);
      tf.tidy(() => {
        ref.model.apply(b.inputs.map((t) => half(t, k)), { training: true });
      });
      return ref.model.nonTrainableWeights.map((w) => w.read().dataSync().slice());
    });
    const stats = parallel.model.nonTrainableWeights;
    expect(stats.length).toBeGreaterThan(0);
    stats.forEach((w, i) => {
      const expected = after[0][i].map((v, j) => (v + after[1][i][j]) / 2);
      expect(relError(w.read().dataSync(), expected)).toBeLessThan(1e-5);
    });
    // (the sequential updates of micro-batch training differ)
    expect(Math.max(...stats.map((w, i) => relError(w.read().dataSync(), serial.model.nonTrainableWeights[i].read().dataSync())))).toBeGreaterThan(1e-4);
    tf.dispose([...b.inputs, b.y, ...start]);
  });

  it('rejects a bad replica count', async () => {
    await expect(createReplicaPool(0, createSiamese(config).config)).rejects.toThrow(/Expected a positive integer for replicas but received 0/);
  });
});
