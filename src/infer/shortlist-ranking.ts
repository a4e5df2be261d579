/**
 * Ranking a large gallery through a shortlist: the feature index names the photos nearest the
 * query, every photo of their individuals is scored exactly by the run's own head (the score
 * kernel), and those scores are ranked as the whole gallery's would be. Why every photo of a
 * shortlisted individual: a candidate is ranked by its best photo and listed with its best few, so
 * one near photo is enough to bring an individual in with its exact score and photo list.
 */
import type { HeadWeights } from '../model/network/head-weights.js';
import type { FeatureIndex } from './feature-index.js';
import type { ScoredGallery } from './scored-gallery.js';
import { createScoreKernel } from './score-kernel.js';
import { rankIndividuals, rankingIndex, type RankedIndividual, type RankOptions } from './score-shards.js';

/** Ranks queries against a gallery through its feature index. */
export interface ShortlistRanker {
  /** Photos taken from the index per query. */
  readonly shortlist: number;
  /** The top individuals for a query, scored exactly among the shortlisted individuals' photos. */
  rank(query: Float32Array, options: RankOptions): RankedIndividual[];
}

/**
 * A shortlist ranker over a scored gallery whose photos the index covers (reconciled with the
 * gallery's rows by the caller; an indexed photo no longer in the gallery is skipped).
 *
 * @param g - the gallery (rows, individuals, features)
 * @param head - the run's head: the exact scorer
 * @param index - the gallery's feature index
 * @param shortlist - photos taken from the index per query (bench:scale measures recall against it)
 * @returns the ranker
 * @throws {@link WhaleidError} through {@link rankIndividuals} when K or photos per candidate are not positive integers
 * @example
 * const ranker = shortlistRanker(gallery, run.inference.head, index, 2000);
 * const top = ranker.rank(query, { k: 5, photosPerCandidate: 3 });
 */
export function shortlistRanker(g: ScoredGallery, head: HeadWeights, index: FeatureIndex, shortlist: number): ShortlistRanker {
  const F = head.features;
  const n = g.rows.length;
  const rowOf = new Map<number, number>();
  for (let j = 0; j < n; j++) rowOf.set(g.photoIds[j], j);
  // rows by individual slot (CSR): an individual's photos in one slice
  const slots = g.index.slotIndividual.length;
  const start = new Int32Array(slots + 1);
  for (let j = 0; j < n; j++) start[g.index.slot[j] + 1]++;
  for (let s = 0; s < slots; s++) start[s + 1] += start[s];
  const bySlot = new Int32Array(n);
  const fill = start.slice(0, slots);
  for (let j = 0; j < n; j++) bySlot[fill[g.index.slot[j]]++] = j;
  return {
    shortlist,
    rank(query, options) {
      const chosen = new Set<number>();
      // one more than asked: the query itself is often a gallery photo
      for (const id of index.search(query, shortlist + 1)) {
        const j = rowOf.get(id);
        if (j !== undefined) chosen.add(g.index.slot[j]);
      }
      const rows: number[] = [];
      for (const s of chosen) for (let p = start[s]; p < start[s + 1]; p++) rows.push(bySlot[p]);
      if (rows.length === 0) return [];
      const cols = new Float32Array(rows.length * F);
      rows.forEach((j, i) => cols.set(g.vectors[j], i * F));
      const scores = new Float32Array(rows.length);
      createScoreKernel(head, cols).scoreRow(query, 0, rows.length, scores);
      const sub = rankingIndex(Int32Array.from(rows, (j) => g.photoIds[j]), Int32Array.from(rows, (j) => g.individualIds[j]));
      return rankIndividuals(scores, sub, options);
    },
  };
}
