import { describe, it, expect } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { buildOneShotTrials, evaluateOneShot, loadOneShotRuns } from '../../src/eval/one-shot.js';
import { loadDataset } from '../../src/data/dataset.js';
import { tmpDir, SHARED_DATASETS } from '../helpers/tmp.js';

/** Writes Lake-style runs whose photo files hold a number (the crafted "appearance"). */
function writeRuns(root: string, runs: { name: string; classes: number[]; items: { value: number; cls: number }[]; prefixed?: boolean }[]): void {
  for (const r of runs) {
    const dir = path.join(root, r.name);
    mkdirSync(path.join(dir, 'training'), { recursive: true });
    mkdirSync(path.join(dir, 'test'), { recursive: true });
    r.classes.forEach((v, k) => writeFileSync(path.join(dir, 'training', `class${String(k + 1).padStart(2, '0')}.png`), String(v)));
    const lines = r.items.map((it, k) => {
      const item = `test/item${String(k + 1).padStart(2, '0')}.png`;
      writeFileSync(path.join(dir, item), String(it.value));
      const cls = `training/class${String(it.cls + 1).padStart(2, '0')}.png`;
      return r.prefixed ? `${r.name}/${item} ${r.name}/${cls}` : `${item} ${cls}`;
    });
    writeFileSync(path.join(dir, 'class_labels.txt'), lines.join('\n') + '\n');
  }
}

/** Score = -|a - b| of the numbers the files hold: the closest class wins. */
const byValue = async (pairs: readonly (readonly [string, string])[]): Promise<Float32Array> => {
  const { readFileSync } = await import('node:fs');
  const v = (f: string): number => Number(readFileSync(f, 'utf8'));
  return Float32Array.from(pairs, ([a, b]) => -Math.abs(v(a) - v(b)));
};

describe('loadOneShotRuns + evaluateOneShot', () => {
  const dir = tmpDir();
  writeRuns(dir, [
    // all 3 items are nearest to their own class
    { name: 'run01', classes: [0, 10, 20], items: [{ value: 1, cls: 0 }, { value: 11, cls: 1 }, { value: 19, cls: 2 }] },
    // items 2 and 4 are nearer to another class: 2 of 4 right; paths with the run prefix, as in Lake's repository
    { name: 'run02', classes: [0, 10, 20, 30], items: [{ value: 2, cls: 0 }, { value: 8, cls: 2 }, { value: 29, cls: 3 }, { value: 21, cls: 1 }], prefixed: true },
  ]);

  it('reads runs (both path styles) and gives the known per-run and mean accuracy', async () => {
    const trials = await loadOneShotRuns(dir);
    expect(trials.map((t) => [t.name, t.support.length, t.queries.length])).toEqual([['run01', 3, 3], ['run02', 4, 4]]);
    expect(trials[1].queries.map((q) => trials[1].support[q.truth].label)).toEqual(['training/class01.png', 'training/class03.png', 'training/class04.png', 'training/class02.png']);
    const res = await evaluateOneShot(trials, byValue);
    expect(res.runs.map((r) => r.accuracy)).toEqual([1, 0.5]);
    expect(res.meanAccuracy).toBe(0.75);
    expect(res.pooledAccuracy).toBeCloseTo(5 / 7, 12);
    expect(res.items[4]).toMatchObject({ trial: 'run02', truth: 'training/class03.png', predicted: 'training/class02.png', correct: 0, rank: 3 });
    // a single run folder also loads
    expect((await loadOneShotRuns(path.join(dir, 'run01'))).map((t) => t.name)).toEqual(['run01']);
  });

  it('counts a tie at the top as a share of a right answer (a constant scorer gets chance)', async () => {
    const trials = await loadOneShotRuns(dir);
    const res = await evaluateOneShot(trials, async (pairs) => new Float32Array(pairs.length));
    expect(res.runs.map((r) => r.accuracy)).toEqual([1 / 3, 1 / 4]);
  });

  it('names the line and file of a malformed or dangling label', async () => {
    const bad = path.join(dir, 'bad');
    writeRuns(bad, [{ name: 'run01', classes: [0, 1], items: [{ value: 0, cls: 0 }] }]);
    writeFileSync(path.join(bad, 'run01', 'class_labels.txt'), 'test/item01.png training/class01.png\ntest/item09.png training/class01.png\n');
    await expect(loadOneShotRuns(bad)).rejects.toThrow(/class_labels\.txt:2: photo test\/item09\.png not found/);
    writeFileSync(path.join(bad, 'run01', 'class_labels.txt'), 'just-one-field\n');
    await expect(loadOneShotRuns(bad)).rejects.toThrow(/class_labels\.txt:1: expected/);
    await expect(loadOneShotRuns(path.join(dir, 'run01', 'test'))).rejects.toThrow(/no one-shot runs/);
  });
});

