import { describe, it, expect } from 'vitest';
import { apAtThreshold, calibrateThreshold, evaluateOpenSet, planOpenSet, rankQuery, type RankedQuery } from '../../src/eval/open-set.js';
import { walkPredictions } from '../../src/infer/walk.js';
import { averagePrecisionAt5 } from '../../src/infer/metrics.js';
import { createRng } from '../../src/util/random.js';

/** 10 individuals of 3 photos, 2 of one photo, 4 new_whale photos. */
function craftedIds(): string[] {
  const ids: string[] = [];
  for (let k = 0; k < 10; k++) ids.push(`w${k}`, `w${k}`, `w${k}`);
  ids.push('s0', 's1', 'new_whale', 'new_whale', 'new_whale', 'new_whale');
  return ids;
}

describe('planOpenSet', () => {
  it('splits by individual: one gallery photo per known individual, none for new ones, parts disjoint', () => {
    const ids = craftedIds();
    const plan = planOpenSet(ids, { newShare: 0.3, calibrationShare: 0.3, seed: 4 });
    expect(plan.individuals).toEqual({ calibration: { total: 3, new: 1 }, test: { total: 7, new: 2 } });
    const galleryIds = plan.gallery.map((i) => ids[i]);
    expect(galleryIds).toContain('s0');
    expect(galleryIds).toContain('s1');
    const queried = new Set(plan.queries.map((q) => q.index));
    for (const g of plan.gallery) expect(queried.has(g)).toBe(false);
    // every photo of a 2+ photo individual is used exactly once, new_whale photos are queries
    expect(plan.gallery.length + plan.queries.length).toBe(ids.length);
    const partOf = new Map<string, Set<string>>();
    for (const q of plan.queries) {
      const id = ids[q.index];
      if (id === 'new_whale') {
        expect(q.truth).toBe('new_whale');
        continue;
      }
      partOf.set(id, (partOf.get(id) ?? new Set()).add(q.part));
      const inGallery = galleryIds.filter((g) => g === id).length;
      if (q.truth === 'new_whale') expect(inGallery).toBe(0);
      else {
        expect(q.truth).toBe(id);
        expect(inGallery).toBe(1);
      }
    }
    for (const parts of partOf.values()) expect(parts.size).toBe(1);
    const newIndividuals = new Set(plan.queries.filter((q) => q.truth === 'new_whale' && ids[q.index] !== 'new_whale').map((q) => ids[q.index]));
    expect(newIndividuals.size).toBe(3);
    expect(plan.queries.filter((q) => ids[q.index] === 'new_whale' && q.part === 'calibration')).toHaveLength(1);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const ids = craftedIds();
    expect(planOpenSet(ids, { seed: 1 })).toEqual(planOpenSet(ids, { seed: 1 }));
    expect(planOpenSet(ids, { seed: 1 }).gallery).not.toEqual(planOpenSet(ids, { seed: 2 }).gallery);
  });

  it('refuses too few individuals and bad shares', () => {
    expect(() => planOpenSet(['a', 'a', 'b'], {})).toThrow(/2\+ photos in both/);
    expect(() => planOpenSet(craftedIds(), { newShare: 1 })).toThrow(/newShare/);
    expect(() => planOpenSet(craftedIds(), { calibrationShare: 0 })).toThrow(/calibrationShare/);
  });
});

describe('apAtThreshold and calibrateThreshold', () => {
  const randomQuery = (rng: ReturnType<typeof createRng>, ids: string[]): { row: Float32Array; truth: string } => {
    // coarse scores so ties and thresholds equal to a score occur
    const row = Float32Array.from(ids, () => Math.round(rng.next() * 20) / 20);
    const truth = rng.chance(0.3) ? 'new_whale' : rng.chance(0.2) ? 'w_absent' : rng.pick(ids);
    return { row, truth };
  };

  it('equals the walk followed by AP@5 for any threshold', () => {
    const rng = createRng(11);
    for (let t = 0; t < 400; t++) {
      const ng = 1 + rng.int(12);
      const ids = Array.from({ length: ng }, () => `w${rng.int(8)}`);
      const { row, truth } = randomQuery(rng, ids);
      const threshold = rng.chance(0.5) ? rng.pick([...row]) : rng.uniform(-0.1, 1.1);
      const expected = averagePrecisionAt5(truth, walkPredictions(row, ids, threshold));
      expect(apAtThreshold(rankQuery(row, ids, truth), threshold)).toBe(expected);
    }
  });

  it('finds the best MAP@5 of every possible threshold', () => {
    const rng = createRng(12);
    for (let t = 0; t < 40; t++) {
      const ids = Array.from({ length: 9 }, (_, j) => `w${j % 6}`);
      const qs: RankedQuery[] = Array.from({ length: 1 + rng.int(30) }, () => {
        const { row, truth } = randomQuery(rng, ids);
        return rankQuery(row, ids, truth);
      });
      const mapAt = (th: number): number => qs.reduce((s, q) => s + apAtThreshold(q, th), 0) / qs.length;
      const candidates = [-1, 2, ...qs.flatMap((q) => q.scores.flatMap((s) => [s, s + 0.025, s - 0.025]))];
      const bruteBest = Math.max(...candidates.map(mapAt));
      const cal = calibrateThreshold(qs);
      expect(cal.map5).toBeCloseTo(bruteBest, 12);
      expect(mapAt(cal.threshold)).toBeCloseTo(bruteBest, 12);
    }
  });

  it('puts the threshold between the matches and the non-matches of a separable set', () => {
    const qs: RankedQuery[] = [
      { ids: ['a', 'b'], scores: [0.9, 0.2], truth: 'a' },
      { ids: ['b', 'a'], scores: [0.8, 0.1], truth: 'b' },
      { ids: ['a', 'b'], scores: [0.4, 0.3], truth: 'new_whale' },
    ];
    const cal = calibrateThreshold(qs);
    expect(cal.map5).toBe(1);
    expect(cal.threshold).toBeCloseTo(0.6, 12); // midway between 0.8 (kept) and 0.4
    expect(() => calibrateThreshold([])).toThrow(/without calibration queries/);
  });
});

