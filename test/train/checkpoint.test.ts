import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { createSiamese, type Siamese } from '../../src/model/network/siamese.js';
import { readAdamState } from '../../src/model/network/siamese-state.js';
import { loadCheckpoint, saveCheckpoint, type TrainState } from '../../src/train/checkpoint.js';
import { tmpDir } from '../helpers/tmp.js';
import { mountTmpfs, tmpfsMissing } from '../helpers/tmpfs.js';

const dir = tmpDir();

async function trainStep(s: Siamese, seed: number): Promise<void> {
  const x = [tf.randomNormal([4, 64, 64, 1], 0, 1, 'float32', seed), tf.randomNormal([4, 64, 64, 1], 0, 1, 'float32', seed + 1)];
  const y = tf.tensor2d([1, 0, 1, 0], [4, 1]);
  await s.model.trainOnBatch(x, y);
  tf.dispose([...x, y]);
}

const state = (groups: number): TrainState => ({ groupsDone: groups, epochsDone: 2 * groups, history: [{ kind: 'epoch', epoch: 2 * groups }] });

describe('checkpoints', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
  });

  it('keep the previous checkpoint, and fall back to it when the latest state.json is damaged', async () => {
    const run = path.join(dir, 'run');
    mkdirSync(run);
    expect(await loadCheckpoint(run)).toBeNull();
    const s = createSiamese({ preset: 'tiny', seed: 1 });
    await trainStep(s, 1);
    await saveCheckpoint(run, s, state(1));
    await trainStep(s, 2);
    await saveCheckpoint(run, s, state(2));
    expect(existsSync(path.join(run, 'checkpoint.old', 'state.json'))).toBe(true);

    const latest = await loadCheckpoint(run);
    expect(latest!.state).toEqual(state(2));
    expect((await readAdamState(latest!.siamese.model)).iterations).toBe(2);

    const file = path.join(run, 'checkpoint', 'state.json');
    writeFileSync(file, '{"groupsDone": 2, "epochs');
    const said: string[] = [];
    const older = await loadCheckpoint(run, (l) => said.push(l));
    expect(older!.state).toEqual(state(1));
    expect((await readAdamState(older!.siamese.model)).iterations).toBe(1);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/checkpoint\/state\.json: not valid JSON .*: resuming from the previous checkpoint, .*checkpoint\.old/);

    writeFileSync(file, JSON.stringify({ ...state(2), groupsDone: 'two' }));
    writeFileSync(path.join(run, 'checkpoint.old', 'optimizer.bin'), 'short');
    await expect(loadCheckpoint(run)).rejects.toThrow(/no readable checkpoint in .*: .*checkpoint\/state\.json: expected groupsDone to be a non-negative integer, got "two"; .*checkpoint\.old\/optimizer\.bin: 5 bytes/);
    for (const c of [s, latest!.siamese, older!.siamese]) c.model.dispose();
  });

  it('read Adam state saved by tfjs under its registered variable names (checkpoints of earlier versions), by position', async () => {
    const run = path.join(dir, 'old-format');
    mkdirSync(run);
    createSiamese({ preset: 'tiny', seed: 2 }).model.dispose();
    const s = createSiamese({ preset: 'tiny', seed: 3 }); // the second network: variables named stem_conv/kernel_1, ...
    await trainStep(s, 5);
    await saveCheckpoint(run, s, state(1));
    const weights = await s.model.optimizer.getWeights();
    expect(weights[1].name).toMatch(/_\d+\/m$/);
    const { data, specs } = await tf.io.encodeWeights(weights);
    writeFileSync(path.join(run, 'checkpoint', 'optimizer.bin'), Buffer.from(data));
    writeFileSync(path.join(run, 'checkpoint', 'optimizer.json'), JSON.stringify(specs));
    rmSync(path.join(run, 'checkpoint', 'manifest.json')); // as earlier versions wrote it: no manifest
    const loaded = await loadCheckpoint(run);
    const [want, got] = [await readAdamState(s.model), await readAdamState(loaded!.siamese.model)];
    expect(got.iterations).toBe(want.iterations);
    expect([...got.moments.keys()]).toEqual([...want.moments.keys()]);
    for (const [k, m] of want.moments) expect(Buffer.from(got.moments.get(k)!.values.buffer).equals(Buffer.from(m.values.buffer)), k).toBe(true);
    expect(readFileSync(path.join(run, 'checkpoint', 'state.json'), 'utf8')).toBe(JSON.stringify(state(1)));
    s.model.dispose();
    loaded!.siamese.model.dispose();
  });

  // Issue 32 item 11: a failed checkpoint write left its checkpoint.tmp-<pid> folder behind
  const noTmpfs = tmpfsMissing();
  it.skipIf(noTmpfs !== '')(`a write that fails on a full disk leaves no temporary folder and keeps the previous checkpoint${noTmpfs ? ` (skipped: ${noTmpfs})` : ''}`, async () => {
    const ref = path.join(dir, 'size-ref');
    mkdirSync(ref);
    const s = createSiamese({ preset: 'tiny', seed: 4 });
    await trainStep(s, 7);
    await saveCheckpoint(ref, s, state(1));
    const bytes = readdirSync(path.join(ref, 'checkpoint')).reduce((n, f) => n + statSync(path.join(ref, 'checkpoint', f)).size, 0);
    // room for one checkpoint and a half: the second write cannot finish
    const run = path.join(dir, 'full');
    const disk = mountTmpfs(run, bytes * 1.5 + 64 * 1024);
    try {
      // a temporary folder left by a run killed while writing (its process is gone)
      mkdirSync(path.join(run, 'checkpoint.tmp-999999999'));
      await saveCheckpoint(run, s, state(1));
      expect(readdirSync(run)).toEqual(['checkpoint']);
      await trainStep(s, 8);
      await expect(saveCheckpoint(run, s, state(2))).rejects.toThrow(new RegExp(`^${path.join(run, 'checkpoint')}\\.tmp-\\d+: no space left on device \\(ENOSPC.*\\); the checkpoint was not written and the previous one is kept: make room and continue with whaleid train --resume ${run}$`));
      expect(readdirSync(run)).toEqual(['checkpoint']);
      const kept = await loadCheckpoint(run);
      expect(kept!.state).toEqual(state(1));
      kept!.siamese.model.dispose();
    } finally {
      disk.unmount();
      s.model.dispose();
    }
  });
});
