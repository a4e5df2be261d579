// Issue 18, item 4: `whaleid train --resume` must finish with the model an uninterrupted run
// gives. The run is killed (SIGKILL, as a crash or an OOM kill would) or interrupted (SIGINT, as
// Ctrl-C) in the middle of its schedule, resumed in a new process, and every byte of its weights,
// its Adam state and its ONNX export is compared with a run that was never stopped. Batches of 2 pairs give ~27
// Adam steps per epoch: step counts at which tfjs's own optimiser restore (pow(beta, t + 1)) and
// live training (a chain of float32 products) disagree in the last bit of the bias correction.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';
import { loadNativeAddon } from '../../src/model/native/native-addon.js';
import { cliLauncher, launcherArgs } from '../helpers/cli-process.js';

const dir = tmpDir();
const catalog = path.join(dir, 'catalog');
let cli = '';
const cache = path.join(dir, 'cache');
const runArgs = ['--preset', 'tiny', '--schedule', 'smoke', '--batch-size', '2', '--threads', '1', '--cache', cache, '--seed', '3', '--quiet'];
// each engine resumes its own runs bit for bit; native when its addon is built
const native = loadNativeAddon();
const engines = native.available ? ['wasm', 'native'] : ['wasm'];
if (!native.available) console.log(`resume on the native engine not tested: ${native.reason}`);

/** The real CLI in a child process; resolves with its exit code and stderr. */
function whaleid(args: string[], onStart?: (child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; signal: string | null; err: string }> {
  const child = spawn(process.execPath, [...launcherArgs(cli), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  onStart?.(child);
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, err })));
}

/** Sends `signal` to `child` as soon as the run in `runDir` has written its first checkpoint (group 1 of 2). */
function signalAfterFirstCheckpoint(runDir: string, signal: NodeJS.Signals): (child: ReturnType<typeof spawn>) => void {
  return (child) => {
    const timer = setInterval(() => {
      if (existsSync(path.join(runDir, 'checkpoint', 'state.json'))) {
        clearInterval(timer);
        child.kill(signal);
      }
    }, 20);
    child.on('exit', () => clearInterval(timer));
  };
}

/** How many float32 values differ between two weight files of the same layout. */
function differingFloats(a: Buffer, b: Buffer): number {
  expect(b.length).toBe(a.length);
  let n = 0;
  for (let i = 0; i < a.length; i += 4) if (a.readUInt32LE(i) !== b.readUInt32LE(i)) n++;
  return n;
}

/** Every file of a finished run that holds the model, compared with the uninterrupted run's. */
function expectSameModel(run: string, reference: string): void {
  const log = (dir: string): string[] => readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => l.replace(/"seconds":[\d.]+/, ''));
  expect(log(run)).toEqual(log(reference));
  const bytes = (dir: string, file: string): Buffer => readFileSync(path.join(dir, file));
  // every weight and moving average of the final model, and Adam's moments and step count
  for (const file of ['model/weights.bin', 'checkpoint/optimizer.bin']) {
    expect(differingFloats(bytes(reference, file), bytes(run, file)), `${file}: values that differ`).toBe(0);
  }
  for (const file of ['model/model.json', 'onnx/branch.onnx']) expect(bytes(run, file).equals(bytes(reference, file)), file).toBe(true);
}

beforeAll(async () => {
  await copyFixture('synth-12x4-s5', catalog);
  cli = cliLauncher(dir);
});

describe.each(engines)('whaleid train --resume after a kill or Ctrl-C (engine %s)', (engine) => {
  const whole = path.join(dir, `whole-${engine}`);
  const args = [...runArgs, '--engine', engine];
  beforeAll(async () => {
    const full = await whaleid(['train', '--data', catalog, '--out', whole, ...args]);
    expect(full.code, full.err).toBe(0);
  }, 120_000);

  it('SIGKILL mid-schedule: the resumed run ends with the weights, BatchNorm statistics, Adam state and ONNX export of an uninterrupted run, bit for bit', async () => {
    const killed = path.join(dir, `killed-${engine}`);
    const cut = await whaleid(['train', '--data', catalog, '--out', killed, ...args], signalAfterFirstCheckpoint(killed, 'SIGKILL'));
    expect(cut.signal).toBe('SIGKILL');
    expect(existsSync(path.join(killed, 'model')), 'killed before the end of the schedule').toBe(false);
    expect(JSON.parse(readFileSync(path.join(killed, 'checkpoint', 'state.json'), 'utf8')).groupsDone).toBe(1);
    const resumed = await whaleid(['train', '--resume', killed, '--threads', '1', '--engine', engine, '--quiet']);
    expect(resumed.code, resumed.err).toBe(0);
    expectSameModel(killed, whole);
  }, 180_000);

  it('Ctrl-C mid-schedule: the run stops after the step in progress (exit 130, checkpoint kept) and resumes to the same files', async () => {
    const interrupted = path.join(dir, `interrupted-${engine}`);
    const cut = await whaleid(['train', '--data', catalog, '--out', interrupted, ...args], signalAfterFirstCheckpoint(interrupted, 'SIGINT'));
    expect(cut.code, cut.err).toBe(130);
    expect(cut.err).toMatch(/stopping after this step; the last checkpoint is kept/);
    expect(existsSync(path.join(interrupted, 'model'))).toBe(false);
    const resumed = await whaleid(['train', '--resume', interrupted, '--threads', '1', '--engine', engine, '--quiet']);
    expect(resumed.code, resumed.err).toBe(0);
    expectSameModel(interrupted, whole);
  }, 180_000);
});
