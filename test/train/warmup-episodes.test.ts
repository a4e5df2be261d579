import { describe, expect, it } from 'vitest';
import { planEpisodes } from '../../src/train/warmup-episodes.js';
import { createRng } from '../../src/util/random.js';

describe('episodes of the prototypical warm-up', () => {
  // 5 classes of 4 photos, one class of 1 photo (no query possible: left out)
  const classOf = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5]);

  it('draws ways classes, each with its support photos first and up to queries queries, labels 2 x slot + role', () => {
    const plan = planEpisodes(classOf, 1, { ways: 3, shots: 1, queries: 2 });
    expect(plan.ways).toBe(3);
    expect(plan.perEpoch).toBe(Math.round(21 / 9));
    const e = plan.draw(createRng(1));
    expect(e).toHaveLength(9);
    for (let slot = 0; slot < 3; slot++) {
      const mine = e.filter((p) => Math.floor(p.label / 2) === slot);
      expect(mine.map((p) => p.label % 2)).toEqual([0, 1, 1]);
      // one class per slot, distinct photos
      expect(new Set(mine.map((p) => classOf[p.position])).size).toBe(1);
      expect(new Set(mine.map((p) => p.position)).size).toBe(3);
    }
    expect(e.some((p) => classOf[p.position] === 5)).toBe(false);
    expect(plan.draw(createRng(1))).toEqual(e);
    expect(plan.draw(createRng(2))).not.toEqual(e);
  });

  it('makes each turn a class of its own, caps ways at the classes there are, and refuses fewer than 2', () => {
    const plan = planEpisodes(classOf, 4, { ways: 60, shots: 2, queries: 5 });
    expect(plan.ways).toBe(20); // 5 usable classes x 4 turns
    const e = plan.draw(createRng(3));
    // a slot's photos share their turn; all four turns appear
    for (let slot = 0; slot < 20; slot++) expect(new Set(e.filter((p) => Math.floor(p.label / 2) === slot).map((p) => p.turn)).size).toBe(1);
    expect(new Set(e.map((p) => p.turn))).toEqual(new Set([0, 1, 2, 3]));
    expect(() => planEpisodes(Int32Array.from([0, 0, 1]), 1, { ways: 5, shots: 1, queries: 1 })).toThrow(/needs 2 classes with 2 training photos or more/);
  });
});
