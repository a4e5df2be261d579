import { describe, it, expect } from 'vitest';
import { createPairMiner, derangement } from '../../src/train/pairs.js';
import { SCHEDULE_PRESETS, totalEpochs, resolveSchedule } from '../../src/train/schedule.js';
import { splitByIndividuals } from '../../src/train/split.js';
import { createRng } from '../../src/util/random.js';

describe('derangement', () => {
  it('never leaves an item in place and is deterministic', () => {
    for (let n = 2; n < 9; n++) {
      const items = Array.from({ length: n }, (_, i) => i);
      const d = derangement(items, createRng(n));
      expect(d.every((x, i) => x !== i)).toBe(true);
      expect([...d].sort()).toEqual(items);
      expect(derangement(items, createRng(n))).toEqual(d);
    }
  });
});

describe('createPairMiner', () => {
  // 6 whales x 3 photos; scores: high within pairs of whales (0,1), (2,3), (4,5) -> hard negatives
  const whaleOf = Int32Array.from({ length: 18 }, (_, i) => Math.floor(i / 3));
  const n = 18;
  const S = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = Math.floor(whaleOf[i] / 2) === Math.floor(whaleOf[j] / 2) ? 0.9 : 0.1;

  it('makes one matching and one non-matching pair per photo, with no same-whale negatives', () => {
    const next = createPairMiner(S, whaleOf, 0, createRng(1));
    const { matches, unmatches } = next();
    expect(matches).toHaveLength(n);
    expect(unmatches).toHaveLength(n);
    for (const [a, b] of matches) {
      expect(whaleOf[a]).toBe(whaleOf[b]);
      expect(a).not.toBe(b);
    }
    expect(new Set(matches.map(([a]) => a)).size).toBe(n);
    expect(new Set(unmatches.map(([a]) => a)).size).toBe(n);
    expect(new Set(unmatches.map(([, b]) => b)).size).toBe(n);
    for (const [a, b] of unmatches) expect(whaleOf[a]).not.toBe(whaleOf[b]);
  });
  it('with no noise picks the hardest negatives (the look-alike whale)', () => {
    const { unmatches } = createPairMiner(S, whaleOf, 0, createRng(1))();
    for (const [a, b] of unmatches) expect(Math.floor(whaleOf[a] / 2)).toBe(Math.floor(whaleOf[b] / 2));
  });
  it('never repeats a negative pair within a group', () => {
    const next = createPairMiner(S, whaleOf, 0, createRng(2));
    const seen = new Set<string>();
    for (let e = 0; e < 3; e++) {
      const keys = next().unmatches.map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
      for (const k of keys) expect(seen.has(k)).toBe(false); // a cell and its mirror are forbidden after use
      for (const k of keys) seen.add(k);
    }
  });
  it('with large noise the negatives are mostly random', () => {
    const { unmatches } = createPairMiner(S, whaleOf, 1000, createRng(3))();
    const lookAlike = unmatches.filter(([a, b]) => Math.floor(whaleOf[a] / 2) === Math.floor(whaleOf[b] / 2)).length;
    expect(lookAlike).toBeLessThan(n / 2);
  });
  it('is deterministic for a seed', () => {
    expect(createPairMiner(S, whaleOf, 1, createRng(5))()).toEqual(createPairMiner(S, whaleOf, 1, createRng(5))());
  });
  it('with views, matches only photos of the same view, and negatives still never pair one whale', () => {
    // 6 whales x 4 photos: views left, left, right, right
    const w = Int32Array.from({ length: 24 }, (_, i) => Math.floor(i / 4));
    const view = Int32Array.from({ length: 24 }, (_, i) => (i % 4 < 2 ? 0 : 1));
    const S4 = new Float32Array(24 * 24).fill(0.5);
    const { matches, unmatches } = createPairMiner(S4, w, 1, createRng(6), view)();
    expect(matches).toHaveLength(24);
    for (const [a, b] of matches) {
      expect(w[a]).toBe(w[b]);
      expect(view[a]).toBe(view[b]);
    }
    for (const [a, b] of unmatches) expect(w[a]).not.toBe(w[b]);
    // without views some matches cross views
    expect(createPairMiner(S4, w, 1, createRng(6))().matches.some(([a, b]) => view[a] !== view[b])).toBe(true);
  });
});

describe('schedules', () => {
  it('the method schedule has 400 epochs and the method\'s shape', () => {
    const k = SCHEDULE_PRESETS.method;
    expect(totalEpochs(k)).toBe(400);
    expect(k.groups[0]).toEqual({ epochs: 10, lr: 64e-5, K: 1000 });
    expect(k.groups[1].K).toBe(100);
    expect(k.groups[10].K).toBeCloseTo(100 * 0.631 ** 9, 0);
    const at = (epoch: number): (typeof k.groups)[number] => {
      let e = 0;
      for (const g of k.groups) {
        e += g.epochs;
        if (epoch < e) return g;
      }
      throw new Error('past the end');
    };
    expect([at(149).lr, at(149).K]).toEqual([64e-5, 1]);
    expect([at(150).lr, at(150).K]).toEqual([16e-5, 0.5]);
    expect([at(239).lr, at(240).lr, at(249).lr]).toEqual([4e-5, 1e-5, 1e-5]);
    expect(at(250).rebuildL2).toBe(2e-4);
    expect([at(399).lr, at(399).K]).toEqual([1e-5, 0.25]);
  });
  it('refuses unknown presets and bad groups', () => {
    expect(() => resolveSchedule('fast')).toThrow(/Expected one of method, short, long, smoke for schedule/);
    expect(() => resolveSchedule({ groups: [{ epochs: 0, lr: 1e-4, K: 1 }] })).toThrow(/schedule\.groups\[0\]\.epochs/);
  });
});

describe('splitByIndividuals', () => {
  const ids = [
    ...Array.from({ length: 40 }, (_, i) => `w_${Math.floor(i / 4)}`), // 10 whales x 4
    'w_single', 'new_whale', 'new_whale', 'new_whale', 'new_whale',
  ];
  it('holds out whole whales, with queries answered by id or new_whale', () => {
    const s = splitByIndividuals(ids, { valShare: 0.3, newShare: 0.34, seed: 1 });
    const trainWhales = new Set(s.train.map((i) => ids[i]));
    const heldWhales = s.queries.map((q) => ids[q.index]).filter((id) => id !== 'new_whale');
    expect(heldWhales).toHaveLength(3);
    for (const w of heldWhales) expect(trainWhales.has(w)).toBe(false);
    const newQueries = s.queries.filter((q) => q.truth === 'new_whale');
    expect(newQueries.length).toBe(1 + 1); // one held-out whale kept no gallery photo, plus 30% of 4 new_whale photos
    for (const q of s.queries.filter((x) => x.truth !== 'new_whale')) {
      expect(s.gallery.some((g) => ids[g] === q.truth && g !== q.index)).toBe(true);
    }
    expect(s.gallery.includes(ids.indexOf('w_single'))).toBe(true);
    expect(s.train.includes(ids.indexOf('w_single'))).toBe(false);
    expect(splitByIndividuals(ids, { valShare: 0.3, newShare: 0.34, seed: 1 })).toEqual(s);
    expect(splitByIndividuals(ids, { valShare: 0.3, newShare: 0.34, seed: 2 })).not.toEqual(s);
  });
});
