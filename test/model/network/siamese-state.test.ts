import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../src/model/tfjs/tfjs-backend.js';
import { createHead } from '../../../src/model/network/head.js';
import { createSiamese } from '../../../src/model/network/siamese.js';
import { readAdamState, readSiameseWeights, restoreAdamState, writeSiameseWeights } from '../../../src/model/network/siamese-state.js';
import { randomArray } from '../../helpers/numeric.js';

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
});

function compiledHead(seed: number): tf.LayersModel {
  const head = createHead({ features: 8, mid: 4, seed });
  head.compile({ optimizer: tf.train.adam(1e-2), loss: 'binaryCrossentropy' });
  return head;
}

/** One trainOnBatch step on seeded pairs of feature vectors. */
async function headStep(model: tf.LayersModel, seed: number): Promise<void> {
  const [a, b] = [tf.tensor2d(randomArray(48, `a${seed}`), [6, 8]), tf.tensor2d(randomArray(48, `b${seed}`), [6, 8])];
  const y = tf.tensor2d([1, 0, 1, 0, 0, 1], [6, 1]);
  await model.trainOnBatch([a, b], y);
  tf.dispose([a, b, y]);
}

/** Weights (and moving averages) that differ in any bit. */
function differingWeights(x: tf.LayersModel, y: tf.LayersModel): number {
  const wy = y.getWeights();
  return x.getWeights().reduce((n, w, i) => {
    const [p, q] = [Array.from(w.dataSync()), wy[i].dataSync()];
    return n + p.filter((v, j) => !Object.is(v, q[j])).length;
  }, 0);
}

describe('Adam state by weight name, restored exactly', () => {
  it('a copy restored after any number of steps takes the next step bit for bit as the original; tfjs\'s own restore does not', async () => {
    const original = compiledHead(1);
    let tfjsRestoreDiffers = 0;
    for (let k = 1; k <= 20; k++) {
      await headStep(original, k);
      const ours = compiledHead(2);
      const theirs = compiledHead(2);
      for (const copy of [ours, theirs]) copy.setWeights(original.getWeights());
      await restoreAdamState(ours, await readAdamState(original));
      await theirs.optimizer.setWeights(await original.optimizer.getWeights());
      const steps = (await readAdamState(original)).iterations; // 1, 3, 5, ... (each probe step counts too)
      expect((await readAdamState(ours)).iterations).toBe(steps);
      for (const m of [original, ours, theirs]) await headStep(m, 100 + k);
      expect(differingWeights(ours, original), `restored after ${steps} steps`).toBe(0);
      if (differingWeights(theirs, original) > 0) tfjsRestoreDiffers++;
      for (const m of [ours, theirs]) m.dispose();
    }
    // pow(beta, t + 1) and the chain of float32 products part at several of these step counts
    expect(tfjsRestoreDiffers).toBeGreaterThan(0);
  });

  it('round-trips a Siamese network\'s weights, moving averages and moments by layer-scoped name, across networks whose tfjs variable names differ', async () => {
    const a = createSiamese({ preset: 'tiny', inputSize: 64, seed: 4 });
    const b = createSiamese({ preset: 'tiny', inputSize: 64, seed: 5 });
    expect((b.model.weights[0].read() as tf.Variable).name).not.toBe((a.model.weights[0].read() as tf.Variable).name);
    const x = [tf.randomNormal([4, 64, 64, 1], 0, 1, 'float32', 1), tf.randomNormal([4, 64, 64, 1], 0, 1, 'float32', 2)];
    const y = tf.tensor2d([1, 0, 1, 0], [4, 1]);
    await a.model.trainOnBatch(x, y);
    const weights = readSiameseWeights(a);
    expect(weights.size).toBe(a.model.weights.length);
    expect([...weights.keys()]).toContain('stem_bn1/moving_mean');
    const adam = await readAdamState(a.model);
    expect(adam.iterations).toBe(1);
    expect(adam.moments.size).toBe(2 * a.model.trainableWeights.length);
    expect([...adam.moments.keys()]).toContain('stem_conv/kernel/m');
    writeSiameseWeights(b, weights);
    await restoreAdamState(b.model, adam);
    expect(differingWeights(a.model, b.model)).toBe(0);
    await a.model.trainOnBatch(x, y);
    await b.model.trainOnBatch(x, y);
    expect(differingWeights(a.model, b.model)).toBe(0);
    tf.dispose([...x, y]);
    a.model.dispose();
    b.model.dispose();
  });

  it('refuses unknown or misshapen weights and incomplete moments, naming them', async () => {
    const s = createSiamese({ preset: 'tiny', inputSize: 64, seed: 4 });
    const one = (shape: number[]): { shape: number[]; values: Float32Array } => ({ shape, values: new Float32Array(shape.reduce((p, q) => p * q, 1)) });
    expect(() => writeSiameseWeights(s, new Map([['nope/kernel', one([1])]]))).toThrow(/weight nope\/kernel: the network has no weight of that name/);
    expect(() => writeSiameseWeights(s, new Map([['stem_conv/bias', one([3])]]))).toThrow(/weight stem_conv\/bias: expected shape \[\d+\]/);
    await expect(restoreAdamState(s.model, { iterations: 3, moments: new Map([['stem_conv/bias/m', one([1])]]) })).rejects.toThrow(/Adam state: no moment stem_conv\/kernel\/m/);
    await expect(restoreAdamState(s.model, { iterations: -1, moments: new Map() })).rejects.toThrow(/non-negative integer step count/);
    s.model.dispose();
  });
});
