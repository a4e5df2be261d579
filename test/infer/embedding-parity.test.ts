/**
 * Imported embedding models of the three families users bring (a ResNet, a small ViT, an
 * EfficientNet-style net), exported by PyTorch (scripts/embedding-models.py), give through
 * whaleid (model import, its preprocessing, ONNX Runtime) the embeddings PyTorch gives for the
 * same input tensors, to 1e-4 relative, on real photos.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { embeddingInputBuffer, type EmbeddingRequest } from '../../src/image/embedding-input.js';
import { openEmbeddingSession } from '../../src/infer/embedding-model.js';
import { importOnnxModel } from '../../src/infer/model-import.js';
import { openRunInference } from '../../src/infer/run-inference.js';
import { createImageCache } from '../../src/image/image-cache.js';
import { scenePhoto } from '../helpers/photos.js';
import { SHARED_DATASETS, tmpDir } from '../helpers/tmp.js';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/embedding-models.py');

/** The first python3 that imports torch (Debian's python3-torch is in /usr/bin's), or why none. */
function findTorchPython(): { python: string; missing: '' } | { python: ''; missing: string } {
  for (const python of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return { python, missing: '' };
  }
  return { python: '', missing: 'no python3 with torch (Debian: apt-get install python3-torch)' };
}

const torch = findTorchPython();
if (torch.missing) console.warn(`skipping the PyTorch parity of imported embedding models: ${torch.missing}`);

/** Real photos from ../shared/datasets when there (nyala photos, humpback flukes), else scene photos. */
async function photos(dir: string): Promise<{ requests: EmbeddingRequest[]; real: boolean }> {
  const nyala = path.join(SHARED_DATASETS, 'nyala-train', 'train');
  if (existsSync(nyala)) {
    const files = readdirSync(nyala).sort().slice(0, 4).flatMap((ind) => readdirSync(path.join(nyala, ind)).sort().slice(0, 1).map((f) => path.join(nyala, ind, f)));
    // one with a box and one turned, so the box cut and the turn are in the tensors compared
    return { requests: files.map((file, i) => ({ file, box: i === 1 ? { x0: 40, y0: 30, x1: 300, y1: 200 } : undefined, rotate180: i === 2 })), real: true };
  }
  console.warn(`no real photos in ${nyala}: the parity is checked on drawn scene photos`);
  const requests: EmbeddingRequest[] = [];
  for (let i = 0; i < 4; i++) {
    const file = path.join(dir, `scene${i}.jpg`);
    writeFileSync(file, await scenePhoto(100 + i, 320 + 40 * i, 200));
    requests.push({ file, box: i === 1 ? { x0: 20, y0: 10, x1: 200, y1: 150 } : undefined, rotate180: i === 2 });
  }
  return { requests, real: false };
}

describe.skipIf(torch.missing !== '')('imported embedding models: parity with PyTorch', () => {
  const dir = tmpDir('whaleid-embedding-parity-');
  const results = new Map<string, { whaleid: Float32Array; raw: Float32Array; torch: Float32Array; count: number }>();
  const names = ['resnet', 'vit', 'effnet'];

  beforeAll(async () => {
    execFileSync(torch.python, [SCRIPT, 'export', dir], { stdio: 'inherit' });
    const info = JSON.parse(readFileSync(path.join(dir, 'models.json'), 'utf8')) as Record<string, { inputSize: number; mean: number[]; std: number[]; channels: 'rgb' | 'bgr'; resize: 'squash' | 'crop' | 'pad' }>;
    const { requests } = await photos(dir);
    const ours = new Map<string, { whaleid: Float32Array; raw: Float32Array }>();
    for (const name of names) {
      const { inputSize, mean, std, channels, resize } = info[name];
      const model = path.join(dir, `model-${name}`);
      const imported = await importOnnxModel({ onnx: path.join(dir, `${name}.onnx`), out: model, preprocessing: { mean, std, channels, resize, margin: 0.05 }, threads: 1 });
      expect(imported.preprocessing.inputSize).toBe(inputSize); // read from the network's input
      // whaleid's own input tensors are what PyTorch is given
      const input = await embeddingInputBuffer(requests, imported.preprocessing);
      writeFileSync(path.join(dir, `${name}.input.f32`), Buffer.from(input.buffer, input.byteOffset, input.byteLength));
      writeFileSync(path.join(dir, `${name}.input.json`), JSON.stringify({ count: requests.length }));
      const net = await openEmbeddingSession(path.join(model, 'embedding.onnx'), imported.preprocessing, name, { threads: 1 });
      const raw = await net.embed(input, requests.length, true);
      await net.dispose();
      // and through the run interface every --model user goes through
      const run = await openRunInference(model, { threads: 1, onWarning: () => {} });
      const whaleid = await run.features(createImageCache(), requests, { size: run.inputSize });
      await run.dispose();
      ours.set(name, { whaleid, raw });
    }
    execFileSync(torch.python, [SCRIPT, 'embed', dir], { stdio: 'inherit' });
    for (const name of names) {
      const bytes = readFileSync(path.join(dir, `${name}.torch.f32`));
      const t = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      results.set(name, { ...ours.get(name)!, torch: t, count: requests.length });
    }
  }, 120_000);

  /** Largest |a - b| over a photo's embedding, relative to the norm of PyTorch's. */
  const relativeErrors = (ours: Float32Array, theirs: Float32Array, count: number): number[] => {
    const D = theirs.length / count;
    return Array.from({ length: count }, (_, i) => {
      let diff = 0;
      let norm = 0;
      for (let d = 0; d < D; d++) {
        diff = Math.max(diff, Math.abs(ours[i * D + d] - theirs[i * D + d]));
        norm += theirs[i * D + d] ** 2;
      }
      return diff / Math.sqrt(norm);
    });
  };

  for (const name of names) {
    it(`${name}: whaleid's embeddings equal PyTorch's to 1e-4 relative`, () => {
      const r = results.get(name)!;
      expect(r.torch.length).toBe(r.count * 64);
      const raw = relativeErrors(r.raw, r.torch, r.count);
      // whaleid's features are the unit-length embeddings: PyTorch's scaled the same way
      const unitTorch = Float32Array.from(r.torch);
      for (let i = 0; i < r.count; i++) {
        const row = unitTorch.subarray(i * 64, (i + 1) * 64);
        const n = Math.hypot(...row);
        for (let d = 0; d < 64; d++) row[d] /= n;
      }
      const unit = relativeErrors(r.whaleid, unitTorch, r.count);
      console.log(`${name}: max relative error ${Math.max(...raw).toExponential(2)} (raw), ${Math.max(...unit).toExponential(2)} (unit features)`);
      expect(Math.max(...raw)).toBeLessThan(1e-4);
      expect(Math.max(...unit)).toBeLessThan(1e-4);
      // not a vacuous comparison: the photos give different embeddings
      expect(Math.max(...relativeErrors(r.whaleid.subarray(0, 64), unitTorch.subarray(64, 128), 1))).toBeGreaterThan(1e-2);
    });
  }
});