describe('buildOneShotTrials', () => {
  // 3 groups of 6 individuals with 1-4 photos
  const photos: { id: string; file: string }[] = [];
  for (const g of ['A', 'B', 'C']) for (let k = 0; k < 6; k++) for (let j = 0; j <= k % 4; j++) photos.push({ id: `${g}/c${k}`, file: `${g}/c${k}/${j}.png` });

  it('draws N distinct classes with 2+ photos, one support each and a query of one of them', () => {
    const trials = buildOneShotTrials(photos, { ways: 3, trials: 200, seed: 1 });
    expect(trials).toHaveLength(200);
    const truthCounts = [0, 0, 0];
    for (const t of trials) {
      const labels = t.support.map((s) => s.label);
      expect(new Set(labels).size).toBe(3);
      for (const s of t.support) expect(s.file.startsWith(`${s.label}/`)).toBe(true);
      for (const l of labels) expect(photos.filter((p) => p.id === l).length).toBeGreaterThanOrEqual(2);
      const [q] = t.queries;
      const own = t.support[q.truth];
      expect(q.file.startsWith(`${own.label}/`)).toBe(true);
      expect(q.file).not.toBe(own.file);
      truthCounts[q.truth]++;
    }
    for (const c of truthCounts) expect(c).toBeGreaterThan(40); // ~67 each: the answer's position is uniform
    expect(buildOneShotTrials(photos, { ways: 3, trials: 20, seed: 1 })).toEqual(trials.slice(0, 20));
  });

  it('keeps the classes of a trial in one group with sameGroup, and refuses too few classes', () => {
    const trials = buildOneShotTrials(photos, { ways: 4, trials: 60, sameGroup: true, seed: 2 });
    for (const t of trials) expect(new Set(t.support.map((s) => s.label.split('/')[0])).size).toBe(1);
    // each group has 4 individuals with 2+ photos: 5-way within a group is impossible, across groups fine
    expect(() => buildOneShotTrials(photos, { ways: 5, sameGroup: true })).toThrow(/5 individuals with 2\+ photos in one group; found at most 4/);
    expect(buildOneShotTrials(photos, { ways: 5, trials: 3 })).toHaveLength(3);
  });

  const small2 = path.join(SHARED_DATASETS, 'omniglot-background', 'images_background_small2');
  it.skipIf(!existsSync(small2))('draws 20-way within-alphabet trials from Omniglot, where 1-NN on pixels beats chance (needs ../shared/datasets/omniglot-background)', async () => {
    const ds = await loadDataset(small2);
    const evalAlphabets = new Set(['Japanese_(katakana)', 'Sanskrit', 'Tagalog']);
    const photos = ds.train.filter((p) => evalAlphabets.has(p.id.split('/')[0]));
    expect(new Set(photos.map((p) => p.id)).size).toBeGreaterThan(60);
    const trials = buildOneShotTrials(photos, { ways: 20, trials: 60, sameGroup: true, seed: 5 });
    for (const t of trials) expect(evalAlphabets.has(t.support[0].label.split('/')[0])).toBe(true);
    // a real, weak scorer: overlap of the ink of two drawings downsampled to 28x28
    const ink = new Map<string, Float32Array>();
    const inkOf = async (f: string): Promise<Float32Array> => {
      if (!ink.has(f)) {
        const px = await sharp(f).greyscale().resize(28, 28, { kernel: 'cubic' }).raw().toBuffer();
        ink.set(f, Float32Array.from(px, (v) => 1 - v / 255));
      }
      return ink.get(f)!;
    };
    const res = await evaluateOneShot(trials, async (pairs) => {
      const out = new Float32Array(pairs.length);
      for (let i = 0; i < pairs.length; i++) {
        const [a, b] = await Promise.all(pairs[i].map(inkOf));
        let dot = 0, na = 0, nb = 0;
        for (let k = 0; k < a.length; k++) {
          dot += a[k] * b[k];
          na += a[k] * a[k];
          nb += b[k] * b[k];
        }
        out[i] = dot / Math.sqrt(na * nb + 1e-12);
      }
      return out;
    });
    // chance is 5%; pixel overlap of hand-drawn characters does a little better
    expect(res.pooledAccuracy).toBeGreaterThan(0.1);
    expect(res.pooledAccuracy).toBeLessThan(0.8);
  });
});
