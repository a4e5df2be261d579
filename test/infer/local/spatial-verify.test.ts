import { describe, it, expect } from 'vitest';
import { loadOpenCv } from '../../../src/infer/local/opencv.js';
import { DEFAULT_VERIFY, verifyMatches, type PointMatch } from '../../../src/infer/local/spatial-verify.js';
import { createRng } from '../../../src/util/random.js';

/** n matches that follow x' = a x + b y + c, y' = d x + e y + f. */
function consistent(n: number, a: number[], seed: string): PointMatch[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const qx = rng.uniform(0, 500);
    const qy = rng.uniform(0, 250);
    return { qx, qy, cx: a[0] * qx + a[1] * qy + a[2], cy: a[3] * qx + a[4] * qy + a[5], weight: 0.1 };
  });
}

function random(n: number, seed: string): PointMatch[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => ({ qx: rng.uniform(0, 500), qy: rng.uniform(0, 250), cx: rng.uniform(0, 500), cy: rng.uniform(0, 250), weight: 0.1 }));
}

describe('verifyMatches', () => {
  it('keeps the matches one affine map explains and rejects inconsistent ones', async () => {
    const cv = await loadOpenCv();
    const angle = (4 * Math.PI) / 180;
    const model = [1.05 * Math.cos(angle), -Math.sin(angle), 20, Math.sin(angle), 0.95 * Math.cos(angle), -8];
    const good = consistent(25, model, 'good');
    const bad = random(15, 'bad').map((m) => ({ ...m, cx: m.cx + 100 })); // far from the model's prediction
    const v = verifyMatches(cv, [...good, ...bad], DEFAULT_VERIFY);
    expect(v.inliers.slice(0, 25).every(Boolean)).toBe(true);
    expect(v.inliers.slice(25).filter(Boolean).length).toBeLessThanOrEqual(1);
    v.model!.forEach((x, i) => expect(x).toBeCloseTo(model[i], 2));
  });

  it('rejects a pair whose matches agree on no map', async () => {
    const cv = await loadOpenCv();
    const v = verifyMatches(cv, random(40, 'noise'), DEFAULT_VERIFY);
    expect(v.model).toBeNull();
    expect(v.inliers.some(Boolean)).toBe(false);
  });

  it('refuses mirror images and implausible zooms, and too few matches', async () => {
    const cv = await loadOpenCv();
    expect(verifyMatches(cv, consistent(20, [-1, 0, 500, 0, 1, 0], 'mirror'), DEFAULT_VERIFY).model).toBeNull();
    expect(verifyMatches(cv, consistent(20, [3, 0, 0, 0, 3, 0], 'zoom'), DEFAULT_VERIFY).model).toBeNull();
    expect(verifyMatches(cv, consistent(20, [1.5, 0, 0, 0, 1.5, 0], 'fine'), DEFAULT_VERIFY).model).not.toBeNull();
    expect(verifyMatches(cv, consistent(3, [1, 0, 0, 0, 1, 0], 'few'), DEFAULT_VERIFY).model).toBeNull();
  });
});
