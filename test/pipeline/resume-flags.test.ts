import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { snapshotFiles } from '../helpers/file-snapshot.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { changedOnResume } from '../../src/pipeline/resume-check.js';
import { resolveTrainConfig } from '../../src/train/train-config.js';

// Issue 19 item 3: a resume with changed flags used to print them as if used and go on with the stored ones.
describe('resuming with changed settings', () => {
  const dir = tmpDir();
  const ds = path.join(dir, 'ds');
  const work = path.join(dir, 'work');
  const cache = path.join(dir, 'cache');
  beforeAll(async () => {
    await generateSynthCatalog({ out: ds, individuals: 6, photosPerIndividual: 3, seed: 5 });
    const r = await runCli('train', '--data', ds, '--out', path.join(work, 'run1'), '--preset', 'tiny', '--schedule', 'smoke', '--cache', cache, '--quiet');
    expect(r.code, r.err).toBe(0);
  });

  it('kaggle refuses flags its started run1 cannot take, before any step, saying what the run uses', async () => {
    const before = snapshotFiles(dir);
    const r = await runCli('kaggle', '--data', ds, '--out', work, '--preset', 'cpu', '--schedule', 'long', '--cache', cache, '--quiet');
    expect(r.code).toBe(2);
    expect(r.err).toBe(`whaleid: ${path.join(work, 'run1')} resumes with its stored settings, which these flags would change: preset tiny -> cpu, schedule smoke -> long; leave them out to resume, or train into a new folder`);
    expect(existsSync(path.join(work, 'dedup'))).toBe(false);
    expect(snapshotFiles(dir)).toEqual(before);
  });

  it('train --resume refuses them too; the same flags, the cache and the data are no change', async () => {
    const run = path.join(work, 'run1');
    const r = await runCli('train', '--resume', run, '--max-minutes', '3', '--quiet');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/which these flags would change: maxMinutes unset -> 3;/);
    const stored = resolveTrainConfig({ data: ds, preset: 'tiny', schedule: 'smoke' });
    expect(changedOnResume(stored, { preset: 'tiny', schedule: 'smoke', cacheDir: '/elsewhere', data: 'other', seed: undefined })).toEqual([]);
    expect(changedOnResume(stored, { recipe: 'omniglot', dedup: false })).toEqual(['recipe unset -> omniglot', 'dedup true -> false']);
  });
});
