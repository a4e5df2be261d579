import { beforeAll, describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { buildProgram } from '../../src/cli/main.js';
import { TRAIN_OPTIONS, ALL_TRAIN_OPTIONS } from '../../src/cli/train-options.js';
import { MODEL_PRESETS } from '../../src/model/network/branch.js';
import { SCHEDULE_PRESETS } from '../../src/train/schedule.js';
import { TRAIN_RECIPES } from '../../src/train/recipes.js';

const quietIo = { out: () => {}, err: () => {}, setExitCode: () => {}, progress: false };

/** Every command of the program, nested ones (boxes train, catalog export) included. */
function allCommands(cmd: Command, prefix: string[] = []): { name: string[]; cmd: Command }[] {
  return cmd.commands.flatMap((c) => {
    const name = [...prefix, c.name()];
    return c.commands.length > 0 ? allCommands(c, name) : [{ name, cmd: c }];
  });
}

const longFlags = (cmd: Command): Set<string> => new Set(cmd.options.map((o) => o.long ?? ''));

describe('options declared once', () => {
  const dir = tmpDir();
  let commands: { name: string[]; cmd: Command }[] = [];
  beforeAll(async () => {
    commands = allCommands(await buildProgram(quietIo));
  });

  it('kaggle, bootstrap and demo take every training option of train', () => {
    const train = longFlags(commands.find((c) => c.name.join(' ') === 'train')!.cmd);
    const trainingFlags = Object.values(ALL_TRAIN_OPTIONS).map((f) => f.spec.flag.split(' ')[0]);
    for (const flag of trainingFlags) expect(train.has(flag), `train ${flag}`).toBe(true);
    for (const name of ['kaggle', 'bootstrap', 'demo']) {
      const flags = longFlags(commands.find((c) => c.name.join(' ') === name)!.cmd);
      for (const flag of [...train].filter((f) => !['--data', '--out', '--resume', '--more-minutes'].includes(f))) expect(flags.has(flag), `${name} ${flag}`).toBe(true);
    }
  });

  it('lists presets, schedules and recipes from their tables', async () => {
    for (const name of ['train', 'kaggle', 'demo', 'bootstrap']) {
      const help = (await runCli(name, '--help')).out.replace(/\s+/g, ' ');
      for (const p of Object.keys(MODEL_PRESETS)) expect(help, `${name} preset ${p}`).toMatch(new RegExp(`--preset <name> model: .*\\b${p} \\(`));
      for (const s of Object.keys(SCHEDULE_PRESETS)) expect(help, `${name} schedule ${s}`).toMatch(new RegExp(`--schedule <name> training schedule: .*\\b${s} \\(\\d+ epochs\\)`));
      for (const r of Object.keys(TRAIN_RECIPES)) expect(help, `${name} recipe ${r}`).toContain(`${r} (`);
    }
  });

  it('shows an example in the help of every command, and one default per option', async () => {
    for (const { name } of commands) {
      const r = await runCli(...name, '--help');
      expect(r.code, name.join(' ')).toBe(0);
      expect(r.out, name.join(' ')).toMatch(/Example:\n\s+\$ (\S+=\S+ )?whaleid /);
      for (const line of r.out.replace(/\n\s{20,}/g, ' ').split('\n')) expect(line.match(/default:/g)?.length ?? 0, `${name.join(' ')}: ${line}`).toBeLessThanOrEqual(1);
    }
    const threads = (await runCli('train', '--help')).out.replace(/\s+/g, ' ');
    expect(threads).toMatch(/--threads <n> threads for training: the native engine's, or wasm's .*\(default: the cores\)/);
  });

  it('kaggle refuses a misspelt schedule before any work: nothing written', async () => {
    const work = path.join(dir, 'work-typo');
    const r = await runCli('kaggle', '--data', path.join(dir, 'no-such-data'), '--out', work, '--schedule', 'shrot');
    expect(r.code).toBe(2);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/--schedule .*"shrot"/);
    expect(existsSync(work)).toBe(false);
  });

  it('kaggle takes the README CPU advice (--recipe, --preset small, --replicas, --max-minutes) and checks the settings as a whole before dedup', async () => {
    const work = path.join(dir, 'work-micro');
    const data = path.join(dir, 'data');
    const r = await runCli('kaggle', '--data', data, '--out', work, '--recipe', 'synthetic', '--preset', 'small', '--replicas', '2', '--max-minutes', '5', '--batch-size', '32', '--micro-batch', '64');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^whaleid: Expected an integer between 1 and the batch size 32 for microBatch but received 64$/);
    expect(existsSync(work)).toBe(false);
  });

  it('reads a schedule object from --config and refuses a bad one by name', async () => {
    const cfg = path.join(dir, 'train-config.json');
    writeFileSync(cfg, JSON.stringify({ schedule: { groups: [{ epochs: 0, lr: 1e-3, K: 1 }] }, preset: 'tiny' }));
    const r = await runCli('train', '--config', cfg, '--data', path.join(dir, 'data'), '--out', path.join(dir, 'run-bad'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Expected a positive integer for schedule\.groups\[0\]\.epochs but received 0/);
    writeFileSync(cfg, JSON.stringify({ preset: 'huge' }));
    const p = await runCli('train', '--config', cfg, '--data', path.join(dir, 'data'), '--out', path.join(dir, 'run-bad'));
    expect(p.err).toMatch(/^whaleid: Expected one of .*tiny for --preset but received "huge"$/);
    expect(existsSync(path.join(dir, 'run-bad'))).toBe(false);
  });

  it('every TrainConfig option row reaches the trainer under its own name', () => {
    // the table's keys are TrainConfig's: the trainer gets the values without a mapping that could forget one
    expect(Object.keys(TRAIN_OPTIONS)).toEqual(expect.arrayContaining(['preset', 'schedule', 'maxMinutes', 'replicas', 'augmentFromEpoch', 'cacheDir', 'dedup']));
  });

  it('no `as never` anywhere in src', () => {
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d)) {
        const p = path.join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) files.push(p);
      }
    };
    walk(path.resolve('src'));
    const offenders = files.filter((f) => /\bas never\b/.test(readFileSync(f, 'utf8').replace(/^\s*(\*|\/\/).*$/gm, '')));
    expect(offenders).toEqual([]);
  });
});
