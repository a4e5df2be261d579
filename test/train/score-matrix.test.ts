import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createHead, readHeadWeights } from '../../src/model/head.js';
import { scoreAllPairs, scoreQueries } from '../../src/train/score-matrix.js';
import { createRng } from '../../src/util/random.js';

describe('score matrix', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  it('equals the tfjs head on every pair, is symmetric, and block size does not matter', async () => {
    const F = 32;
    const n = 13;
    const head = createHead({ features: F, mid: 8, seed: 3 });
    // non-zero biases so every term of the head is exercised
    for (const layer of head.layers) {
      const ws = layer.getWeights();
      if (ws.length === 2) layer.setWeights([ws[0], tf.randomNormal(ws[1].shape, 0, 0.3, 'float32', 4)]);
    }
    const rng = createRng(7);
    const feats = Float32Array.from({ length: n * F }, () => Math.max(0, rng.normal(0.5, 0.6)));
    const w = readHeadWeights(head);
    const S = scoreAllPairs(feats, n, w, { blockRows: 5 });
    const S1 = scoreAllPairs(feats, n, w, { blockRows: 1000 });
    expect(S).toEqual(S1);
    const ia: number[] = [];
    const ib: number[] = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      ia.push(i);
      ib.push(j);
    }
    const x = tf.tensor2d(feats, [n, F]);
    const ref = (head.predict([tf.gather(x, ia), tf.gather(x, ib)]) as tf.Tensor).dataSync();
    let maxErr = 0;
    for (let k = 0; k < n * n; k++) maxErr = Math.max(maxErr, Math.abs(S[k] - ref[k]));
    expect(maxErr).toBeLessThan(1e-5);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(S[i * n + j]).toBe(S[j * n + i]);
    const Q = scoreQueries(feats.subarray(0, 3 * F), feats, w);
    for (let q = 0; q < 3; q++) for (let j = 0; j < n; j++) expect(Q[q * n + j]).toBeCloseTo(S[q * n + j], 6);
  });
  it('refuses features of the wrong length', () => {
    const w = readHeadWeights(createHead({ features: 8, mid: 4 }));
    expect(() => scoreAllPairs(new Float32Array(17), 2, w)).toThrow(/features\.length/);
  });
});
