/**
 * The public API (src/index.ts, issue 34 item 10) does a user's whole job without reaching into
 * src/: a synthetic dataset, a run trained and resumed, a submission scored, the open-set
 * evaluation, a catalog filled and read back, the matcher registry, the recipes as data.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as whaleid from '../src/index.js';
import { copyFixture } from './helpers/fixtures.js';

describe('public API', () => {
  it('trains, predicts, evaluates and keeps a catalog through src/index.ts alone', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'whaleid-api-'));
    const data = await copyFixture('synth-10x4-s11', path.join(dir, 'data'));
    const lines: string[] = [];
    const report = { ...whaleid.silentReport(), step: (l: string) => void lines.push(l), detail: (l: string) => void lines.push(l) };

    const run = path.join(dir, 'run');
    const { result } = await whaleid.trainRun(
      run,
      { data, preset: 'tiny', inputSize: 64, schedule: { name: 'api', groups: [{ epochs: 1, lr: 64e-5, K: 1000 }] }, batchSize: 16, valShare: 0.25, seed: 2 },
      { engine: { backend: 'wasm', threads: 1 }, report },
    );
    expect(result.stopped).toBe(false);
    expect(result.epochs).toBe(1);

    const predicted = await whaleid.predictDataset({ runDir: run, data, boxModel: 'none', cacheDir: path.join(dir, 'cache') });
    expect(predicted.predictions.length).toBeGreaterThan(0);
    for (const p of predicted.predictions) expect(p.ids.length).toBe(5);
    const files = await whaleid.writePrediction(path.join(dir, 'out'), predicted);
    expect(readFileSync(files[0], 'utf8').split('\n')[0]).toBe('Image,Id');

    // the submission read back through the API is the one predicted
    expect(await whaleid.readSubmission(files[0])).toEqual(predicted.predictions);

    const open = await whaleid.evaluateOpenRun({ runDir: run, data, seed: 0, cacheDir: path.join(dir, 'cache') });
    expect(open.test.map5).toBeGreaterThanOrEqual(0);
    expect(open.test.map5).toBeLessThanOrEqual(1);
    expect(open.queries.length).toBe(open.plan.queries.length);

    const catalog = await whaleid.openCatalog(path.join(dir, 'whales.db'));
    try {
      const summary = await whaleid.importDataset(catalog, data);
      expect(summary.added).toBeGreaterThan(0);
      const csv = await whaleid.catalogCsv(catalog);
      expect(csv.split('\n')[0].split(',').slice(0, 2)).toEqual(['Image', 'Id']);
      expect(csv.trim().split('\n').length - 1).toBe(summary.added + summary.queued);
    } finally {
      await catalog.close();
    }

    expect(whaleid.MATCHER_KINDS).toContain('fused');
    expect(whaleid.matcherOf('local').describes.local).toBe(true);
    expect(() => whaleid.matcherOf('nearest')).toThrow(whaleid.WhaleidError);
    expect(Object.keys(whaleid.TRAIN_RECIPES)).toContain('omniglot');
    expect(whaleid.resolvePreset('tiny')).toEqual(whaleid.MODEL_PRESETS.tiny);
  }, 240_000);
});
