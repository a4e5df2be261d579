import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createHead, readHeadWeights, type HeadWeights } from '../../src/model/network/head.js';
import { scoreAllPairs, scoreAllPairsParallel, scoreQueries, scoreQueriesParallel, scoreQueriesTopK } from '../../src/infer/score-matrix.js';
import { createRng } from '../../src/util/random.js';

/** A head with non-zero biases, so every term of the arithmetic is exercised. */
function randomHead(features: number, mid: number, seed: number): tf.LayersModel {
  const head = createHead({ features, mid, seed });
  for (const layer of head.layers) {
    const ws = layer.getWeights();
    if (ws.length === 2) layer.setWeights([ws[0], tf.randomNormal(ws[1].shape, 0, 0.3, 'float32', seed + 1)]);
  }
  // a wider weighted sum than Glorot's, so probabilities spread over (0, 1) instead of clustering
  const dense = head.getLayer('weighted_average');
  const [k, b] = dense.getWeights();
  dense.setWeights([tf.tidy(() => tf.mul(tf.sub(k, tf.mean(k)), 6)), b]); // zero-sum: no common shift
  return head;
}

/** Branch-like features: relu of normals (many exact zeros, so t = 0 and ties occur). */
function randomFeatures(n: number, F: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n * F }, () => Math.max(0, rng.normal(0.4, 0.6)));
}

/** The tfjs head's probability for every (i, j) pair of n photos, row-major. */
function tfjsAllPairs(head: tf.LayersModel, feats: Float32Array, n: number, F: number): Float32Array {
  const ia: number[] = [];
  const ib: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    ia.push(i);
    ib.push(j);
  }
  return tf.tidy(() => {
    const x = tf.tensor2d(feats, [n, F]);
    return (head.predict([tf.gather(x, ia), tf.gather(x, ib)]) as tf.Tensor).dataSync() as Float32Array;
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k] - b[k]));
  return m;
}

describe('score matrix', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  it('equals the tfjs head on every pair, is symmetric, and block size does not matter', () => {
    const F = 32;
    const n = 13;
    const head = randomHead(F, 8, 3);
    const feats = randomFeatures(n, F, 7);
    const w = readHeadWeights(head);
    const S = scoreAllPairs(feats, n, w, { blockRows: 5 });
    expect(S).toEqual(scoreAllPairs(feats, n, w, { blockRows: 1000 }));
    expect(maxAbsDiff(S, tfjsAllPairs(head, feats, n, F))).toBeLessThan(1e-5);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(S[i * n + j]).toBe(S[j * n + i]);
    const Q = scoreQueries(feats.subarray(0, 3 * F), feats, w);
    for (let q = 0; q < 3; q++) for (let j = 0; j < n; j++) expect(Q[q * n + j]).toBeCloseTo(S[q * n + j], 6);
  });
  it('equals the tfjs head within 1e-5 at the real shape (F 512, mid 32) and with a mid not a multiple of 4', () => {
    for (const [F, mid, n] of [[512, 32, 21], [100, 30, 17]]) {
      const head = randomHead(F, mid, 11 + mid);
      const feats = randomFeatures(n, F, 5 + mid);
      const S = scoreAllPairs(feats, n, readHeadWeights(head));
      const err = maxAbsDiff(S, tfjsAllPairs(head, feats, n, F));
      expect(err).toBeLessThan(1e-5);
      // the head must not be saturated, or the comparison would prove little
      expect(Math.max(...S) - Math.min(...S)).toBeGreaterThan(0.5);
      head.dispose();
    }
  });
  it('on worker threads gives the same matrix bit for bit, for n not a multiple of the block', async () => {
    const F = 64;
    const n = 37;
    const w = readHeadWeights(randomHead(F, 32, 9));
    const feats = randomFeatures(n, F, 13);
    const S = scoreAllPairs(feats, n, w);
    const done: number[] = [];
    const P = await scoreAllPairsParallel(feats, n, w, { threads: 2, blockRows: 5, onProgress: (r) => done.push(r) });
    expect(Array.from(P)).toEqual(Array.from(S));
    expect(done[done.length - 1]).toBe(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(P[i * n + j]).toBe(P[j * n + i]);
    const q = feats.subarray(0, 5 * F);
    expect(Array.from(await scoreQueriesParallel(q, feats, w, { threads: 2, blockRows: 2 }))).toEqual(Array.from(scoreQueries(q, feats, w)));
  });
  it('keeps the top K of each query, best first, ties by index, padding when K exceeds the catalog', async () => {
    const F = 16;
    const w = readHeadWeights(randomHead(F, 8, 21));
    const known = randomFeatures(50, F, 2);
    known.set(known.subarray(0, F), 7 * F); // photo 7 duplicates photo 0: a tie
    const queries = randomFeatures(6, F, 3);
    queries.set(known.subarray(0, F), 0);
    const full = scoreQueries(queries, known, w);
    for (const threads of [1, 2]) {
      const top = await scoreQueriesTopK(queries, known, w, 5, { threads });
      for (let q = 0; q < 6; q++) {
        const row = full.subarray(q * 50, (q + 1) * 50);
        const order = Array.from({ length: 50 }, (_, j) => j).sort((a, b) => row[b] - row[a] || a - b).slice(0, 5);
        expect(Array.from(top.index.subarray(q * 5, q * 5 + 5))).toEqual(order);
        expect(Array.from(top.score.subarray(q * 5, q * 5 + 5))).toEqual(order.map((j) => row[j]));
      }
    }
    const wide = await scoreQueriesTopK(queries.subarray(0, F), known.subarray(0, 3 * F), w, 5, { threads: 1 });
    expect(Array.from(wide.index.subarray(3))).toEqual([-1, -1]);
    expect(Number.isNaN(wide.score[4])).toBe(true);
  });
  it('keeps memory bounded: top-K prediction against 20,000 known photos never holds the 1.6 GB matrix', async () => {
    const F = 512;
    const n = 20000;
    const w = readHeadWeights(randomHead(F, 32, 4));
    const known = randomFeatures(n, F, 6);
    const before = process.resourceUsage().maxRSS * 1024;
    const top = await scoreQueriesTopK(known.subarray(0, 2 * F), known, w, 20, { threads: 2 });
    const grew = process.resourceUsage().maxRSS * 1024 - before;
    const full = scoreQueries(known.subarray(0, 2 * F), known, w);
    for (let q = 0; q < 2; q++) {
      const row = full.subarray(q * n, (q + 1) * n);
      const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => row[b] - row[a] || a - b).slice(0, 20);
      expect(Array.from(top.index.subarray(q * 20, (q + 1) * 20))).toEqual(order);
    }
    // features copied once shared + once per worker (41 MB each) and two worker heaps; n*n floats would be 1.6 GB
    expect(grew).toBeLessThan(400 * 2 ** 20);
  });
  it('refuses features of the wrong length', async () => {
    const w: HeadWeights = readHeadWeights(createHead({ features: 8, mid: 4 }));
    expect(() => scoreAllPairs(new Float32Array(17), 2, w)).toThrow(/features\.length/);
    await expect(scoreAllPairsParallel(new Float32Array(17), 2, w)).rejects.toThrow(/features\.length/);
    await expect(scoreQueriesTopK(new Float32Array(8), new Float32Array(8), w, 0)).rejects.toThrow(/for k/);
  });
});
