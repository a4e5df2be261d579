import { describe, it, expect, beforeAll } from 'vitest';
import { cpSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';
import { snapshotFiles } from '../helpers/file-snapshot.js';

// Issue 19 items 2 and 6: a missing train.csv and folders given in the wrong place are said, not "succeeded".
describe('wrong folders', () => {
  const dir = tmpDir();
  const ds = path.join(dir, 'ds');
  const work = path.join(dir, 'work');
  const run = path.join(work, 'run1');
  const cache = path.join(dir, 'cache');
  beforeAll(async () => {
    await copyFixture('synth-6x3-s8', ds);
    const r = await runCli('train', '--data', ds, '--out', run, '--preset', 'tiny', '--schedule', 'smoke', '--cache', cache, '--quiet');
    expect(r.code, r.err).toBe(0);
  });

  describe('a Kaggle-layout copy without train.csv', () => {
    const copy = path.join(dir, 'no-labels');
    beforeAll(() => {
      cpSync(path.join(ds, 'train'), path.join(copy, 'train'), { recursive: true });
      cpSync(path.join(ds, 'test'), path.join(copy, 'test'), { recursive: true });
    });
    const missing = /fatal: train\.csv: missing; train\/ holds \d+ photos and test\/ \d+ \(the Kaggle layout\): expected train\.csv \(Image,Id\)/;

    it('validate reports it as fatal and exits 1', async () => {
      const r = await runCli('validate', '--data', copy);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(missing);
      expect(r.out).toMatch(/kaggle layout: 0 labelled photos .*\n1 fatal, 0 errors/);
    });

    it('train names train.csv; kaggle stops before its dedup step', async () => {
      const t = await runCli('train', '--data', copy, '--out', path.join(dir, 'run-x'), '--preset', 'tiny', '--schedule', 'smoke', '--quiet');
      expect(t.code).toBe(2);
      expect(t.err).toMatch(missing);
      const k = await runCli('kaggle', '--data', copy, '--out', path.join(dir, 'work-x'), '--preset', 'tiny', '--schedule', 'smoke', '--quiet', '--cache', cache);
      expect(k.code).toBe(2);
      expect(k.err).toMatch(missing);
      expect(existsSync(path.join(dir, 'work-x', 'dedup', 'duplicates.csv'))).toBe(false);
    });
  });

  it('predict refuses a folder without labelled photos instead of answering new_whale for all', async () => {
    const out = path.join(dir, 'sub.csv');
    const r = await runCli('predict', '--model', run, '--data', path.join(ds, 'test'), '--out', out, '--cache', cache, '--quiet');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/test: no labelled photos to identify the \d+ test photos against; give the dataset's root folder/);
    expect(existsSync(out)).toBe(false);
  });

  it('--model inside a run names the run; --model above runs lists them', async () => {
    const before = snapshotFiles(dir);
    const inside = await runCli('predict', '--model', path.join(run, 'model'), '--data', ds, '--out', path.join(dir, 'p.csv'));
    expect(inside.code).toBe(2);
    expect(inside.err).toBe(`whaleid: --model: ${path.join(run, 'model')} is inside the run ${run}; use ${run}`);
    const serve = await runCli('serve', '--catalog', path.join(dir, 'none.db'), '--model', path.join(run, 'onnx'));
    expect(serve.err).toBe(`whaleid: --model: ${path.join(run, 'onnx')} is inside the run ${run}; use ${run}`);
    const above = await runCli('predict', '--model', work, '--data', ds, '--out', path.join(dir, 'p.csv'));
    expect(above.err).toBe(`whaleid: --model: ${work} is not a training run but holds 1: ${run}; give one of them`);
    const none = await runCli('evaluate-open', '--model', path.join(dir, 'nothing'), '--data', ds);
    expect(none.err).toMatch(/--model: .*nothing: no such folder; expected a training run folder/);
    expect(snapshotFiles(dir)).toEqual(before);
    rmSync(path.join(dir, 'p.csv'), { force: true });
  });
});
