import { describe, it, expect } from 'vitest';
import { scoreLnbnn } from '../../../src/infer/local/lnbnn.js';

// catalog: 4 photos; photos 0 and 1 are individual 0, photo 2 individual 1, photo 3 individual 2;
// descriptor label L belongs to photo L (one descriptor per photo is enough here)
const photoOf = Int32Array.of(0, 1, 2, 3);
const individualOf = Int32Array.of(0, 0, 1, 2);

describe('scoreLnbnn', () => {
  it('weights each vote by the normaliser distance minus the match distance', () => {
    // k = 2: two voters (labels 2 and 3), the third neighbour (distance 1.0) normalises
    const r = scoreLnbnn([{ labels: [2, 3, 0], distances: [0.2, 0.7, 1.0] }], photoOf, individualOf, 3, 2);
    expect(Array.from(r.scores)).toEqual([0, expect.closeTo(0.8, 12), expect.closeTo(0.3, 12)]);
    expect(r.matches.map((m) => [m.query, m.label, m.photo, m.individual])).toEqual([
      [0, 2, 2, 1],
      [0, 3, 3, 2],
    ]);
  });

  it('gives one vote per individual per query keypoint: the nearest of its photos', () => {
    // labels 0 and 1 are two photos of individual 0: only the nearer (0.1) votes
    const r = scoreLnbnn([{ labels: [1, 0, 2, 3], distances: [0.1, 0.15, 0.5, 0.9] }], photoOf, individualOf, 3, 3);
    expect(r.scores[0]).toBeCloseTo(0.8, 12);
    expect(r.scores[1]).toBeCloseTo(0.4, 12);
    expect(r.matches.filter((m) => m.individual === 0)).toHaveLength(1);
    expect(r.matches[0].label).toBe(1);
  });

  it('sums votes over query keypoints', () => {
    const r = scoreLnbnn(
      [
        { labels: [3, 2], distances: [0.25, 0.5] },
        { labels: [3, 0], distances: [0.1, 0.6] },
      ],
      photoOf,
      individualOf,
      3,
      1,
    );
    expect(r.scores[2]).toBeCloseTo(0.25 + 0.5, 12);
    expect(r.scores[0]).toBe(0);
  });

  it('uses the last neighbour found as the normaliser when fewer than k+1 came back', () => {
    const r = scoreLnbnn([{ labels: [0, 2], distances: [0.3, 0.4] }], photoOf, individualOf, 3, 4);
    expect(r.scores[0]).toBeCloseTo(0.1, 12);
    expect(r.scores[1]).toBe(0); // the normaliser itself never votes
  });

  it('gives no vote without a normaliser or at a distance equal to it', () => {
    const r = scoreLnbnn(
      [
        { labels: [0], distances: [0.1] },
        { labels: [2, 3], distances: [0.5, 0.5] },
      ],
      photoOf,
      individualOf,
      3,
      1,
    );
    expect(Array.from(r.scores)).toEqual([0, 0, 0]);
    expect(r.matches).toEqual([]);
  });
});
