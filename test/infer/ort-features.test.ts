import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { createSiamese } from '../../src/model/network/siamese.js';
import { computeFeatures } from '../../src/train/tfjs-features.js';
import { computeFeaturesOnnx } from '../../src/infer/branch-features.js';
import { createImageCache } from '../../src/image/image-cache.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { relError } from '../helpers/numeric.js';

describe('branch features through ONNX Runtime during training', () => {
  it('equal the tfjs features of the same branch within float32 rounding', async () => {
    await initEngine({ backend: 'wasm' });
    const dir = tmpDir();
    const requests = [];
    for (let i = 0; i < 5; i++) {
      const file = path.join(dir, `p${i}.jpg`);
      writeFileSync(file, await scenePhoto(i, 200, 120));
      requests.push({ file, box: i % 2 ? { x0: 20, y0: 10, x1: 180, y1: 100 } : undefined });
    }
    const s = createSiamese({ preset: 'tiny', seed: 2 });
    const cache = createImageCache({ dir: path.join(dir, 'cache'), maxSide: 192 });
    const crop = { size: s.config.inputSize, margin: 0.05, aspect: 2.15 };
    const a = await computeFeatures(s.branch, cache, requests, crop);
    const b = await computeFeaturesOnnx(s.branch, cache, requests, crop);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0.01);
    expect(relError(b, a)).toBeLessThan(1e-4);
  });
});
