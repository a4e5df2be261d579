import { describe, it, expect, beforeAll } from 'vitest';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createBranch, featureCount, MODEL_PRESETS, type ModelPreset } from '../../../src/model/network/branch.js';
import { createHead } from '../../../src/model/network/head.js';
import { BRANCH_ONNX, exportBranchOnnx, exportHeadOnnx, exportSiameseOnnx, HEAD_ONNX, onnxParameterCount } from '../../../src/model/onnx/onnx-export.js';
import { samePads } from '../../../src/model/network/layer-config.js';
import { decodeOnnxModel } from '../../../src/model/onnx/onnx-proto.js';
import { createOrtModel, createOrtHead } from '../../../src/infer/ort-session.js';
import { createRng } from '../../../src/util/random.js';
import { WhaleidError } from '../../../src/util/errors.js';
import { tmpDir } from '../../helpers/tmp.js';
import { relError } from '../../helpers/numeric.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Seeded normal values. */
function randomData(n: number, seed: number, scale = 1): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal(0, scale);
  return out;
}

/**
 * Gives every BatchNorm non-trivial statistics (some negative gammas, shifted means, variances away
 * from 1) and every conv/dense random biases, so folding and bias handling are really exercised.
 */
function randomizeStats(model: tf.LayersModel, seed: number): void {
  const rng = createRng(seed);
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'BatchNormalization') {
      const n = layer.getWeights()[0].shape[0] as number;
      const gamma = Float32Array.from({ length: n }, () => (rng.chance(0.2) ? -1 : 1) * rng.uniform(0.5, 1.5));
      const beta = Float32Array.from({ length: n }, () => rng.normal(0, 0.3));
      const mean = Float32Array.from({ length: n }, () => rng.normal(0, 0.3));
      const variance = Float32Array.from({ length: n }, () => rng.uniform(0.3, 2));
      layer.setWeights([gamma, beta, mean, variance].map((d) => tf.tensor1d(d)));
    } else if (cls === 'Conv2D' || cls === 'Dense') {
      const [kernel, bias] = layer.getWeights();
      if (bias) layer.setWeights([kernel, tf.tensor1d(randomData(bias.shape[0] as number, rng.int(2 ** 31), 0.2))]);
    }
  }
}

/** Branch features from tfjs (the reference) and from ONNX Runtime on the exported bytes. */
async function branchPair(branch: tf.LayersModel, n: number, seed: number, foldBatchNorm = true) {
  const size = branch.inputs[0].shape[1] as number;
  const photos = randomData(n * size * size, seed);
  const ref = tf.tidy(() => (branch.predict(tf.tensor4d(photos, [n, size, size, 1])) as tf.Tensor).dataSync() as Float32Array);
  const bytes = exportBranchOnnx(branch, { foldBatchNorm });
  const session = await createOrtModel(bytes);
  const got = await session.features(photos, n);
  await session.dispose();
  return { ref, got, bytes };
}

/** Channels of the BatchNorms the exporter folds: each stage's entry BN and each subblock's BN3. */
function foldedChannels(preset: ModelPreset): number {
  let prev = preset.stemFilters;
  let sum = 0;
  for (const s of preset.stages) {
    sum += prev + s.subblocks * s.width;
    prev = s.channels;
  }
  return sum;
}

const SMALL: ModelPreset = {
  name: 'small-test',
  inputSize: 31,
  stemFilters: 6,
  stemKernel: 4,
  stemConvs: 2,
  stages: [
    { channels: 12, width: 6, subblocks: 2 },
    { channels: 16, width: 8, subblocks: 1 },
  ],
  headMid: 8,
};

describe('TF "same" padding', () => {
  it('pads more at the end, as tfjs does, for stride 2 and odd/even sizes and kernels', () => {
    expect(samePads(30, 4, 2)).toEqual([1, 1]);
    expect(samePads(31, 4, 2)).toEqual([1, 2]);
    expect(samePads(32, 5, 2)).toEqual([1, 2]);
    expect(samePads(33, 5, 2)).toEqual([2, 2]);
    expect(samePads(384, 9, 2)).toEqual([3, 4]);
    expect(samePads(96, 3, 1)).toEqual([1, 1]);
    expect(samePads(7, 1, 2)).toEqual([0, 0]);
    expect(samePads(8, 1, 2)).toEqual([0, 0]);
  });
});

