import { describe, it, expect } from 'vitest';
import { writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

describe('whaleid CLI', () => {
  const dir = tmpDir();
  const truth = path.join(dir, 'truth.csv');
  writeFileSync(truth, 'Image,Id\n1.jpg,w_a\n2.jpg,new_whale\n3.jpg,w_c\n');
  const subA = path.join(dir, 'a.csv');
  writeFileSync(subA, 'Image,Id\n1.jpg,w_a new_whale\n2.jpg,w_a w_b new_whale\n3.jpg,new_whale\n');
  const subB = path.join(dir, 'b.csv');
  writeFileSync(subB, 'Image,Id\n1.jpg,new_whale w_a\n2.jpg,new_whale\n3.jpg,w_c\n');

  it('evaluates a submission', async () => {
    const r = await runCli('evaluate', '--submission', subA, '--truth', truth, '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.map5).toBeCloseTo((1 + 1 / 3 + 0) / 3, 12);
    expect(s.top1).toBeCloseTo(1 / 3, 12);
  });

  it('refuses a submission over other photos with one line and exit code 2', async () => {
    const other = path.join(dir, 'other.csv');
    writeFileSync(other, 'Image,Id\n1.jpg,w_a\n9.jpg,w_a\n');
    const r = await runCli('evaluate', '--submission', other, '--truth', truth);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^whaleid: submission and truth cover different photos: 2 truth photo\(s\) have no prediction .*9\.jpg/);
  });

  it('ensembles submissions given as file:score', async () => {
    const out = path.join(dir, 'ens.csv');
    const r = await runCli('ensemble', `${subA}:0.9`, `${subB}:0.8`, '--out', out);
    expect(r.code).toBe(0);
    // 1.jpg: w_a 0.81 + 0.64/2 = 1.13, new_whale 0.405 + 0.64 = 1.045
    expect(readFileSync(out, 'utf8')).toBe('Image,Id\n1.jpg,w_a new_whale\n2.jpg,new_whale w_a w_b\n3.jpg,new_whale w_c\n');
  });

  it('rejects a malformed ensemble argument clearly', async () => {
    const r = await runCli('ensemble', subA, '--out', path.join(dir, 'x.csv'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Expected FILE:SCORE/);
  });

  it('gives one line, no stack, for a missing file; the stack with --verbose', async () => {
    const r = await runCli('evaluate', '--submission', path.join(dir, 'none.csv'), '--truth', truth);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^whaleid: .*none\.csv: no such file$/);
    const v = await runCli('--verbose', 'evaluate', '--submission', path.join(dir, 'none.csv'), '--truth', truth);
    expect(v.err).toMatch(/at .*csv-file/);
  });

  it('rejects unknown flags and bad numbers', async () => {
    expect((await runCli('evaluate', '--bogus')).code).toBe(2);
    const r = await runCli('synth', '--out', dir, '--individuals', 'lots');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Expected an integer between 1 and 1000000 for --individuals but received "lots"/);
  });

  it('shows an example in every command help', async () => {
    for (const cmd of ['synth', 'validate', 'baseline', 'evaluate', 'ensemble', 'demo']) {
      const r = await runCli(cmd, '--help');
      expect(r.code, cmd).toBe(0);
      expect(r.out, cmd).toMatch(/Example:\n\s+\$ whaleid /);
    }
  });

  it('reads option defaults from --config and lets flags override them', async () => {
    const cfg = path.join(dir, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ submission: subB, truth, json: true }));
    const r = await runCli('evaluate', '--config', cfg);
    expect(JSON.parse(r.out).map5).toBeCloseTo((0.5 + 1 + 1) / 3, 12);
    const r2 = await runCli('evaluate', '--config', cfg, '--submission', subA);
    expect(JSON.parse(r2.out).map5).toBeCloseTo((1 + 1 / 3) / 3, 12);
    writeFileSync(cfg, JSON.stringify({ submision: subB }));
    const r3 = await runCli('evaluate', '--config', cfg);
    expect(r3.code).toBe(2);
    expect(r3.err).toMatch(/unknown option "submision"/);
  });

  it('validate exits 1 and lists problems for a bad dataset', async () => {
    const root = path.join(dir, 'ds');
    mkdirSync(path.join(root, 'train'), { recursive: true });
    writeFileSync(path.join(root, 'train.csv'), 'Image,Id\na.jpg,w_1\n');
    const r = await runCli('validate', '--data', root);
    expect(r.code).toBe(1);
    expect(r.err).toContain('error: train.csv:2: Image: photo train/a.jpg not found');
    expect(r.out).toMatch(/0 fatal, 1 errors, 0 warnings/);
  });
});

describe('whaleid dedup and preview', () => {
  const dir = tmpDir();
  it('dedup writes the groups and test photos that duplicate training photos; preview draws a sheet', async () => {
    const { scenePhoto } = await import('../helpers/photos.js');
    const root = path.join(dir, 'ds');
    mkdirSync(path.join(root, 'train'), { recursive: true });
    mkdirSync(path.join(root, 'test'), { recursive: true });
    const a = await scenePhoto(1, 300, 200);
    writeFileSync(path.join(root, 'train', 'a.jpg'), a);
    writeFileSync(path.join(root, 'train', 'b.jpg'), await scenePhoto(2, 300, 200));
    writeFileSync(path.join(root, 'test', 'q.jpg'), a);
    writeFileSync(path.join(root, 'test', 'bad.jpg'), 'garbage');
    writeFileSync(path.join(root, 'train.csv'), 'Image,Id\na.jpg,w_1\nb.jpg,w_2\n');
    const out = path.join(dir, 'dedup');
    const r = await runCli('dedup', '--data', root, '--out', out, '--no-cache');
    expect(r.code).toBe(1); // one unreadable photo, the rest processed
    expect(r.err).toMatch(/bad\.jpg: not an image/);
    expect(r.out).toContain('group 1: train/a.jpg (kept), test/q.jpg');
    expect(readFileSync(path.join(out, 'test-train-duplicates.csv'), 'utf8')).toBe('Image,TrainImage,Id\nq.jpg,a.jpg,w_1\n');
    const boxes = path.join(dir, 'boxes.csv');
    writeFileSync(boxes, 'Image,x0,y0,x1,y1\na.jpg,10,20,250,150\n');
    const sheet = path.join(dir, 'sheet.png');
    const p = await runCli('preview', '--data', root, '--boxes', boxes, '--augment', '1', '--out', sheet, '--no-cache', '--size', '48');
    expect(p.err).toMatch(/bad\.jpg/);
    expect(p.out).toMatch(/wrote .*sheet\.png: 3 photos, 3 without a box/);
    const { default: sharp } = await import('sharp');
    const meta = await sharp(sheet).metadata();
    expect(meta.width).toBeGreaterThan(300);
  });
  it('reports every bad box row at once', async () => {
    const boxes = path.join(dir, 'bad-boxes.csv');
    writeFileSync(boxes, 'Image,x0,y0,x1,y1\na.jpg,1,2,x,4\nb.jpg,5,5,5,9\n');
    const { readBoxes } = await import('../../src/image/boxes.js');
    await expect(readBoxes(boxes)).rejects.toThrow(/bad-boxes\.csv:2: x1: expected a number but found "x".*bad-boxes\.csv:3: empty box/);
  });
});
