import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';
import { snapshotFiles } from '../helpers/file-snapshot.js';
import { changedOnResume } from '../../src/pipeline/resume-check.js';
import { resolveTrainConfig } from '../../src/train/train-config.js';
import { readStoredEngine, resumedEngine } from '../../src/pipeline/run-engine.js';
import { startTraining } from '../../src/train/trainer.js';

// Issue 19 item 3: a resume with changed flags used to print them as if used and go on with the stored ones.
describe('resuming with changed settings', () => {
  const dir = tmpDir();
  const ds = path.join(dir, 'ds');
  const work = path.join(dir, 'work');
  const cache = path.join(dir, 'cache');
  beforeAll(async () => {
    await copyFixture('synth-6x3-s5', ds);
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

// Issue 32 item 8: a resume used to take --threads and --engine from the flags (defaults included),
// so a --threads 1 run resumed on 2 threads and a wasm run on native, with other weights and no word.
describe('resuming on the engine a run was started on', () => {
  const dir = tmpDir();
  const ds = path.join(dir, 'ds');
  const run = path.join(dir, 'run-wasm1');
  const cache = path.join(dir, 'cache');
  beforeAll(async () => {
    // 16 whales of 4 photos: the first group (decoding the photos included) takes several times
    // the budget on any machine (with 6 of 3, a worker process that had loaded tfjs already ran
    // both epochs within 0.6 s now and then)
    await copyFixture('synth-16x4-s9', ds);
    // a budget of 0.6 s (the least --max-minutes takes): the run finishes after its first group,
    // which always runs, so a resume can go on (with --more-minutes)
    const r = await runCli('train', '--data', ds, '--out', run, '--preset', 'tiny', '--schedule', 'smoke', '--engine', 'wasm', '--threads', '1', '--max-minutes', '0.01', '--cache', cache, '--quiet');
    expect(r.code, r.err).toBe(0);
  });

  it('stores the engine settings with the run', () => {
    expect(readStoredEngine(run)).toEqual({ engine: 'wasm', backend: 'wasm', threads: 1 });
  });

  it('refuses flags that would change them, before anything is written', async () => {
    const before = snapshotFiles(run);
    const threads = await runCli('train', '--resume', run, '--threads', '2', '--quiet');
    expect(threads.code).toBe(2);
    expect(threads.err).toBe(`whaleid: ${run} resumes on the engine it was started on (${path.join(run, 'engine.json')}), which these flags would change: --threads 1 -> 2; leave them out to resume, or train into a new folder`);
    const engine = await runCli('train', '--resume', run, '--engine', 'native', '--device', 'cpu', '--quiet');
    expect(engine.code).toBe(2);
    expect(engine.err).toMatch(/would change: --engine wasm -> native, --device \(not used by the wasm engine\) -> cpu;/);
    expect(snapshotFiles(run)).toEqual(before);
  });

  it('resumes with the stored engine when no flag is given (the defaults would be native or 2 threads); a finished run only when asked', async () => {
    // given again as stored, or as auto (which asks for nothing), they are no change: what stops
    // this resume is that the run is finished (issue 33 item 2), not the engine
    const same = await runCli('train', '--resume', run, '--engine', 'auto', '--threads', '1', '--backend', 'wasm');
    expect(same.code).toBe(2);
    expect(same.out).toBe('');
    expect(same.err).toMatch(new RegExp(`^whaleid: ${run} is finished: its time budget of 0.01 min ran out after 1 of 2 epochs \\([\\d.]+ min\\); its model/ and onnx/ are what predictions use. To train the rest and replace them, resume with --more-minutes N \\(a new budget\\)$`));
    const r = await runCli('train', '--resume', run, '--more-minutes', '5');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^engine: tfjs wasm, 1 thread\(s\)$/m);
    // the final line reports the whole run: both epochs, its time and this resume's
    expect(r.out).toMatch(/^trained 2 epochs in [\d.]+ min \(this resume: [\d.]+ min\);/m);
    // now its schedule is done: nothing left, whatever the budget
    const done = await runCli('train', '--resume', run, '--more-minutes', '5');
    expect(done.code).toBe(2);
    expect(done.err).toBe(`whaleid: ${run} is finished: its schedule ended after 2 epochs (${/\(([\d.]+ min)\)/.exec(done.err)?.[1]}); its model/ and onnx/ are what predictions use, and there is nothing left to train: train into a new folder to train again`);
    const early = await runCli('train', '--out', path.join(dir, 'x'), '--data', ds, '--more-minutes', '5');
    expect(early.err).toBe('whaleid: --more-minutes: goes with --resume RUN_DIR (a new budget for a finished run)');
  });

  it('checks a stored record field by field, and resumes a run from before records on the flags given', () => {
    const bad = path.join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(path.join(bad, 'engine.json'), JSON.stringify({ engine: 'native', backend: 'wasm', threads: 2, device: 'gpu', precision: 'fp32' }));
    expect(() => readStoredEngine(bad)).toThrow(`${path.join(bad, 'engine.json')}: device must be cpu or cuda (found "gpu")`);
    writeFileSync(path.join(bad, 'engine.json'), JSON.stringify({ engine: 'wasm', backend: 'wasm', threads: 0 }));
    expect(() => readStoredEngine(bad)).toThrow(/threads must be an integer from 1 to 256 \(found 0\)/);
    rmSync(path.join(bad, 'engine.json'));
    expect(resumedEngine(bad, { threads: 3 })).toEqual({ choice: { engine: 'auto', device: 'auto', precision: 'fp32', backend: 'wasm', threads: 3 }, stored: false });
  });
});

// Issue 33 item 6: a refused train left a run folder (config.json naming the wrong data) and
// printed its engine and recipe lines before the refusal.
describe('a refused train writes and prints nothing but its one line', () => {
  const dir = tmpDir();
  it('a folder that is not a dataset, or one where no individual has two photos: exit 2, one line, no run folder', async () => {
    const notData = path.join(dir, 'not-data');
    mkdirSync(path.join(notData, 'train'), { recursive: true });
    writeFileSync(path.join(notData, 'train.csv'), 'Photo,Whale\n');
    const run = path.join(dir, 'run');
    const r = await runCli('train', '--data', notData, '--out', run, '--recipe', 'synthetic');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^whaleid: .*not-data: dataset unusable: fatal: train\.csv:1: /);
    expect(existsSync(run)).toBe(false);

    const single = path.join(dir, 'single');
    await copyFixture('synth-5x1-s2', single);
    const s = await runCli('train', '--data', single, '--out', run, '--preset', 'tiny', '--schedule', 'smoke');
    expect(s.code).toBe(2);
    expect(s.out).toBe('');
    expect(s.err).toMatch(/no individual has 2 or more labelled photos \(\d+ labelled photos of \d+ individuals\); nothing to learn from$/);
    expect(existsSync(run)).toBe(false);
  });

  it('a run the trainer refuses before its first checkpoint (every photo unreadable) leaves no folder', async () => {
    const broken = path.join(dir, 'broken');
    mkdirSync(path.join(broken, 'a'), { recursive: true });
    mkdirSync(path.join(broken, 'b'), { recursive: true });
    for (const f of ['a/1.jpg', 'a/2.jpg', 'b/1.jpg', 'b/2.jpg']) writeFileSync(path.join(broken, f), 'not a photo');
    const run = path.join(dir, 'run-broken');
    await expect(startTraining(run, { data: broken, preset: 'tiny', schedule: 'smoke' })).rejects.toThrow(/fewer than 2 training photos/);
    expect(existsSync(run)).toBe(false);
  });
});
