import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../src/model/tfjs/tfjs-backend.js';
import { createSiamese, type Siamese } from '../../../src/model/network/siamese.js';
import { trainOnMicroBatches } from '../../../src/model/tfjs/accumulate.js';
import { createTrainingEngine } from '../../../src/model/training-engines.js';
import type { PairBatch } from '../../../src/model/training-engine.js';
import { randomArray } from '../../helpers/numeric.js';

const S = 64;
const PAIRS = 6;
const settings = { preset: 'tiny' as const, inputSize: S, seed: 7, lr: 1e-3 };

/** Seeded pairs as arrays, the way the trainer's loader hands them over. */
function pairs(step: number): PairBatch {
  const n = PAIRS * S * S;
  return { a: randomArray(n, `a${step}`), b: randomArray(n, `b${step}`), labels: Float32Array.from({ length: PAIRS }, (_, i) => i % 2), count: PAIRS, size: S };
}

/** Loader of pairs [lo, hi) of `batch`. */
function loader(batch: PairBatch): (lo: number, hi: number) => Promise<PairBatch> {
  const px = S * S;
  return (lo, hi) => Promise.resolve({ a: batch.a.slice(lo * px, hi * px), b: batch.b.slice(lo * px, hi * px), labels: batch.labels.slice(lo, hi), count: hi - lo, size: S });
}

function tensors(batch: PairBatch, lo = 0, hi = batch.count): { inputs: tf.Tensor[]; y: tf.Tensor } {
  const shape: [number, number, number, number] = [hi - lo, S, S, 1];
  const px = S * S;
  return { inputs: [tf.tensor4d(batch.a.slice(lo * px, hi * px), shape), tf.tensor4d(batch.b.slice(lo * px, hi * px), shape)], y: tf.tensor2d(batch.labels.slice(lo, hi), [hi - lo, 1]) };
}

/** Values that differ in any bit between two networks' weights (moving averages included). */
function differing(x: Siamese, y: Siamese): number {
  const wy = y.model.getWeights();
  return x.model.getWeights().reduce((n, w, i) => n + Array.from(w.dataSync()).filter((v, j) => !Object.is(v, wy[i].dataSync()[j])).length, 0);
}

describe('the wasm training engine', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
  });

  it('whole steps are trainOnBatch, bit for bit, and report its loss', async () => {
    const [ours, ref] = [createSiamese(settings), createSiamese(settings)];
    const engine = await createTrainingEngine(ours, { engine: 'wasm' });
    expect(engine.info).toMatchObject({ engine: 'wasm', device: 'wasm', threads: 1 });
    for (let step = 0; step < 2; step++) {
      const loss = await engine.step(loader(pairs(step)), PAIRS);
      const { inputs, y } = tensors(pairs(step));
      const refLoss = (await ref.model.trainOnBatch(inputs, y)) as number[];
      tf.dispose([...inputs, y]);
      expect(loss).toBe(refLoss[0]);
    }
    expect(differing(ours, ref)).toBe(0);
    await engine.dispose();
  });

  it('micro-batches are gradient accumulation over pieces loaded one at a time; a step no larger than a piece is a whole step', async () => {
    const [ours, ref] = [createSiamese(settings), createSiamese(settings)];
    const engine = await createTrainingEngine(ours, { microBatch: 4 });
    const asked: [number, number][] = [];
    const batch = pairs(0);
    const load = loader(batch);
    const loss = await engine.step((lo, hi) => (asked.push([lo, hi]), load(lo, hi)), PAIRS);
    expect(asked).toEqual([[0, 4], [4, 6]]);
    const refLoss = await trainOnMicroBatches(ref.model, 2, async (i) => tensors(batch, i * 4, Math.min(PAIRS, (i + 1) * 4)));
    expect(loss).toBe(refLoss);
    expect(differing(ours, ref)).toBe(0);
    asked.length = 0;
    await engine.step((lo, hi) => (asked.push([lo, hi]), loader(pairs(1))(lo, hi)), 4);
    expect(asked).toEqual([[0, 4]]);
    await engine.dispose();
  });

  it('hands its state out and takes it in by tfjs name: an engine given another\'s weights and Adam state continues it exactly; writeTo copies into another network', async () => {
    const first = createSiamese(settings);
    const second = createSiamese({ ...settings, seed: 8 });
    const [a, b] = [await createTrainingEngine(first), await createTrainingEngine(second)];
    await a.step(loader(pairs(0)), PAIRS);
    await b.setWeights(await a.getWeights());
    await b.setOptimizerState(await a.getOptimizerState());
    expect((await b.getOptimizerState()).iterations).toBe(1);
    for (const e of [a, b]) await e.step(loader(pairs(1)), PAIRS);
    expect(differing(first, second)).toBe(0);

    const third = createSiamese({ ...settings, seed: 9 });
    await a.writeTo(third);
    expect(differing(first, third)).toBe(0);
    expect((await createTrainingEngine(third).then((e) => e.getOptimizerState())).iterations).toBe(2);
    a.setLearningRate(5e-4);
    expect((first.model.optimizer as unknown as { learningRate: number }).learningRate).toBe(5e-4);
    await Promise.all([a.dispose(), b.dispose()]);
  });

  it('refuses pair batches whose arrays do not match their count and size, and engines it does not have', async () => {
    const engine = await createTrainingEngine(createSiamese(settings));
    await expect(engine.step(() => Promise.resolve({ ...pairs(0), count: 5 }), 5)).rejects.toThrow(/Expected 20480 values \(5 crops of 64x64\) for PairBatch\.a\/b but received "24576 and 24576 values"/);
    await expect(createTrainingEngine(createSiamese(settings), { engine: 'gpu' as never })).rejects.toThrow(/Expected one of wasm, native for engine but received "gpu"/);
    await expect(createTrainingEngine(createSiamese(settings), { microBatch: 0 })).rejects.toThrow(/Expected a positive integer for microBatch but received 0/);
    await engine.dispose();
  });
});
