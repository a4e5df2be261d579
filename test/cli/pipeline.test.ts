import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';
import { readSubmission } from '../../src/data/submission.js';

describe('whaleid kaggle (tiny end to end)', () => {
  const dir = tmpDir();
  const catalog = path.join(dir, 'catalog');
  beforeAll(async () => {
    await copyFixture('synth-10x4-s11', catalog);
  });
  it('runs every step, writes a submission for every test photo, and skips finished steps on a rerun', async () => {
    const work = path.join(dir, 'work');
    const args = ['kaggle', '--data', catalog, '--out', work, '--preset', 'tiny', '--schedule', 'smoke', '--tta', '1', '--min-score', '0.5', '--cache', path.join(dir, 'cache'), '--quiet'];
    const first = await runCli(...args);
    expect(first.code, first.err).toBe(0);
    for (const f of ['dedup/duplicates.csv', 'run1/model/model.json', 'run1/onnx/branch.onnx', 'run1-tta1.csv', 'run2/pseudo-labels.csv', 'run2/model/model.json', 'run2-tta1.csv', 'submission.csv']) {
      expect(existsSync(path.join(work, f)), f).toBe(true);
    }
    const sub = await readSubmission(path.join(work, 'submission.csv'));
    const truth = readFileSync(path.join(catalog, 'test_truth.csv'), 'utf8').trim().split('\n').length - 1;
    expect(sub).toHaveLength(truth);
    const again = await runCli(...args);
    expect(again.code).toBe(0);
    expect(again.out.match(/already there, skipped/g)?.length).toBe(6);
  });

  // issue 33 item 3: on small data the threshold came from 4 validation queries and put new_whale first
  // for every photo; a bootstrap with no pseudo-label retrained from scratch; nothing said so
  it('on small data: warns of a threshold chosen on too few queries and says what it did, skips a bootstrap that adds nothing', async () => {
    const work = path.join(dir, 'work-small');
    const args = ['kaggle', '--data', catalog, '--out', work, '--preset', 'tiny', '--schedule', 'smoke', '--tta', '0', '--min-score', '1', '--cache', path.join(dir, 'cache')];
    const first = await runCli(...args);
    expect(first.code, first.err).toBe(0);
    const all = `${first.out}\n${first.err}`;
    expect(all).toMatch(/warning: the run's threshold [\d.]+ rests on \d+ validation queries \(fewer than 20\): the threshold used answers new first for their share of new individuals, [\d.]+%/);
    expect(all).toMatch(/predict run1: .* \([^)]*, [\d.]+% new_whale first; validation queries: [\d.]+% new individuals\)/);
    expect(all).toContain('bootstrap run2: no test photo scored above --min-score 1: no pseudo-labels, so no second run (it would repeat run1); the submission is run1\'s');
    expect(all).toMatch(/submission: .*submission\.csv is run1's \(.*run1-tta0\.csv\): bootstrap added no pseudo-label, so there was nothing to ensemble/);
    expect(existsSync(path.join(work, 'run2', 'model'))).toBe(false);
    expect(readFileSync(path.join(work, 'submission.csv'), 'utf8')).toBe(readFileSync(path.join(work, 'run1-tta0.csv'), 'utf8'));
    const again = await runCli(...args, '--quiet');
    expect(again.code, again.err).toBe(0);
    expect(again.out.match(/already there, skipped/g)?.length).toBe(4);
  });
});
