// Issue 30, item 2: int8 inference. `whaleid quantize` writes a run's int8 branch (QDQ ONNX,
// calibrated on the run's own training crops) beside the float32 one and in the manifest;
// `--precision int8` serves the run with it. Real training, real photos, the real CLI.
import { describe, it, expect, beforeAll } from 'vitest';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadUsableDataset } from '../../src/data/dataset.js';
import { createImageCache } from '../../src/image/image-cache.js';
import { openRunInference } from '../../src/infer/run-inference.js';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { decodeOnnxModel } from '../../src/model/onnx/onnx-proto.js';
import { startTraining } from '../../src/train/trainer.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';

const dir = tmpDir();
const catalog = path.join(dir, 'catalog');
const cache = path.join(dir, 'cache');
const run = path.join(dir, 'run');
const schedule = { name: 'test', groups: [{ epochs: 1, lr: 64e-5, K: 1000 }, { epochs: 1, lr: 64e-5, K: 1 }] };

/** The error line of a refused command: exit 2, one line, no stack trace. */
function errorLine(r: { code: number; err: string }): string {
  expect(r.code, r.err).toBe(2);
  const lines = r.err.trim().split('\n');
  expect(lines.filter((l) => /^\s+at /.test(l))).toEqual([]);
  return lines.at(-1)!;
}

const predict = (runDir: string, out: string, ...more: string[]) => runCli('predict', '--model', runDir, '--data', catalog, '--out', path.join(dir, out), '--cache', cache, '--quiet', ...more);

describe('int8 inference (whaleid quantize, --precision int8)', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    await copyFixture('synth-12x4-s5', catalog);
    // the small preset: its convs after the stem have 16+ input channels, which are quantized
    await startTraining(run, { data: catalog, inputSize: 64, schedule, batchSize: 16, valShare: 0.25, cacheDir: cache, preset: 'small', seed: 3 });
    cpSync(run, path.join(dir, 'float-only'), { recursive: true });
    const r = await runCli('quantize', '--model', run, '--photos', '24', '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/branch\.int8\.onnx: \d+ int8 convs .*calibrated on 24 training photos.*cosine mean 0\.99\d\d/);
  }, 240_000);

  it('writes a QDQ graph of int8 per-channel weights beside the float32 branch, listed in the manifest', () => {
    const manifest = JSON.parse(readFileSync(path.join(run, 'manifest.json'), 'utf8'));
    expect(Object.keys(manifest.files)).toEqual(expect.arrayContaining(['onnx/branch.onnx', 'onnx/branch.int8.onnx', 'onnx/branch.int8.json']));
    const q = decodeOnnxModel(readFileSync(path.join(run, 'onnx', 'branch.int8.onnx')));
    const ops = new Set(q.graph.node.map((n) => n.opType));
    expect(ops.has('QuantizeLinear') && ops.has('DequantizeLinear')).toBe(true);
    expect(q.graph.initializer.filter((t) => t.dataType === 3).length).toBeGreaterThan(3); // int8 weights
    const summary = JSON.parse(readFileSync(path.join(run, 'onnx', 'branch.int8.json'), 'utf8'));
    expect(summary).toMatchObject({ format: 'whaleid-int8-calibration', photos: 24 });
    for (const [lo, hi] of Object.values(summary.ranges) as [number, number][]) expect(hi).toBeGreaterThanOrEqual(lo);
  });

  it("gives features close to float32's on the run's photos, under another model version", async () => {
    const ds = await loadUsableDataset(catalog, () => {});
    const requests = [...ds.train, ...ds.test].map((p) => ({ file: p.file }));
    const photoCache = createImageCache({ dir: cache });
    const f32 = await openRunInference(run, { onWarning: () => {} });
    const i8 = await openRunInference(run, { precision: 'int8', onWarning: () => {} });
    try {
      const a = await f32.features(photoCache, requests, { size: f32.inputSize });
      const b = await i8.features(photoCache, requests, { size: i8.inputSize });
      const F = f32.featureCount;
      let least = 1;
      for (let i = 0; i < requests.length; i++) {
        let dot = 0, na = 0, nb = 0;
        for (let k = i * F; k < (i + 1) * F; k++) {
          dot += a[k] * b[k];
          na += a[k] * a[k];
          nb += b[k] * b[k];
        }
        least = Math.min(least, dot / Math.sqrt(na * nb));
      }
      expect(least).toBeGreaterThan(0.99);
      // not the float32 graph under another name: quantization changes the values a little
      expect(Math.max(...a.map((v, k) => Math.abs(v - b[k])))).toBeGreaterThan(1e-5);
      expect(i8.modelVersion).not.toBe(f32.modelVersion);
      expect(i8.engine).toMatch(/int8/);
    } finally {
      await f32.dispose();
      await i8.dispose();
    }
  }, 60_000);

  it('predict --precision int8 writes a submission, mostly the float32 one', async () => {
    const [f, q] = [await predict(run, 'f32.csv'), await predict(run, 'int8.csv', '--precision', 'int8')];
    expect(f.code, f.err).toBe(0);
    expect(q.code, q.err).toBe(0);
    const rows = (file: string) => readFileSync(path.join(dir, file), 'utf8').trim().split('\n');
    const [a, b] = [rows('f32.csv'), rows('int8.csv')];
    expect(b.length).toBe(a.length);
    const sameTop = a.filter((line, i) => line.split(',')[1].split(' ')[0] === b[i].split(',')[1].split(' ')[0]).length;
    expect(sameTop / a.length).toBeGreaterThan(0.8);
  }, 60_000);

  it('refuses --precision int8 for a run without an int8 branch, and a bad --precision', async () => {
    expect(errorLine(await predict(path.join(dir, 'float-only'), 'x.csv', '--precision', 'int8'))).toMatch(/--precision int8: .*float-only has no int8 branch .*whaleid quantize --model/);
    expect(errorLine(await predict(run, 'y.csv', '--precision', 'int4'))).toMatch(/--precision/);
  });

  it('refuses an int8 file replaced after quantization, or one the manifest does not list', async () => {
    const replaced = path.join(dir, 'replaced');
    cpSync(run, replaced, { recursive: true });
    const file = path.join(replaced, 'onnx', 'branch.int8.onnx');
    const bytes = readFileSync(file);
    bytes[bytes.length - 5] ^= 0xff; // one weight byte
    writeFileSync(file, bytes);
    expect(errorLine(await predict(replaced, 'z.csv', '--precision', 'int8'))).toMatch(/branch\.int8\.onnx: does not match .*manifest\.json/);

    const unlisted = path.join(dir, 'unlisted');
    cpSync(path.join(dir, 'float-only'), unlisted, { recursive: true });
    cpSync(path.join(run, 'onnx', 'branch.int8.onnx'), path.join(unlisted, 'onnx', 'branch.int8.onnx'));
    expect(errorLine(await predict(unlisted, 'w.csv', '--precision', 'int8'))).toMatch(/branch\.int8\.onnx: not listed in .*manifest\.json/);
    rmSync(unlisted, { recursive: true });
    expect(existsSync(unlisted)).toBe(false);
  });
});
