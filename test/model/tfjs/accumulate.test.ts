import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createHead } from '../../../src/model/network/head.js';
import { createSiamese } from '../../../src/model/network/siamese.js';
import { trainOnMicroBatches } from '../../../src/model/tfjs/accumulate.js';
import { createRng } from '../../../src/util/random.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = createRng(seed);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal(0, 1);
  return tf.tensor(data, shape);
}

/** Largest difference between two models' weights (trainable and BatchNorm statistics). */
function weightGap(a: tf.LayersModel, b: tf.LayersModel): number {
  const wa = a.getWeights();
  const wb = b.getWeights();
  expect(wa.length).toBe(wb.length);
  return Math.max(...wa.map((w, i) => tf.tidy(() => tf.max(tf.abs(tf.sub(w, wb[i]))).dataSync()[0])));
}

const labels = (n: number): tf.Tensor => tf.tensor2d(Array.from({ length: n }, (_, i) => i % 2), [n, 1]);

describe('gradient accumulation over micro-batches', () => {
  it('equals one trainOnBatch step of the whole batch for a model without BatchNorm (3 Adam steps)', async () => {
    const make = (): tf.LayersModel => {
      const head = createHead({ features: 24, mid: 6, seed: 3 });
      head.compile({ optimizer: tf.train.adam(1e-2), loss: 'binaryCrossentropy' });
      return head;
    };
    const whole = make();
    const split = make();
    expect(weightGap(whole, split)).toBe(0);
    for (let step = 0; step < 3; step++) {
      const a = randomTensor([10, 24], 10 + step);
      const b = randomTensor([10, 24], 20 + step);
      const y = labels(10);
      const lossWhole = (await whole.trainOnBatch([a, b], y)) as number;
      // micro-batches of 4, 4 and 2 pairs: unequal sizes are weighted by their share
      const cuts = [[0, 4], [4, 8], [8, 10]];
      const lossSplit = await trainOnMicroBatches(split, 3, async (i) => ({ inputs: [a.slice(cuts[i][0], cuts[i][1] - cuts[i][0]), b.slice(cuts[i][0], cuts[i][1] - cuts[i][0])], y: y.slice(cuts[i][0], cuts[i][1] - cuts[i][0]) }));
      expect(lossSplit).toBeCloseTo(lossWhole, 5);
      tf.dispose([a, b, y]);
    }
    expect(weightGap(whole, split)).toBeLessThan(1e-6);
  });

  it('with one micro-batch is trainOnBatch for the Siamese network, BatchNorm statistics and L2 included', async () => {
    const whole = createSiamese({ preset: 'tiny', seed: 5, l2: 2e-4 });
    const split = createSiamese({ preset: 'tiny', seed: 5, l2: 2e-4 });
    const s = whole.config.inputSize;
    const a = randomTensor([6, s, s, 1], 1);
    const b = randomTensor([6, s, s, 1], 2);
    const y = labels(6);
    const lossWhole = (await whole.model.trainOnBatch([a, b], y)) as number[] | number;
    const lossSplit = await trainOnMicroBatches(split.model, 1, async () => ({ inputs: [a.clone(), b.clone()], y: y.clone() }));
    expect(lossSplit).toBeCloseTo(Array.isArray(lossWhole) ? lossWhole[0] : lossWhole, 4);
    expect(weightGap(whole.model, split.model)).toBeLessThan(1e-5);
    tf.dispose([a, b, y]);
  });

  it('frees every micro-batch and gradient tensor', async () => {
    const head = createHead({ features: 8, mid: 2, seed: 1 });
    head.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' });
    await trainOnMicroBatches(head, 1, async () => ({ inputs: [randomTensor([2, 8], 1), randomTensor([2, 8], 2)], y: labels(2) })); // Adam's moments are created on the first step
    const before = tf.memory().numTensors;
    await trainOnMicroBatches(head, 4, async (i) => ({ inputs: [randomTensor([2, 8], i), randomTensor([2, 8], i + 9)], y: labels(2) }));
    expect(tf.memory().numTensors).toBe(before);
  });
});
