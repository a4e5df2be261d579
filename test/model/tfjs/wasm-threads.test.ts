// The multi-threaded wasm build started in Node (its own test file: the first wasm start of a
// process decides the build). Results must equal the cpu backend's; the process must still exit.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { initEngine } from '../../../src/model/tfjs/tfjs-backend.js';
import { relError } from '../../helpers/numeric.js';
import { parityGradients, parityWeights } from '../../helpers/siamese-gradients.js';

describe('threaded wasm engine', () => {
  it('starts with 2 threads and gives the Siamese network the cpu backend\'s loss and gradients', async () => {
    await initEngine({ backend: 'cpu' });
    const weights = parityWeights();
    const ref = parityGradients(weights);
    expect(await initEngine({ threads: 2 })).toEqual({ backend: 'wasm', threads: 2 });
    // a later request does not change the build
    expect(await initEngine({ threads: 1 })).toEqual({ backend: 'wasm', threads: 2 });
    const ours = parityGradients(weights);
    expect(Math.abs(ours.loss - ref.loss)).toBeLessThan(1e-5);
    expect(Math.max(...ours.grads.map((g, i) => relError(g, ref.grads[i])))).toBeLessThan(2e-4);
  });

  it('lets a process that used it exit by itself', () => {
    // inside node_modules, so that the script resolves @tensorflow/tfjs as the project does
    const dir = mkdtempSync(path.resolve('node_modules/.whaleid-test-'));
    const script = path.join(dir, 'threads.mts');
    writeFileSync(script, `import { initEngine } from ${JSON.stringify(path.resolve('src/model/tfjs/tfjs-backend.ts'))};
      import * as tf from '@tensorflow/tfjs';
      const info = await initEngine({ threads: 2 });
      const x = tf.conv2d(tf.ones([1, 32, 32, 8]), tf.ones([3, 3, 8, 8]), 1, 'same');
      console.log(info.threads, x.dataSync()[0], x.dataSync()[(32 + 1) * 8]);`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // a corner sees 2x2 pixels of 8 channels, an inner pixel 3x3
    expect(r.stdout.trim()).toBe('2 32 72');
  });
});