describe('evaluateOpenSet', () => {
  // 20 individuals of 2-4 photos; a photo's "feature" is its individual's number plus a little
  // noise, the score exp(-|a - b|): a photo's own individual scores > 0.6, any other < 0.01.
  const rng = createRng(3);
  const photos: { image: string; id: string; x: number }[] = [];
  for (let k = 0; k < 20; k++) {
    const n = 2 + (k % 3);
    for (let j = 0; j < n; j++) photos.push({ image: `w${k}/${j}.png`, id: `w${k}`, x: 5 * k + rng.uniform(-0.2, 0.2) });
  }
  const similarity = (q: readonly number[], g: readonly number[]): Promise<Float32Array> =>
    Promise.resolve(Float32Array.from(q.flatMap((i) => g.map((j) => Math.exp(-Math.abs(photos[i].x - photos[j].x))))));

  it('scores a separable set perfectly, with the threshold between matches and non-matches', async () => {
    const res = await evaluateOpenSet(photos, similarity, { seed: 7, newShare: 0.3 });
    expect(res.test.map5).toBe(1);
    expect(res.test.top1).toBe(1);
    expect(res.newWhale.precision).toBe(1);
    expect(res.newWhale.recall).toBe(1);
    expect(res.newWhale.actual).toBeGreaterThan(0);
    expect(res.calibration.map5).toBe(1);
    expect(res.calibration.threshold).toBeGreaterThan(0.01);
    expect(res.calibration.threshold).toBeLessThan(0.6);
    expect(res.queries.filter((q) => q.part === 'test')).toHaveLength(res.test.count);
  });

  it('never looks at the test queries to choose the threshold', async () => {
    const options = { seed: 7, newShare: 0.3 };
    const plan = planOpenSet(photos.map((p) => p.id), options);
    const testQueries = new Set(plan.queries.filter((q) => q.part === 'test').map((q) => q.index));
    // same scores for calibration queries, the opposite ranking for test queries
    const scrambled = async (q: readonly number[], g: readonly number[]): Promise<Float32Array> => {
      const s = await similarity(q, g);
      q.forEach((i, qi) => {
        if (testQueries.has(i)) for (let j = 0; j < g.length; j++) s[qi * g.length + j] = 1 - s[qi * g.length + j];
      });
      return s;
    };
    const clean = await evaluateOpenSet(photos, similarity, options);
    const bad = await evaluateOpenSet(photos, scrambled, options);
    expect(bad.calibration).toEqual(clean.calibration);
    expect(bad.test.map5).toBeLessThan(0.3);
  });

  it('gives the known answer on a crafted confusion: w1 looks like w0, less than like itself', async () => {
    // own individual: score >= exp(-0.4) = 0.67; w0 vs w1: between exp(-1.4) and exp(-1); others < exp(-4)
    const looksLike = (i: number): number => (photos[i].id === 'w1' ? photos[i].x - 5 : photos[i].x);
    const confused = (q: readonly number[], g: readonly number[]): Promise<Float32Array> =>
      Promise.resolve(Float32Array.from(q.flatMap((i) => g.map((j) => Math.exp(-Math.abs(looksLike(i) - looksLike(j)) - (photos[i].id === photos[j].id ? 0 : 1))))));
    let checked = 0;
    for (let seed = 0; seed < 8; seed++) {
      const res = await evaluateOpenSet(photos, confused, { seed, newShare: 0.3 });
      expect(res.calibration.threshold).toBeLessThan(0.67);
      for (const q of res.queries) {
        const known = q.predicted.filter((id) => id !== 'new_whale');
        if ((q.truth === 'w1' && known.includes('w0')) || (q.truth === 'w0' && known.includes('w1'))) {
          expect(known.slice(0, 2)).toEqual([q.truth, q.truth === 'w0' ? 'w1' : 'w0']);
          expect(q.ap).toBe(1);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(3);
  });
});
