import { describe, it, expect } from 'vitest';
import type { HeadWeights } from '../../src/model/network/head-weights.js';
import { chooseScorer, normalizeRows } from '../../src/train/scorer-choice.js';
import type { TrainValidationSplit } from '../../src/train/split.js';
import { createRng } from '../../src/util/random.js';

const F = 8;

/** logit = -sum |a - b|: a head that ranks by L1 distance, blind to direction alone. */
const distanceHead: HeadWeights = { features: F, mid: 1, w1: Float32Array.of(0, 0, 1, 0), b1: Float32Array.of(0), w2: Float32Array.of(1), b2: 0, w3: new Float32Array(F).fill(-1), b3: 0 };
/** A head that scores every pair alike: it ranks nothing. */
const blindHead: HeadWeights = { ...distanceHead, w3: new Float32Array(F) };

/**
 * 6 individuals x 4 photos, all held out (photo 0 of each is its validation query, the rest the
 * gallery), with features from `feature(individual, photo)`.
 */
function dataset(feature: (individual: number, photo: number, noise: () => number) => number[]) {
  const rng = createRng(11);
  const ids: string[] = [];
  const rows: number[] = [];
  for (let w = 0; w < 6; w++) {
    for (let k = 0; k < 4; k++) {
      ids.push(`w${w}`);
      rows.push(...feature(w, k, () => rng.normal(0, 0.01)));
    }
  }
  const features = Float32Array.from(rows);
  const rowOf = new Map(ids.map((_, i) => [i, i]));
  const split: TrainValidationSplit = {
    train: [],
    gallery: ids.map((_, i) => i).filter((i) => i % 4 !== 0),
    queries: ids.map((id, i) => ({ index: i, truth: id })).filter((q) => q.index % 4 === 0),
  };
  return { ids, features, rowOf, split };
}

describe('normalizeRows', () => {
  it('scales each row to unit length and leaves a zero row zero', () => {
    const out = normalizeRows(Float32Array.of(3, 4, 0, 0, -1, 0), 2);
    expect(Array.from(out)).toEqual([0.6000000238418579, 0.800000011920929, 0, 0, -1, 0]);
  });
});

describe('chooseScorer', () => {
  // identity in the direction, the size varying within an individual
  const byDirection = dataset((w, k, noise) => Array.from({ length: F }, (_, f) => (f === w ? 1 + k : 0) + noise()));
  // identity in the size only, every direction the same: L1 is right, the cosine is noise
  const bySize = dataset((w, _k, noise) => Array.from({ length: F }, () => 1 + w + noise()));

  it('auto takes the cosine where it ranks the held-out individuals better, and calibrates it', () => {
    const { ids, features, rowOf, split } = byDirection;
    const c = chooseScorer(features, rowOf, ids, split, blindHead, 'auto');
    // every photo of the 6 individuals has 2+ others in the gallery
    expect(c.questions).toBe(24);
    expect(c.top1.cosine).toBe(1);
    // ties go to the first gallery photo: only w0's 4 photos are answered right
    expect(c.top1.head).toBeCloseTo(4 / 24, 6);
    // every false pair ties with every true one under the blind head (half each); none outscores under the cosine
    expect(c.falseAbove.head).toBeCloseTo(0.5, 6);
    expect(c.falseAbove.cosine).toBe(0);
    expect(c.scorer).toBe('cosine');
    expect(c.calibration!.scale).toBeGreaterThan(0);
    // same individual (cos ~1) above 0.5, another individual (cos ~0) below it
    const p = (cos: number) => 1 / (1 + Math.exp(-(c.calibration!.scale * cos + c.calibration!.bias)));
    expect(p(1)).toBeGreaterThan(0.5);
    expect(p(0)).toBeLessThan(0.5);
  });

  it('auto keeps the head where the cosine is not better; a forced setting wins but both are measured', () => {
    const { ids, features, rowOf, split } = bySize;
    const auto = chooseScorer(features, rowOf, ids, split, distanceHead, 'auto');
    expect(auto.top1.head).toBe(1);
    expect(auto.top1.cosine).toBeLessThan(1);
    expect(auto.falseAbove.head).toBeLessThan(auto.falseAbove.cosine);
    expect(auto.scorer).toBe('head');
    expect(chooseScorer(byDirection.features, byDirection.rowOf, byDirection.ids, byDirection.split, distanceHead, 'cosine').scorer).toBe('cosine');
    // a cosine that ranks false pairs above true ones is not exported even when asked for
    const inverted = chooseScorer(features, rowOf, ids, split, distanceHead, 'cosine');
    expect(inverted.calibration).toBeNull();
    expect(inverted.scorer).toBe('head');
    expect(inverted.reason).toMatch(/could not be calibrated/);
    const head = chooseScorer(byDirection.features, byDirection.rowOf, byDirection.ids, byDirection.split, blindHead, 'head');
    expect(head.scorer).toBe('head');
    expect(head.top1.cosine).toBe(1);
  });

  it('without a held-out individual that has 2+ gallery photos it keeps the head', () => {
    const { ids, features, rowOf } = byDirection;
    // one gallery photo per held-out individual: its query is the only question, no true pair to fit
    const split: TrainValidationSplit = { train: [], gallery: ids.map((_, i) => i).filter((i) => i % 4 === 1), queries: ids.map((id, i) => ({ index: i, truth: id })).filter((q) => q.index % 4 === 0) };
    const c = chooseScorer(features, rowOf, ids, split, distanceHead, 'cosine');
    expect(c.questions).toBe(6);
    // the queries' own pairs still calibrate it
    expect(c.scorer).toBe('cosine');
    const none = chooseScorer(features, rowOf, ids, { ...split, queries: [] }, distanceHead, 'cosine');
    expect(none.questions).toBe(0);
    expect(none.calibration).toBeNull();
    expect(none.scorer).toBe('head');
  });
});
