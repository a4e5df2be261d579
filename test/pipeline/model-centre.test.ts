/**
 * `whaleid model calibrate --centre data|none`: an imported model's feature centre (centred
 * cosine) is the mean of its unit-length embeddings of the calibration photos; every later user of
 * the model (predict, serve, workers through openRunInference) subtracts it and scales to unit
 * length again, the model version that keys stored features changes with it, and the manifest
 * covers it.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { openEmbeddingInference } from '../../src/infer/embedding-model.js';
import { centreInPlace, meanFeature } from '../../src/infer/feature-centre.js';
import { createImageCache } from '../../src/image/image-cache.js';
import type { CropRequest } from '../../src/image/crop.js';
import { runCli } from '../helpers/cli.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';

const RESNET = path.resolve(import.meta.dirname, '../fixtures/embedding-models/resnet.onnx');

/** Mean cosine between photos of different individuals (rows of unit features). */
function meanOtherCosine(x: Float32Array, D: number, ids: number[]): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < ids.length; i++) {
    for (let j = 0; j < ids.length; j++) {
      if (ids[i] === ids[j]) continue;
      let c = 0;
      for (let d = 0; d < D; d++) c += x[i * D + d] * x[j * D + d];
      sum += c;
      n++;
    }
  }
  return sum / n;
}

describe('model calibrate --centre', () => {
  const dir = tmpDir('whaleid-centre-');
  const labelled = path.join(dir, 'labelled');
  const model = path.join(dir, 'model');
  const requests: CropRequest[] = [];
  const ids: number[] = [];

  beforeAll(async () => {
    for (let k = 0; k < 4; k++) {
      mkdirSync(path.join(labelled, `ind${k}`), { recursive: true });
      const scene = await scenePhoto(700 + k, 300, 200);
      for (let j = 0; j < 3; j++) {
        const file = path.join(labelled, `ind${k}`, `p${j}.jpg`);
        writeFileSync(file, await sharp(scene).extract({ left: 6 * j, top: 4 * j, width: 280, height: 180 }).jpeg({ quality: 70 + 10 * j }).toBuffer());
        requests.push({ file });
        ids.push(k);
      }
    }
    expect((await runCli('model', 'import', '--onnx', RESNET, '--out', model, '--resize', 'crop', '--threads', '1')).code).toBe(0);
  }, 120_000);

  /** The model's features of the labelled photos, with its version and centre. */
  async function features(withoutCentre = false): Promise<{ x: Float32Array; D: number; version: string; centre: Float32Array | null }> {
    const m = await openEmbeddingInference(model, { threads: 1, onWarning: () => {}, withoutCentre });
    try {
      return { x: await m.features(createImageCache(), requests, { size: m.inputSize }), D: m.featureCount, version: m.modelVersion, centre: m.centre?.values ?? null };
    } finally {
      await m.dispose();
    }
  }

  it('sets the centre to the mean embedding of the calibration photos; the model then scores centred embeddings, under a new model version', async () => {
    const plain = await features();
    expect(plain.centre).toBeNull();
    expect((await runCli('model', 'calibrate', '--model', model, '--data', labelled, '--threads', '1', '--quiet')).code).toBe(0);
    const calibration = (): { scale: number; bias: number } => JSON.parse(readFileSync(path.join(model, 'calibration.json'), 'utf8')) as { scale: number; bias: number };
    const plainCalibration = calibration();
    const r = await runCli('model', 'calibrate', '--model', model, '--data', labelled, '--centre', 'data', '--threads', '1', '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`12 photos of 4 individuals, \\d+ same and \\d+ different pairs; cosine of embeddings centred on the mean of 12 photos of ${labelled.replace(/[/\\]/g, '\\$&')}\\)$`));
    const file = JSON.parse(readFileSync(path.join(model, 'feature-centre.json'), 'utf8')) as { values: number[]; photos: number; source: string };
    expect(file.photos).toBe(12);
    expect(file.values).toEqual([...meanFeature(plain.x, plain.D)]);

    const centred = await features();
    expect(centred.version).not.toBe(plain.version);
    expect([...centred.centre!]).toEqual(file.values);
    const want = centreInPlace(plain.x.slice(), plain.D, Float32Array.from(file.values));
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(centred.x[i] - want[i]));
    expect(worst).toBeLessThan(1e-6);
    // a random-weight network gives every photo a common direction; centring removes it
    const before = meanOtherCosine(plain.x, plain.D, ids);
    const after = meanOtherCosine(centred.x, centred.D, ids);
    console.log(`mean cosine between photos of different individuals: ${before.toFixed(4)} plain, ${after.toFixed(4)} centred`);
    expect(before).toBeGreaterThan(0.5);
    expect(after).toBeLessThan(0);
    // the calibration was fitted again, on the centred cosines (spread over a wider range: a smaller scale)
    const centredCalibration = calibration();
    console.log(`cosine calibration: plain scale ${plainCalibration.scale.toFixed(2)} bias ${plainCalibration.bias.toFixed(2)}, centred scale ${centredCalibration.scale.toFixed(2)} bias ${centredCalibration.bias.toFixed(2)}`);
    expect(centredCalibration.scale).toBeLessThan(plainCalibration.scale);

    // calibrating again without --centre keeps it; the manifest covers it
    expect((await runCli('model', 'calibrate', '--model', model, '--data', labelled, '--threads', '1', '--quiet')).code).toBe(0);
    expect((await features()).version).toBe(centred.version);
    const values = readFileSync(path.join(model, 'feature-centre.json'), 'utf8');
    writeFileSync(path.join(model, 'feature-centre.json'), values.replace(/"values":\[(-?[\d.e-]+)/, '"values":[9'));
    await expect(features()).rejects.toThrow(/feature-centre\.json.*manifest|manifest.*feature-centre\.json/);
    writeFileSync(path.join(model, 'feature-centre.json'), values);

    // --centre none removes it: the model's features and version are the plain ones again
    const none = await runCli('model', 'calibrate', '--model', model, '--data', labelled, '--centre', 'none', '--threads', '1', '--quiet');
    expect(none.code, none.err).toBe(0);
    expect(none.out).not.toMatch(/centred/);
    expect(existsSync(path.join(model, 'feature-centre.json'))).toBe(false);
    const again = await features();
    expect(again.version).toBe(plain.version);
    expect(again.x).toEqual(plain.x);
  }, 120_000);

  it('refuses --centre with --matcher, and a re-import drops the centre fitted on the network replaced', async () => {
    const r = await runCli('model', 'calibrate', '--model', model, '--data', labelled, '--centre', 'data', '--matcher', 'fused', '--quiet');
    expect(r.code).toBe(2);
    expect(r.err).toBe("whaleid: --centre: only without --matcher (it is the imported model's own; calibrate the model first, then the matcher)");
    const bad = await runCli('model', 'calibrate', '--model', model, '--data', labelled, '--centre', 'mean', '--quiet');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Expected one of data, none for --centre but received "mean"/);
    expect((await runCli('model', 'calibrate', '--model', model, '--data', labelled, '--centre', 'data', '--threads', '1', '--quiet')).code).toBe(0);
    expect(existsSync(path.join(model, 'feature-centre.json'))).toBe(true);
    expect((await runCli('model', 'import', '--onnx', RESNET, '--out', model, '--resize', 'crop', '--threads', '1', '--force')).code).toBe(0);
    expect(existsSync(path.join(model, 'feature-centre.json'))).toBe(false);
    expect((await features()).centre).toBeNull();
  }, 120_000);
});
