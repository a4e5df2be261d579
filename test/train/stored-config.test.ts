import { describe, it, expect } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { readStoredTrainConfig } from '../../src/train/train-config.js';
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
