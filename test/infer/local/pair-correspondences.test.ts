import { describe, it, expect } from 'vitest';
import { applyToPoint } from '../../../src/image/affine.js';
import { DEFAULT_LOCAL, DESCRIPTOR_LENGTH, localCropMatrix, type LocalFeatures } from '../../../src/infer/local/local-features.js';
import { loadOpenCv } from '../../../src/infer/local/opencv.js';
import { pairCorrespondences } from '../../../src/infer/local/pair-correspondences.js';
import { createRng } from '../../../src/util/random.js';

/** n keypoints at random positions of a 550x256 crop with random (distinct) descriptors. */
function randomFeatures(n: number, seed: string): LocalFeatures {
  const rng = createRng(seed);
  return {
    xy: Float32Array.from({ length: 2 * n }, (_, i) => (i % 2 ? rng.uniform(0, 256) : rng.uniform(0, 550))),
    descriptors: Float32Array.from({ length: n * DESCRIPTOR_LENGTH }, () => rng.uniform(-1, 1)),
  };
}

/** The same keypoints seen through an affine map, their descriptors slightly disturbed. */
function moved(f: LocalFeatures, a: readonly number[], seed: string): LocalFeatures {
  const rng = createRng(seed);
  const xy = new Float32Array(f.xy.length);
  for (let i = 0; i < f.xy.length; i += 2) {
    xy[i] = a[0] * f.xy[i] + a[1] * f.xy[i + 1] + a[2];
    xy[i + 1] = a[3] * f.xy[i] + a[4] * f.xy[i + 1] + a[5];
  }
  return { xy, descriptors: f.descriptors.map((d) => d + rng.uniform(-0.05, 0.05)) };
}

describe('pairCorrespondences', () => {
  it('keeps the pairs one affine map explains, in query order, with the candidate points where the map puts them', async () => {
    const cv = await loadOpenCv();
    const query = randomFeatures(120, 'q');
    const map = [1.1, 0.05, 30, -0.04, 0.95, -12];
    // the candidate: the query's keypoints moved by the map, then 60 unrelated ones
    const near = moved(query, map, 'c');
    const other = randomFeatures(60, 'other');
    const candidate = { xy: Float32Array.of(...near.xy, ...other.xy), descriptors: Float32Array.of(...near.descriptors, ...other.descriptors) };
    const r = pairCorrespondences(cv, query, candidate);
    expect(r.inliers.length).toBe(120);
    expect(r.tentative).toBe(120);
    r.inliers.forEach((m, i) => {
      expect(m.query).toEqual([query.xy[2 * i], query.xy[2 * i + 1]]);
      expect(m.candidate[0]).toBeCloseTo(map[0] * m.query[0] + map[1] * m.query[1] + map[2], 3);
      expect(m.candidate[1]).toBeCloseTo(map[3] * m.query[0] + map[4] * m.query[1] + map[5], 3);
      expect(m.weight).toBeGreaterThan(0);
    });
    expect(r.model![2]).toBeCloseTo(30, 0);
    expect(pairCorrespondences(cv, query, candidate)).toEqual(r);
  });

  it('finds none between unrelated keypoints, and none for a mirrored pattern', async () => {
    const cv = await loadOpenCv();
    const query = randomFeatures(120, 'q');
    const unrelated = pairCorrespondences(cv, query, randomFeatures(120, 'u'));
    expect(unrelated.inliers).toEqual([]);
    expect(unrelated.model).toBeNull();
    const mirrored = pairCorrespondences(cv, query, moved(query, [-1, 0, 550, 0, 1, 0], 'm'));
    expect(mirrored.tentative).toBe(120);
    expect(mirrored.inliers).toEqual([]);
  });

  it('refuses a ratio outside (0, 1]', async () => {
    const cv = await loadOpenCv();
    const f = randomFeatures(10, 'q');
    expect(() => pairCorrespondences(cv, f, f, { ratio: 0 })).toThrow(/ratio/);
    expect(() => pairCorrespondences(cv, f, f, { ratio: 1.5 })).toThrow(/ratio/);
  });
});

describe('localCropMatrix', () => {
  it('maps the keypoint crop onto the padded box: its corners to the box with margin and aspect', () => {
    const box = { x0: 200, y0: 100, x1: 630, y1: 300 }; // 430 x 200: aspect 2.15 already
    const m = localCropMatrix({ width: 1000, height: 800 }, { box }, DEFAULT_LOCAL);
    const width = Math.round(DEFAULT_LOCAL.height * DEFAULT_LOCAL.aspect);
    // the crop's edges on the padded box (5% margin each side), within one photo pixel (where a
    // pixel's centre lies is the sampler's convention)
    const [x0, y0] = applyToPoint(m, -0.5, -0.5);
    const [x1, y1] = applyToPoint(m, width - 0.5, DEFAULT_LOCAL.height - 0.5);
    const near = (got: number, want: number): void => expect(Math.abs(got - want)).toBeLessThan(1.2);
    near(x0, 200 - 21.5);
    near(x1, 630 + 21.5);
    near(y0, 100 - 10);
    near(y1, 300 + 10);
  });
});