describe('branch export: ONNX Runtime matches tfjs', () => {
  it('tiny preset, random BN statistics and biases, folded and unfolded', async () => {
    const branch = createBranch({ preset: 'tiny', seed: 3 });
    randomizeStats(branch, 4);
    const folded = await branchPair(branch, 3, 5);
    expect(folded.got.length).toBe(3 * featureCount(MODEL_PRESETS.tiny));
    expect(relError(folded.got, folded.ref)).toBeLessThan(1e-4);
    expect(onnxParameterCount(folded.bytes)).toBe(branch.countParams() - 4 * foldedChannels(MODEL_PRESETS.tiny));
    const plain = await branchPair(branch, 2, 6, false);
    expect(relError(plain.got, plain.ref)).toBeLessThan(1e-4);
    expect(onnxParameterCount(plain.bytes)).toBe(branch.countParams());
    branch.dispose();
  });

  it('stride-2 stem with even and odd kernels at even and odd input sizes', async () => {
    // At 15, 16 and 30 px the last stage runs at 1x1, where its 1x1 convs (two with a folded BN)
    // are exported as MatMul: that path is checked too.
    for (const [stemKernel, size, pads, matmuls] of [
      [4, 30, [1, 1, 1, 1], 3],
      [4, 31, [1, 1, 2, 2], 0],
      [5, 32, [1, 1, 2, 2], 0],
      [5, 33, [2, 2, 2, 2], 0],
      [4, 15, [1, 1, 2, 2], 3],
      [5, 16, [1, 1, 2, 2], 3],
    ] as const) {
      const preset = { ...SMALL, stemKernel };
      const branch = createBranch({ preset, inputSize: size, seed: size });
      randomizeStats(branch, size + 1);
      const { ref, got, bytes } = await branchPair(branch, 2, size + 2);
      expect(relError(got, ref), `kernel ${stemKernel}, size ${size}`).toBeLessThan(1e-4);
      const graph = decodeOnnxModel(bytes).graph;
      const stem = graph.node.find((n) => n.name === 'stem_conv');
      expect(stem?.attribute.find((a) => a.name === 'pads')?.ints).toEqual(pads);
      expect(graph.node.filter((n) => n.opType === 'MatMul')).toHaveLength(matmuls);
      expect(onnxParameterCount(bytes)).toBe(branch.countParams() - 4 * foldedChannels(preset));
      branch.dispose();
    }
  });

  it('method preset at 63 and 64 px (the full architecture, small inputs)', async () => {
    for (const size of [63, 64]) {
      const branch = createBranch({ preset: 'method', inputSize: size, seed: 7 });
      randomizeStats(branch, 8);
      const { ref, got } = await branchPair(branch, 2, 9);
      expect(got.length).toBe(2 * 512);
      expect(relError(got, ref), `size ${size}`).toBeLessThan(1e-4);
      branch.dispose();
    }
  });

  it('method preset at 384 px: 2,692,096 parameters, 2,683,136 after folding 20 BatchNorms (2,240 channels)', async () => {
    const branch = createBranch({ preset: 'method', inputSize: 384 });
    expect(foldedChannels(MODEL_PRESETS.method)).toBe(2240);
    const bytes = exportBranchOnnx(branch);
    expect(onnxParameterCount(bytes)).toBe(2_692_096 - 4 * 2240);
    expect(onnxParameterCount(exportBranchOnnx(branch, { foldBatchNorm: false }))).toBe(2_692_096);
    const model = decodeOnnxModel(bytes);
    expect(model.opsetImport.map((o) => [o.domain ?? '', o.version])).toEqual([['', 17]]);
    expect(model.graph.node.filter((n) => n.opType === 'BatchNormalization')).toHaveLength(54 - 20);
    expect(model.graph.node.filter((n) => n.opType === 'Conv')).toHaveLength(55);
    expect(model.graph.node.filter((n) => n.opType === 'Transpose')).toHaveLength(0);
    const session = await createOrtModel(bytes);
    expect([session.inputSize, session.channels, session.featureCount]).toEqual([384, 1, 512]);
    const feats = await session.features(randomData(384 * 384, 10), 1);
    expect(feats.length).toBe(512);
    expect(feats.every((v) => Number.isFinite(v) && v >= 0)).toBe(true); // max pool of relu outputs
    await session.dispose();
    branch.dispose();
  });
});

