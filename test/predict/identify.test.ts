import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { identify, type KnownPhoto, type QueryPhoto } from '../../src/predict/identify.js';
import { thresholdForNewShare } from '../../src/infer/threshold.js';
import { createHead, readHeadWeights } from '../../src/model/network/head.js';
import type { CropRequest } from '../../src/image/crop.js';

// Features that depend only on the photo and its augmentation: enough to check the plumbing.
const F = 8;
const featuresOf = async (reqs: readonly CropRequest[]): Promise<Float32Array> => {
  const out = new Float32Array(reqs.length * F);
  reqs.forEach((r, i) => {
    const base = Number(r.file.replace(/\D/g, ''));
    for (let f = 0; f < F; f++) out[i * F + f] = ((base * (f + 3)) % 7) / 7 + (r.augmentation ? r.augmentation.rotation / 100 : 0);
  });
  return out;
};

describe('identify', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const known: KnownPhoto[] = [1, 2, 3, 4].map((k) => ({ image: `k${k}.jpg`, file: `k${k}`, id: `w_${k % 3}` }));
  const queries: QueryPhoto[] = [{ image: 'q1.jpg', file: 'q1' }, { image: 'q2.jpg', file: 'q2', duplicateOf: ['w_2'] }];
  it('answers a duplicate of a known photo with its id first (score 2)', async () => {
    const w = readHeadWeights(createHead({ features: F, mid: 4, seed: 1 }));
    const res = await identify(known, queries, featuresOf, w, { threshold: 0.5 });
    expect(res.predictions[1].ids[0]).toBe('w_2');
    expect(res.top[1].candidates[0]).toMatchObject({ id: 'w_2', score: 2 });
    expect(res.scores).toHaveLength(8);
  });
  it('averages TTA copies deterministically for a seed', async () => {
    const w = readHeadWeights(createHead({ features: F, mid: 4, seed: 1 }));
    const a = await identify(known, queries, featuresOf, w, { threshold: 0.5, tta: 3, seed: 4 });
    const b = await identify(known, queries, featuresOf, w, { threshold: 0.5, tta: 3, seed: 4 });
    const c = await identify(known, queries, featuresOf, w, { threshold: 0.5, tta: 3, seed: 5 });
    const plain = await identify(known, queries, featuresOf, w, { threshold: 0.5 });
    expect(a.scores).toEqual(b.scores);
    expect(a.scores).not.toEqual(c.scores);
    expect(a.scores).not.toEqual(plain.scores);
  });
  it('thresholdForNewShare hits the share of new_whale-first answers', () => {
    // 4 queries x 2 known: best scores 0.1, 0.5, 0.9, 0.95
    const scores = Float32Array.from([0.1, 0.05, 0.5, 0.2, 0.9, 0.3, 0.95, 0.94]);
    const t = thresholdForNewShare(scores, 2, 0.5);
    expect(t).toBeGreaterThan(0.5);
    expect(t).toBeLessThan(0.9);
  });
});
