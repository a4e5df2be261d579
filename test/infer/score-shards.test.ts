import { describe, it, expect } from 'vitest';
import type { HeadWeights } from '../../src/model/network/head-weights.js';
import { createScoreKernel } from '../../src/infer/score-kernel.js';
import { mergeRankings, rankIndividuals, rankingIndex, shardOf, type RankedIndividual } from '../../src/infer/score-shards.js';
import { createRng } from '../../src/util/random.js';

/** Random head weights as plain data (the kernel needs no tfjs). */
function randomWeights(F: number, M: number, seed: number): HeadWeights {
  const rng = createRng(seed);
  const arr = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal(0, s));
  return { features: F, mid: M, w1: arr(4 * M, 0.5), b1: arr(M, 0.3), w2: arr(M, 0.5), b2: rng.normal(0, 0.3), w3: arr(F, 0.3), b3: rng.normal(0, 0.3) };
}

/** The ranking as the identifier made it before shards: every photo in a list per individual, sorted. */
function naiveRanking(scores: Float32Array, photoIds: Int32Array, individualIds: Int32Array, k: number, per: number, exclude?: number): RankedIndividual[] {
  const by = new Map<number, { photoId: number; score: number }[]>();
  for (let j = 0; j < photoIds.length; j++) {
    if (photoIds[j] === exclude) continue;
    const list = by.get(individualIds[j]) ?? [];
    list.push({ photoId: photoIds[j], score: scores[j] });
    by.set(individualIds[j], list);
  }
  return [...by.entries()].map(([individualId, list]) => {
    list.sort((a, b) => b.score - a.score || a.photoId - b.photoId);
    return { individualId, score: list[0].score, photos: list.slice(0, per) };
  }).sort((a, b) => b.score - a.score || a.individualId - b.individualId).slice(0, k);
}

describe('sharded scoring', () => {
  it('ranks individuals like the per-individual lists, ties by id, the query photo left out', () => {
    const rng = createRng(5);
    const n = 3000;
    const photoIds = Int32Array.from({ length: n }, (_, j) => 10 + 3 * j);
    const individualIds = Int32Array.from({ length: n }, () => 1 + Math.floor(rng.next() * 400));
    // coarse scores: many exact ties between photos and between individuals
    const scores = Float32Array.from({ length: n }, () => Math.round(rng.next() * 50) / 50);
    const index = rankingIndex(photoIds, individualIds);
    for (const [k, per] of [[1, 1], [5, 3], [20, 7], [500, 2]]) {
      const exclude = photoIds[Math.floor(rng.next() * n)];
      expect(rankIndividuals(scores, index, { k, photosPerCandidate: per, excludePhotoId: exclude })).toEqual(naiveRanking(scores, photoIds, individualIds, k, per, exclude));
    }
    expect(rankIndividuals(new Float32Array(0), rankingIndex(new Int32Array(0), new Int32Array(0)), { k: 5, photosPerCandidate: 3 })).toEqual([]);
    expect(() => rankIndividuals(scores, index, { k: 0, photosPerCandidate: 3 })).toThrow(/positive integer for k/);
  });

  it('the shards\u2019 merged top K equals the whole gallery\u2019s top K, scored by the kernel on the same features', () => {
    const F = 32;
    const w = randomWeights(F, 8, 3);
    const rng = createRng(11);
    const n = 2500;
    const features = Float32Array.from({ length: n * F }, () => Math.max(0, rng.normal(0.4, 0.6)));
    const photoIds = Int32Array.from({ length: n }, (_, j) => j + 1);
    const individualIds = Int32Array.from({ length: n }, () => 1 + Math.floor(rng.next() * 300));
    const whole = createScoreKernel(w, features);
    for (const qi of [0, 17, 1234]) {
      const query = features.slice(qi * F, (qi + 1) * F);
      const scores = new Float32Array(n);
      whole.scoreRow(query, 0, n, scores);
      const o = { k: 5, photosPerCandidate: 3, excludePhotoId: photoIds[qi] };
      const want = rankIndividuals(scores, rankingIndex(photoIds, individualIds), o);
      expect(want).toEqual(naiveRanking(scores, photoIds, individualIds, 5, 3, photoIds[qi]));
      for (const shards of [1, 2, 3, 7]) {
        const parts = Array.from({ length: shards }, (_, s) => {
          const rows = [...photoIds.keys()].filter((j) => shardOf(individualIds[j], shards) === s);
          const cols = new Float32Array(rows.length * F);
          rows.forEach((j, i) => cols.set(features.subarray(j * F, (j + 1) * F), i * F));
          const out = new Float32Array(rows.length);
          if (rows.length) createScoreKernel(w, cols).scoreRow(query, 0, rows.length, out);
          return rankIndividuals(out, rankingIndex(Int32Array.from(rows, (j) => photoIds[j]), Int32Array.from(rows, (j) => individualIds[j])), o);
        });
        expect(mergeRankings(parts, o)).toEqual(want);
      }
    }
  });

  it('merges an individual found in two shards (photos moved while they were read) into one candidate', () => {
    const a: RankedIndividual[] = [{ individualId: 4, score: 0.9, photos: [{ photoId: 1, score: 0.9 }, { photoId: 2, score: 0.5 }] }];
    const b: RankedIndividual[] = [{ individualId: 4, score: 0.7, photos: [{ photoId: 3, score: 0.7 }] }, { individualId: 2, score: 0.8, photos: [{ photoId: 5, score: 0.8 }] }];
    expect(mergeRankings([a, b], { k: 5, photosPerCandidate: 2 })).toEqual([
      { individualId: 4, score: 0.9, photos: [{ photoId: 1, score: 0.9 }, { photoId: 3, score: 0.7 }] },
      { individualId: 2, score: 0.8, photos: [{ photoId: 5, score: 0.8 }] },
    ]);
    expect(shardOf(-3, 4)).toBe(1);
  });
});