describe('head export: ONNX Runtime matches tfjs', () => {
  it('tiny and method-sized heads with random biases, sigmoid and linear outputs', async () => {
    for (const [features, mid, activation] of [
      [64, 16, 'sigmoid'],
      [512, 32, 'sigmoid'],
      [512, 32, 'linear'],
    ] as const) {
      const head = createHead({ features, mid, activation, seed: features + mid });
      randomizeStats(head, features);
      const n = 33;
      // Branch features are >= 0 (max pool of relu) but the head must be right for any input.
      const a = randomData(n * features, 1, 0.5).map((v, i) => (i % 3 === 0 ? Math.abs(v) : v));
      const b = randomData(n * features, 2, 0.5);
      const ref = tf.tidy(() => (head.predict([tf.tensor2d(a, [n, features]), tf.tensor2d(b, [n, features])]) as tf.Tensor).dataSync());
      const bytes = exportHeadOnnx(head);
      expect(onnxParameterCount(bytes)).toBe(head.countParams());
      // Small chunks: 33 pairs run as 10 + 10 + 10 + 3.
      const session = await createOrtHead(bytes, { chunk: 10 });
      expect(session.featureCount).toBe(features);
      const got = await session.score(a, b, n);
      expect(got.length).toBe(n);
      expect(relError(got, ref), `${features}/${mid}/${activation}`).toBeLessThan(1e-4);
      // Symmetric by construction: swapping the photos gives the same scores.
      expect(relError(await session.score(b, a, n), ref)).toBeLessThan(1e-4);
      await session.dispose();
      head.dispose();
    }
  });
});

describe('files and sessions', () => {
  const dir = tmpDir('whaleid-onnx-');

  it('exportSiameseOnnx writes branch.onnx and head.onnx that load from disk', async () => {
    const branch = createBranch({ preset: 'tiny', seed: 11 });
    const head = createHead({ features: 64, mid: 16, seed: 11 });
    randomizeStats(branch, 12);
    const out = path.join(dir, 'model');
    const files = await exportSiameseOnnx({ branch, head }, out);
    expect(files).toEqual({ branch: path.join(out, BRANCH_ONNX), head: path.join(out, HEAD_ONNX) });
    expect((await fs.readdir(out)).sort()).toEqual([BRANCH_ONNX, HEAD_ONNX]); // no temp files left
    const onnxBranch = await createOrtModel(files.branch, { threads: 1 });
    const onnxHead = await createOrtHead(files.head, { threads: 1 });
    const n = 4;
    const photos = randomData(n * 64 * 64, 13);
    const feats = await onnxBranch.features(photos, n);
    const ref = tf.tidy(() => {
      const f = branch.predict(tf.tensor4d(photos, [n, 64, 64, 1])) as tf.Tensor;
      const pairs = head.predict([f.slice([0, 0], [2, 64]), f.slice([2, 0], [2, 64])]) as tf.Tensor;
      return { f: f.dataSync(), p: pairs.dataSync() };
    });
    expect(relError(feats, ref.f)).toBeLessThan(1e-4);
    // Subarrays (views with an offset) are read correctly.
    const p = await onnxHead.score(feats.subarray(0, 2 * 64), feats.subarray(2 * 64), 2);
    expect(relError(p, ref.p)).toBeLessThan(1e-4);
    // A longer batch is read from its start.
    const longer = new Float32Array(photos.length + 100);
    longer.set(photos);
    expect(relError(await onnxBranch.features(longer, n), ref.f)).toBeLessThan(1e-4);
    await expect(onnxBranch.features(photos, n + 1)).rejects.toThrow(/batch.length/);
    await expect(onnxBranch.features(photos, 0)).rejects.toThrow(WhaleidError);
    await expect(onnxHead.score(feats, feats, 5)).rejects.toThrow(/a.length/);
    await onnxBranch.dispose();
    await onnxHead.dispose();
    branch.dispose();
    head.dispose();
  });

  it('rejects missing files, the wrong kind of model, bad options and unsupported layers', async () => {
    await expect(createOrtModel(path.join(dir, 'nope.onnx'))).rejects.toThrow(/Cannot load ONNX model .*nope\.onnx/);
    const head = createHead({ features: 8, mid: 4 });
    await expect(createOrtModel(exportHeadOnnx(head))).rejects.toThrow(/as a branch/);
    await expect(createOrtHead(exportBranchOnnx(createBranch({ preset: 'tiny' })))).rejects.toThrow(WhaleidError);
    await expect(createOrtHead(exportHeadOnnx(head), { threads: 0 })).rejects.toThrow(/threads/);
    await expect(createOrtHead(exportHeadOnnx(head), { chunk: 1.5 })).rejects.toThrow(/chunk/);
    expect(() => exportBranchOnnx(head)).toThrow(/as a branch/);
    const x = tf.input({ shape: [8, 8, 1] });
    const up = tf.layers.upSampling2d({ size: [2, 2], name: 'up' }).apply(x) as tf.SymbolicTensor;
    const odd = tf.model({ inputs: x, outputs: tf.layers.globalMaxPooling2d({}).apply(up) as tf.SymbolicTensor });
    expect(() => exportBranchOnnx(odd)).toThrow(/layer up \(UpSampling2D\)/);
    head.dispose();
    odd.dispose();
  });
});
