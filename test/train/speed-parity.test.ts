// Issue 9's guard: the speed work (our wasm kernels for the Conv2D gradients, Sum/Mean and the
// BatchNorm gradient, the threaded build) must not change what training learns. The same tiny
// training run (same seed, same catalog, same schedule) on the wasm engine and on tfjs's cpu
// backend with its own kernels and gradients gives the same loss curve and validation figures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { registerBatchNormGradient, unregisterBatchNormGradient } from '../../src/model/tfjs/batch-norm-grad.js';
import { startTraining } from '../../src/train/trainer.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';

interface LogRecord { kind: string; epoch: number; loss?: number; map5?: number; top1?: number }

const schedule = { name: 'parity', groups: [{ epochs: 1, lr: 1e-3, K: 1000 }, { epochs: 1, lr: 1e-3, K: 1000 }, { epochs: 1, lr: 1e-3, K: 3 }] };

function readLog(run: string): LogRecord[] {
  return readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogRecord);
}

describe('training results do not depend on the engine', () => {
  const dir = tmpDir();
  const catalog = path.join(dir, 'catalog');
  beforeAll(async () => {
    await copyFixture('synth-10x4-s11', catalog);
  });
  afterAll(async () => {
    registerBatchNormGradient();
    await initEngine({ backend: 'wasm' });
  });

  it('the wasm engine with our kernels and the cpu backend with stock kernels give the same loss curve and validation MAP@5 (tiny model, same seed)', async () => {
    // seed 2: 4 training photos, one step of 8 pairs an epoch on the cpu backend (seed 4's split
    // had 10 photos, 16 + 4 pairs: 18 of the cpu run's CPU-s against 10)
    const config = { data: catalog, preset: 'tiny' as const, inputSize: 64, schedule, batchSize: 16, valShare: 0.3, seed: 2 };
    await initEngine({ backend: 'cpu' });
    unregisterBatchNormGradient();
    await startTraining(path.join(dir, 'cpu'), config);
    registerBatchNormGradient();
    await initEngine({ backend: 'wasm' });
    await startTraining(path.join(dir, 'wasm'), config);

    const [ref, ours] = [readLog(path.join(dir, 'cpu')), readLog(path.join(dir, 'wasm'))];
    const losses = (log: LogRecord[]): number[] => log.filter((r) => r.kind === 'epoch').map((r) => r.loss!);
    const vals = (log: LogRecord[]): LogRecord[] => log.filter((r) => r.kind === 'validation');
    expect(losses(ours)).toHaveLength(3);
    const lossDiffs = losses(ours).map((l, i) => Math.abs(l - losses(ref)[i]));
    console.log(`epoch losses wasm ${losses(ours).map((l) => l.toFixed(5))} vs cpu ${losses(ref).map((l) => l.toFixed(5))}; validation MAP@5 wasm ${vals(ours).map((v) => v.map5)} vs cpu ${vals(ref).map((v) => v.map5)}`);
    // measured 6e-6 here (float32 sums in another order; 2e-3 by the third epoch on a catalog of 14
    // whales); a 10% error in one term of the BatchNorm gradient (variance) moved it by 7e-3 here
    // (4e-2 with seed 4's larger split), hence 2.5e-3 (was 5e-3)
    expect(Math.max(...lossDiffs)).toBeLessThan(2.5e-3);
    // the training changed the model: the curves are not trivially equal
    expect(Math.abs(losses(ours)[2] - losses(ours)[0])).toBeGreaterThan(1e-3);
    expect(vals(ours)).toHaveLength(vals(ref).length);
    vals(ours).forEach((v, i) => {
      expect(Math.abs(v.map5! - vals(ref)[i].map5!)).toBeLessThanOrEqual(0.02);
      expect(Math.abs(v.top1! - vals(ref)[i].top1!)).toBeLessThanOrEqual(0.02);
    });
  }, 300_000);
});
