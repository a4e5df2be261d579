import { describe, it, expect, beforeAll } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { registerEvalCommands } from '../../src/cli/commands/eval-commands.js';
import { readCsvFile } from '../../src/data/csv-file.js';
import { readLabels } from '../../src/data/labels.js';
import { averagePrecisionAt5 } from '../../src/infer/metrics.js';
import { openRunScorer } from '../../src/eval/run-scorer.js';
import { randomAugmentation } from '../../src/image/affine.js';
import { createRng } from '../../src/util/random.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

/** Runs the two evaluation commands in-process (main.ts wires them into the real program). */
async function runEval(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command('whaleid').exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerEvalCommands(program, { out: (l) => out.push(l), err: (l) => err.push(l), setExitCode: () => {}, progress: false });
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, out: out.join('\n'), err: err.join('\n') };
  } catch (e) {
    return { code: 2, out: out.join('\n'), err: `${err.join('\n')}\n${(e as Error).message}` };
  }
}

const num = (text: string, re: RegExp): number => Number(re.exec(text)![1]);

describe('evaluate-open and evaluate-oneshot on a tiny trained run', () => {
  const dir = tmpDir();
  const evalData = path.join(dir, 'eval-catalog');
  // the shared tiny run (test/helpers/fixture-builders.ts): two 1-epoch groups of the tiny
  // preset on 12 whales x 4 photos (seed 5), in catalog/ and full/
  const run = path.join(dir, 'full');
  const cache = path.join(dir, 'cache');
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    await copyFixture('tiny-run', dir);
    // other whales (another seed) for evaluation: never seen in training
    await copyFixture('synth-16x4-s9', evalData);
  });

  it('evaluate-open prints figures that the per-query CSV reproduces, and is deterministic', async () => {
    const out = path.join(dir, 'open.csv');
    const args = ['evaluate-open', '--model', run, '--data', evalData, '--split-seed', '2', '--new-share', '0.3', '--out', out, '--cache', cache];
    const r = await runEval(...args);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/threshold [\d.e+-]+ \(calibrated on the calibration part/);
    const rows = (await readCsvFile(out)).rows.map((x) => x.fields);
    const labels = new Map((await readLabels(path.join(evalData, 'train.csv'))).map((l) => [l.image, l.id]));
    const test = rows.filter((x) => x[1] === 'test');
    expect(test.length).toBeGreaterThan(0);
    expect(rows.filter((x) => x[1] === 'calibration').length).toBeGreaterThan(0);
    for (const [image, , truth, predicted, ap] of rows) {
      // the truth is the photo's own id, or new_whale for individuals without a gallery photo
      expect([labels.get(image), 'new_whale']).toContain(truth);
      expect(Number(ap)).toBeCloseTo(averagePrecisionAt5(truth, predicted.split(' ')), 12);
    }
    const map5 = test.reduce((s, x) => s + Number(x[4]), 0) / test.length;
    expect(num(r.out, /test: MAP@5 ([\d.]+)/)).toBeCloseTo(map5, 4);
    const newFirst = test.filter((x) => x[3].split(' ')[0] === 'new_whale');
    const correct = newFirst.filter((x) => x[2] === 'new_whale').length;
    expect(r.out).toContain(`(${correct}/${newFirst.length})`);
    const summary = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
    expect(summary.test.count).toBe(test.length);
    const again = await runEval(...args, '--force'); // the same output again: replacing it is asked for
    expect(again.out).toBe(r.out);
  });

  it('evaluate-open --matcher local|fused measures the other matchers and writes their calibration for predict', async () => {
    for (const matcher of ['local', 'fused']) {
      const out = path.join(dir, `open-${matcher}.csv`);
      const r = await runEval('evaluate-open', '--model', run, '--data', evalData, '--split-seed', '2', '--matcher', matcher, '--out', out, '--cache', cache);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/test: MAP@5 [\d.]+/);
      const calibration = JSON.parse(readFileSync(`${out}.matcher.json`, 'utf8'));
      expect(calibration.matcher).toBe(matcher);
      expect(Number.isFinite(calibration.threshold)).toBe(true);
      expect(calibration.fusion !== undefined).toBe(matcher === 'fused');
      expect(JSON.parse(readFileSync(`${out}.json`, 'utf8')).matcher).toBe(matcher);
    }
    const bad = await runEval('evaluate-open', '--model', run, '--data', evalData, '--matcher', 'sift', '--out', path.join(dir, 'x.csv'));
    expect(bad.err).toMatch(/one of siamese, local, fused, fused-learned for --matcher but received "sift"/);
    // predict with the fused calibration: every candidate carries both scores and the fused one
    const sub = path.join(dir, 'fused.csv');
    const p = await runCli('predict', '--model', run, '--data', evalData, '--out', sub, '--matcher', 'fused', '--matcher-calibration', path.join(dir, 'open-fused.csv.matcher.json'), '--cache', cache, '--top-k', '3');
    expect(p.code, p.err).toBe(0);
    const top = JSON.parse(readFileSync(`${sub}.top.json`, 'utf8')) as { candidates: { id: string; score: number; siamese: number; local: number; fused: number }[] }[];
    expect(top.length).toBeGreaterThan(0);
    for (const t of top) {
      expect(t.candidates).toHaveLength(3);
      for (const c of t.candidates) expect([c.siamese, c.local, c.fused].every(Number.isFinite)).toBe(true);
      expect(t.candidates[0].score).toBeGreaterThanOrEqual(t.candidates[1].score);
      // the fused score orders them, except a duplicate of a known photo, put first above any score
      if (t.candidates[0].score <= 1) expect(t.candidates[0].score).toBe(t.candidates[0].fused);
    }
    const noCal = await runCli('predict', '--model', run, '--data', evalData, '--out', path.join(dir, 'nocal.csv'), '--matcher', 'fused', '--cache', cache);
    expect(noCal.code).toBe(2);
    expect(noCal.err).toMatch(/--matcher fused needs --matcher-calibration FILE/);
  });

  it('evaluate-oneshot --matcher local matches each query one-vs-many against its trial; fused is refused', async () => {
    const r = await runEval('evaluate-oneshot', '--model', run, '--data', evalData, '--ways', '5', '--trials', '30', '--matcher', 'local', '--cache', cache);
    expect(r.code, r.err).toBe(0);
    // above the 20% of chance (36.7% on these 30 seeded trials)
    expect(num(r.out, /5-way one-shot accuracy: mean over \d+ run\(s\) ([\d.]+)%/)).toBeGreaterThan(25);
    const fused = await runEval('evaluate-oneshot', '--model', run, '--data', evalData, '--matcher', 'fused');
    expect(fused.err).toMatch(/no calibration part to fit the fusion on/);
  });

  it("with test-time augmentation a photo's features are the mean over it and its seeded copies, the same in any batch", async () => {
    const files = (await readLabels(path.join(evalData, 'train.csv'))).slice(0, 4).map((l) => ({ file: path.join(evalData, 'train', l.image) }));
    const plain = await openRunScorer(run, { cacheDir: cache });
    const tta = await openRunScorer(run, { cacheDir: cache, tta: 2, seed: 1 });
    try {
      const F = plain.head.features;
      const mean = await tta.featuresOf(files);
      // by hand: the photo and 2 copies, each copy's augmentation drawn from the seed, the photo and the copy
      const seed = createRng(1).fork('tta');
      const copies = await Promise.all([1, 2].map((c) => plain.featuresOf(files.map((r) => ({ ...r, augmentation: randomAugmentation(seed.fork(`${r.file}|0|#${c}`)) })))));
      const original = await plain.featuresOf(files);
      const want = original.map((x, i) => (x + copies[0][i] + copies[1][i]) / 3);
      for (let i = 0; i < want.length; i++) expect(mean[i]).toBeCloseTo(want[i], 5);
      expect(Math.max(...mean.map((x, i) => Math.abs(x - original[i])))).toBeGreaterThan(1e-3);
      // the same copies whatever the batch: reversed order, reversed rows
      const reversed = await tta.featuresOf([...files].reverse());
      for (let k = 0; k < files.length; k++) expect(Array.from(reversed.subarray((files.length - 1 - k) * F, (files.length - k) * F))).toEqual(Array.from(mean.subarray(k * F, (k + 1) * F)));
    } finally {
      await plain.dispose();
      await tta.dispose();
    }
    await expect(openRunScorer(run, { tta: -1 })).rejects.toThrow(/Expected a non-negative integer for tta but received -1/);
    const args = ['evaluate-oneshot', '--model', run, '--data', evalData, '--ways', '4', '--trials', '12', '--seed', '1', '--cache', cache, '--tta', '2'];
    const once = await runEval(...args);
    expect(once.code, once.err).toBe(0);
    expect((await runEval(...args)).out).toBe(once.out);
  });

  it('evaluate-oneshot reads runNN folders and draws trials from a dataset', async () => {
    // 5-way runs from the eval catalog: the first photo of a whale is its class photo, the second the test item
    const labels = await readLabels(path.join(evalData, 'train.csv'));
    const byId = new Map<string, string[]>();
    for (const l of labels) if (l.id !== 'new_whale') byId.set(l.id, [...(byId.get(l.id) ?? []), l.image]);
    const whales = [...byId.keys()].filter((id) => byId.get(id)!.length >= 2).sort();
    expect(whales.length).toBeGreaterThanOrEqual(10);
    const runs = path.join(dir, 'runs');
    for (const [r, group] of [whales.slice(0, 5), whales.slice(5, 10)].entries()) {
      const rd = path.join(runs, `run0${r + 1}`);
      mkdirSync(path.join(rd, 'training'), { recursive: true });
      mkdirSync(path.join(rd, 'test'), { recursive: true });
      const lines = group.map((id, k) => {
        const [a, b] = byId.get(id)!;
        copyFileSync(path.join(evalData, 'train', a), path.join(rd, 'training', `class0${k + 1}.jpg`));
        copyFileSync(path.join(evalData, 'train', b), path.join(rd, 'test', `item0${k + 1}.jpg`));
        return `test/item0${k + 1}.jpg training/class0${k + 1}.jpg`;
      });
      writeFileSync(path.join(rd, 'class_labels.txt'), lines.join('\n'));
    }
    const csv = path.join(dir, 'oneshot.csv');
    const r = await runEval('evaluate-oneshot', '--model', run, '--runs', runs, '--out', csv, '--cache', cache);
    expect(r.code, r.err).toBe(0);
    const perRun = [...r.out.matchAll(/^(run0\d): ([\d.]+)% \((\d+)\/5\)$/gm)];
    expect(perRun.map((m) => m[1])).toEqual(['run01', 'run02']);
    const items = (await readCsvFile(csv)).rows.map((x) => x.fields);
    expect(items).toHaveLength(10);
    for (const m of perRun) expect(Number(m[3])).toBe(items.filter((x) => x[0] === m[1]).reduce((s, x) => s + Number(x[4]), 0));
    const mean = (Number(perRun[0][2]) + Number(perRun[1][2])) / 2;
    expect(num(r.out, /mean over 2 run\(s\) ([\d.]+)%/)).toBeCloseTo(mean, 1);

    const drawn = await runEval('evaluate-oneshot', '--model', run, '--data', evalData, '--ways', '4', '--trials', '12', '--seed', '1', '--cache', cache);
    expect(drawn.code, drawn.err).toBe(0);
    expect(drawn.out).toMatch(/4-way one-shot accuracy: mean over 12 run\(s\) [\d.]+%; 12 queries/);

    const both = await runEval('evaluate-oneshot', '--model', run, '--runs', runs, '--data', evalData);
    expect(both.code).toBe(2);
    expect(existsSync(path.join(run, 'evaluate-open.csv'))).toBe(false);
  });
});
