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
});
