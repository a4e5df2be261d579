import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';

// Issue 19 item 1: a run trained with relative paths gave other results when used from another directory.
describe('a run reads the same from any directory', () => {
  const dir = tmpDir();
  const cwd = process.cwd();
  afterEach(() => process.chdir(cwd));
  beforeAll(async () => {
    await copyFixture('synth-6x3-s9', path.join(dir, 'ds'));
    cpSync(path.join(dir, 'ds'), path.join(dir, 'bare'), { recursive: true });
    rmSync(path.join(dir, 'bare', 'bounding_boxes.csv'));
  });

  it('a boxed run trained with relative paths still gets the fluke detector when used from elsewhere', async () => {
    process.chdir(dir);
    const trained = await runCli('train', '--data', 'ds', '--out', 'work/run', '--preset', 'tiny', '--schedule', 'smoke', '--cache', 'cache', '--quiet');
    expect(trained.code, trained.err).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'work', 'run', 'config.json'), 'utf8'))).toMatchObject({ data: '../../ds', cacheDir: '../../cache' });
    process.chdir(os.tmpdir());
    const run = path.join(dir, 'work', 'run');
    const res = await runCli('predict', '--model', run, '--data', path.join(dir, 'bare'), '--out', path.join(dir, 'sub.csv'), '--cache', path.join(dir, 'cache'), '--quiet');
    expect(res.code, res.err).toBe(0);
    // the run learnt boxed crops (its data has bounding_boxes.csv): photos without a box get the detector's
    expect(res.err).toMatch(/photos have no box in the boxes CSV: boxes from the fluke detector/);
    expect(res.err).not.toMatch(/used whole/);
  });
});
