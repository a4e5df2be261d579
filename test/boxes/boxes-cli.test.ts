import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { readBoxes } from '../../src/image/boxes.js';

// Tiny sizes (32 px input, 4 filters, 2 epochs): the pipeline, not the quality, is under test.
const tiny = ['--input-size', '32', '--filters', '4', '--epochs', '2', '--batch-size', '4', '--no-cache', '--quiet'];

describe('whaleid boxes train / predict (tiny catalog, end to end)', () => {
  const dir = tmpDir();
  const catalog = path.join(dir, 'catalog');
  beforeAll(async () => {
    await generateSynthCatalog({ out: catalog, individuals: 5, photosPerIndividual: 2, seed: 4 });
  });

  it('trains deterministically for a seed and writes the model folder', async () => {
    const a = await runCli('boxes', 'train', '--data', catalog, '--out', path.join(dir, 'a'), '--seed', '3', ...tiny);
    expect(a.code, a.err).toBe(0);
    expect(a.out).toMatch(/trained on \d+ photos in .* min; held-out mean IoU \d\.\d{3} \(\d+ photos\)/);
    const b = await runCli('boxes', 'train', '--data', catalog, '--out', path.join(dir, 'b'), '--seed', '3', ...tiny);
    expect(b.code, b.err).toBe(0);
    for (const f of ['model.json', 'weights.bin', 'model.onnx', 'training.json', 'log.jsonl']) expect(existsSync(path.join(dir, 'a', f)), f).toBe(true);
    expect(readFileSync(path.join(dir, 'b', 'weights.bin')).equals(readFileSync(path.join(dir, 'a', 'weights.bin')))).toBe(true);
    expect(readFileSync(path.join(dir, 'b', 'model.onnx')).equals(readFileSync(path.join(dir, 'a', 'model.onnx')))).toBe(true);
    const summary = JSON.parse(readFileSync(path.join(dir, 'a', 'training.json'), 'utf8'));
    expect(summary).toMatchObject({ epochs: 2, seed: 3, spec: { inputSize: 32, filters: 4, aspect: 2.15 } });
    expect(summary.command).toContain('whaleid boxes train --data');
    expect(readFileSync(path.join(dir, 'a', 'log.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    const c = await runCli('boxes', 'train', '--data', catalog, '--out', path.join(dir, 'c'), '--seed', '4', ...tiny);
    expect(readFileSync(path.join(dir, 'c', 'weights.bin')).equals(readFileSync(path.join(dir, 'a', 'weights.bin')))).toBe(false);
    expect(c.code).toBe(0);
  });

  it('predicts a box inside every photo, scores it against the truth and draws a sheet', async () => {
    const out = path.join(dir, 'pred.csv');
    const sheet = path.join(dir, 'sheet.png');
    const res = await runCli('boxes', 'predict', '--model', path.join(dir, 'a'), '--data', catalog, '--out', out, '--truth', path.join(catalog, 'bounding_boxes.csv'), '--sheet', sheet, '--limit', '3', '--no-cache', '--quiet');
    expect(res.code, res.err).toBe(0);
    const truth = await readBoxes(path.join(catalog, 'bounding_boxes.csv'));
    const pred = await readBoxes(out);
    expect([...pred.keys()].sort()).toEqual([...truth.keys()].sort());
    for (const b of pred.values()) expect(b.x1 > b.x0 && b.y1 > b.y0).toBe(true);
    expect(res.out).toMatch(new RegExp(`mean IoU \\d\\.\\d{3} .*; ${truth.size} photos\\)`));
    expect(res.out).toMatch(/wrote .*sheet\.png: 3 photos/);
    expect(existsSync(sheet)).toBe(true);
  });

  it('explains bad input in one line', async () => {
    const mismatch = await runCli('boxes', 'train', '--data', catalog, '--data', catalog, '--boxes', 'x.csv', '--out', path.join(dir, 'x'), ...tiny);
    expect(mismatch.code).toBe(2);
    expect(mismatch.err).toMatch(/give one --boxes per --data .*2 --data and 1 --boxes/);
    const noBoxes = path.join(dir, 'no-boxes');
    await generateSynthCatalog({ out: noBoxes, individuals: 2, photosPerIndividual: 2, seed: 5 });
    rmSync(path.join(noBoxes, 'bounding_boxes.csv'));
    const missing = await runCli('boxes', 'train', '--data', noBoxes, '--out', path.join(dir, 'y'), ...tiny);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/no boxes CSV .*bounding_boxes\.csv not found.*--boxes/);
    const model = await runCli('boxes', 'predict', '--model', path.join(dir, 'nothing'), '--data', catalog, '--out', path.join(dir, 'z.csv'));
    expect(model.code).toBe(2);
    expect(model.err).toMatch(/Cannot read box model/);
  });
});
