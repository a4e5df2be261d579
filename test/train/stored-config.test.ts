import { describe, it, expect } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { readStoredTrainConfig } from '../../src/train/stored-config.js';
import { resolveSchedule, totalEpochs } from '../../src/train/schedule.js';
import { runCli } from '../helpers/cli.js';

describe('stored run configurations', () => {
  const dir = tmpDir();

  it('loads a run stored with the former name `kernel` as the `method` preset and schedule', () => {
    const run = path.join(dir, 'old-run');
    mkdirSync(run, { recursive: true });
    writeFileSync(path.join(run, 'config.json'), JSON.stringify({ data: 'catalog', preset: 'kernel', schedule: 'kernel', batchSize: 32 }));
    const config = readStoredTrainConfig(run)!;
    expect(config.preset).toBe('method');
    expect(config.schedule).toBe('method');
    expect(totalEpochs(resolveSchedule(config.schedule))).toBe(400);
  });

  it('names the file and field of a stored config without its dataset', () => {
    const run = path.join(dir, 'no-data');
    mkdirSync(run, { recursive: true });
    writeFileSync(path.join(run, 'config.json'), JSON.stringify({ preset: 'tiny' }));
    expect(() => readStoredTrainConfig(run)).toThrow(/config\.json data/);
    expect(readStoredTrainConfig(path.join(dir, 'none'))).toBeNull();
  });

  it('the command line knows the method preset and schedule by their new name only', async () => {
    const help = (await runCli('kaggle', '--help')).out.replace(/\s+/g, ' ');
    expect(help).toMatch(/--preset <name> model: method \(384 px/);
    expect(help).toMatch(/--schedule <name> training schedule: method \(400 epochs\)/);
    const r = await runCli('train', '--data', dir, '--out', path.join(dir, 'run'), '--preset', 'kernel');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^whaleid: Expected one of method, cpu, small, tiny for --preset but received "kernel"$/);
  });
});

// Issue 19 item 1: a run's paths must not depend on the directory a later command starts in.
describe('paths of a stored run', () => {
  const dir = tmpDir();

  it('are stored relative to the run folder and read back absolute, from any directory', async () => {
    const { writeStoredTrainConfig } = await import('../../src/train/stored-config.js');
    const { resolveTrainConfig, trainedWithBoxes } = await import('../../src/train/train-config.js');
    const ds = path.join(dir, 'data', 'catalog');
    mkdirSync(ds, { recursive: true });
    writeFileSync(path.join(ds, 'bounding_boxes.csv'), 'Image,x0,y0,x1,y1\n');
    const run = path.join(dir, 'work', 'run');
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      await writeStoredTrainConfig('work/run', resolveTrainConfig({ data: 'data/catalog', preset: 'tiny', boxModel: 'none', rotate: 'data/rotate.txt' }));
      const stored = JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8'));
      expect(stored).toMatchObject({ data: '../../data/catalog', rotate: '../../data/rotate.txt', boxModel: 'none', pathsRelativeTo: 'run folder' });
      process.chdir(os.tmpdir()); // elsewhere: the same run reads the same
      const config = readStoredTrainConfig(run)!;
      expect(config.data).toBe(ds);
      expect(config.rotate).toBe(path.join(dir, 'data', 'rotate.txt'));
      expect(config.boxModel).toBe('none');
      expect(trainedWithBoxes(config)).toBe(true);
      expect(Object.keys(config)).not.toContain('pathsRelativeTo');
    } finally {
      process.chdir(cwd);
    }
  });

  it('of runs stored before stay relative to the directory they were started in', () => {
    const run = path.join(dir, 'old');
    mkdirSync(run, { recursive: true });
    writeFileSync(path.join(run, 'config.json'), JSON.stringify({ data: 'catalog', preset: 'tiny' }));
    expect(readStoredTrainConfig(run)!.data).toBe(path.resolve('catalog'));
  });
});
