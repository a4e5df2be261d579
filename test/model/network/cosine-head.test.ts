import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { createBranch } from '../../../src/model/network/branch.js';
import { cosineHeadWeights, createCosineHead, normalizedBranch } from '../../../src/model/network/cosine-head.js';
import { pairLogit, readHeadWeights } from '../../../src/model/network/head.js';
import { exportBranchOnnx, exportHeadOnnx } from '../../../src/model/onnx/onnx-export.js';
import { readHeadWeightsOnnx } from '../../../src/infer/head-onnx.js';
import { createOrtHead, createOrtModel } from '../../../src/infer/ort-session.js';
import { createScoreKernel } from '../../../src/infer/score-kernel.js';
import { WhaleidError } from '../../../src/util/errors.js';
import { randomArray, relError } from '../../helpers/numeric.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** cos(a, b) in float64. */
function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

const unit = (v: Float32Array): Float32Array => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe('cosine head', () => {
  it('its weights give scale * a.b + bias, in plain JS and in the score kernel', () => {
    const F = 24;
    const w = cosineHeadWeights(F, 9.5, -4.25);
    const kernelCols = new Float32Array(3 * F);
    const rows = [0, 1, 2].map((k) => unit(randomArray(F, `col${k}`)));
    rows.forEach((r, k) => kernelCols.set(r, k * F));
    const a = unit(randomArray(F, 'a'));
    const out = new Float32Array(3);
    createScoreKernel(w, kernelCols).scoreRow(a, 0, 3, out);
    rows.forEach((b, k) => {
      const want = 9.5 * cosine(a, b) - 4.25;
      expect(pairLogit(w, a, b)).toBeCloseTo(want, 5);
      expect(out[k]).toBeCloseTo(1 / (1 + Math.exp(-want)), 5);
    });
    // a negative product goes through the second unit: the identity holds on both signs
    const neg = a.map((x) => -x);
    expect(pairLogit(w, a, neg)).toBeCloseTo(-9.5 - 4.25, 4);
  });

  it('refuses a scale that is not positive, or a feature count that is not a positive integer', () => {
    expect(() => cosineHeadWeights(8, 0, 0)).toThrow(WhaleidError);
    expect(() => cosineHeadWeights(8, -1, 0)).toThrow(/scale/);
    expect(() => cosineHeadWeights(0, 1, 0)).toThrow(/features/);
    expect(() => cosineHeadWeights(8, 1, Number.NaN)).toThrow(/bias/);
  });

  it('as a tfjs head and as an exported head.onnx it computes the same probability', async () => {
    const F = 16;
    const n = 5;
    const head = createCosineHead(F, 7, -2);
    try {
      const w = readHeadWeights(head);
      expect(w.mid).toBe(2);
      const a = new Float32Array(n * F);
      const b = new Float32Array(n * F);
      for (let i = 0; i < n; i++) {
        a.set(unit(randomArray(F, `ha${i}`)), i * F);
        b.set(unit(randomArray(F, `hb${i}`)), i * F);
      }
      const want = Array.from({ length: n }, (_, i) => 1 / (1 + Math.exp(-(7 * cosine(a.subarray(i * F, (i + 1) * F), b.subarray(i * F, (i + 1) * F)) - 2))));
      const tfjs = tf.tidy(() => (head.predict([tf.tensor2d(a, [n, F]), tf.tensor2d(b, [n, F])]) as tf.Tensor).dataSync());
      expect(relError(tfjs, want)).toBeLessThan(1e-5);
      const bytes = exportHeadOnnx(head);
      const back = readHeadWeightsOnnx(bytes);
      expect(Array.from(back.w1)).toEqual([1, -1, 0, 0, 0, 0, 0, 0]);
      expect(Array.from(back.w3)).toEqual(new Array(F).fill(7));
      expect(back.b3).toBe(-2);
      const ort = await createOrtHead(bytes);
      try {
        expect(relError(await ort.score(a, b, n), want)).toBeLessThan(1e-5);
      } finally {
        await ort.dispose();
      }
    } finally {
      head.dispose();
    }
  });

  it('the normalised branch gives unit-length features in tfjs and through its ONNX export, shares the weights', async () => {
    const branch = createBranch({ preset: 'tiny', inputSize: 64, seed: 4 });
    const unitBranch = normalizedBranch(branch);
    expect(unitBranch.name).toBe(branch.name);
    expect(unitBranch.countParams()).toBe(branch.countParams());
    const n = 3;
    const photos = randomArray(n * 64 * 64, 'photos', 0, 1);
    const raw = tf.tidy(() => (branch.predict(tf.tensor4d(photos, [n, 64, 64, 1])) as tf.Tensor).dataSync() as Float32Array);
    const normed = tf.tidy(() => (unitBranch.predict(tf.tensor4d(photos, [n, 64, 64, 1])) as tf.Tensor).dataSync() as Float32Array);
    const F = raw.length / n;
    for (let i = 0; i < n; i++) {
      const r = raw.subarray(i * F, (i + 1) * F);
      const norm = Math.hypot(...r);
      expect(norm).toBeGreaterThan(0);
      expect(relError(normed.subarray(i * F, (i + 1) * F), r.map((x) => x / norm))).toBeLessThan(1e-5);
    }
    const session = await createOrtModel(exportBranchOnnx(unitBranch));
    try {
      const got = await session.features(photos, n);
      expect(relError(got, normed)).toBeLessThan(1e-4);
      for (let i = 0; i < n; i++) expect(Math.hypot(...got.subarray(i * F, (i + 1) * F))).toBeCloseTo(1, 5);
    } finally {
      await session.dispose();
    }
    branch.dispose();
  });
});
