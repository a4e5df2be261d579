/**
 * Ranking a large gallery without scoring every photo. Two ways, both scoring every photo of a
 * chosen individual exactly by the run's own head (the score kernel) and ranking those scores as
 * the whole gallery's would be (a candidate is ranked by its best photo and listed with its best
 * few, so one photo is enough to bring an individual in with its exact score and photo list):
 * - {@link boundRanker} (exact): every photo's score is bounded from its bytes ({@link
 *   encodeGallery}, {@link headBound}); the individuals of the photos with the largest bounds give
 *   a threshold (their K-th best exact score), and every individual with a photo whose bound
 *   reaches it is scored. The answer is the exhaustive ranking's, whatever the head.
 * - {@link shortlistRanker} (approximate): the feature index's nearest photos choose them.
 */
import type { HeadWeights } from '../model/network/head-weights.js';
import type { FeatureIndex } from './feature-index.js';
import type { ScoredGallery } from './scored-gallery.js';
import type { GalleryCodes } from './feature-codes.js';
import { headBound } from './head-bound.js';
import { createScoreKernel } from './score-kernel.js';
import { rankIndividuals, rankingIndex, type RankedIndividual, type RankOptions } from './score-shards.js';
import { invalidParameterError } from '../util/errors.js';

/** Ranks queries against a large gallery. */
export interface ShortlistRanker {
  /** The top individuals for a query, scored exactly among the chosen individuals' photos. */
  rank(query: Float32Array, options: RankOptions): RankedIndividual[];
  /** Photos the last query scored exactly (0 before the first). */
  readonly scored: number;
}

/** Ranks queries against a gallery through its feature index. */
export interface IndexShortlistRanker extends ShortlistRanker {
  /** Photos taken from the index per query. */
  readonly shortlist: number;
}

/** A gallery's rows grouped by individual slot (CSR): slot s's rows are bySlot[start[s] .. start[s + 1]). */
function rowsBySlot(g: ScoredGallery): { start: Int32Array; bySlot: Int32Array } {
  const n = g.rows.length;
  const slots = g.index.slotIndividual.length;
  const start = new Int32Array(slots + 1);
  for (let j = 0; j < n; j++) start[g.index.slot[j] + 1]++;
  for (let s = 0; s < slots; s++) start[s + 1] += start[s];
  const bySlot = new Int32Array(n);
  const fill = start.slice(0, slots);
  for (let j = 0; j < n; j++) bySlot[fill[g.index.slot[j]]++] = j;
  return { start, bySlot };
}

/** Scores every photo of the chosen individual slots exactly and ranks them; also says how many photos that was. */
function rankSlots(g: ScoredGallery, head: HeadWeights, csr: { start: Int32Array; bySlot: Int32Array }, chosen: Iterable<number>, query: Float32Array, options: RankOptions): { ranked: RankedIndividual[]; scored: number } {
  const F = head.features;
  const rows: number[] = [];
  for (const s of chosen) for (let p = csr.start[s]; p < csr.start[s + 1]; p++) rows.push(csr.bySlot[p]);
  if (rows.length === 0) return { ranked: [], scored: 0 };
  const cols = new Float32Array(rows.length * F);
  rows.forEach((j, i) => cols.set(g.vectors[j], i * F));
  const scores = new Float32Array(rows.length);
  createScoreKernel(head, cols).scoreRow(query, 0, rows.length, scores);
  const sub = rankingIndex(Int32Array.from(rows, (j) => g.photoIds[j]), Int32Array.from(rows, (j) => g.individualIds[j]));
  return { ranked: rankIndividuals(scores, sub, options), scored: rows.length };
}

/** Rows of the `m` largest values (any order among them). */
function largest(values: Float32Array, m: number): number[] {
  const top: number[] = [];
  let floor = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    if (top.length === m && !(v > floor)) continue;
    // insertion into the list kept in descending order (m is small; few values get past the floor)
    let p = top.length < m ? top.length : m - 1;
    if (top.length < m) top.push(j);
    while (p > 0 && values[top[p - 1]] < v) {
      top[p] = top[p - 1];
      p--;
    }
    top[p] = j;
    if (top.length === m) floor = values[top[m - 1]];
  }
  return top;
}

/**
 * A logit below which a bound cannot reach the score `t` after the sigmoid and float32 rounding:
 * a fast first test before the exact one (one logit of room where float32 is coarse: near 0 and 1).
 */
function logitBelow(t: number): number {
  if (!(t > 0)) return Number.NEGATIVE_INFINITY;
  if (t >= 1) return 15;
  const room = t > 1e-3 && t < 1 - 1e-3 ? 1e-3 : 1;
  return Math.log(t) - Math.log1p(-t) - room;
}

/** Photos whose bounds choose the first threshold (their individuals are scored first). */
const SEEDS = 64;

/**
 * The exact ranker of a gallery from its bytes: each query sums its bound table over every
 * photo's bytes (one WebAssembly pass), scores the individuals of the {@link SEEDS} largest bounds
 * exactly, takes their K-th best score as the threshold, and scores exactly every individual
 * with a photo whose bound reaches it. An individual left out has every photo's score below the
 * threshold, which the K-th best of the whole gallery is not: the answer is exhaustive scoring's.
 *
 * @param g - the gallery (rows, individuals, features)
 * @param head - the run's head: the exact scorer and what the bounds bound
 * @param codes - the gallery's bytes, in its row order ({@link encodeGallery})
 * @returns the ranker
 * @throws {@link WhaleidError} when the codes are not of this gallery's rows
 * @example
 * const ranker = boundRanker(gallery, run.inference.head, encodeGallery(gallery.photoIds, gallery.vectors, 128, null));
 * const top = ranker.rank(query, { k: 5, photosPerCandidate: 3 }); // === gallery.rank(query, ...)
 */
export function boundRanker(g: ScoredGallery, head: HeadWeights, codes: GalleryCodes): ShortlistRanker {
  const n = g.rows.length;
  if (codes.scanner.count !== n || codes.scanner.dim !== head.features) throw invalidParameterError('codes', `${n} photos of ${head.features} features`, `${codes.scanner.count} of ${codes.scanner.dim}`);
  const csr = rowsBySlot(g);
  const slot = g.index.slot;
  let scored = 0;
  return {
    get scored() {
      return scored;
    },
    rank(query, options) {
      if (query.length !== head.features) throw invalidParameterError('query.length', String(head.features), query.length);
      const { offset } = headBound(head, query, codes.edges, codes.scanner.table);
      const bounds = codes.scanner.scan();
      const chosen = new Set<number>();
      for (const j of largest(bounds, SEEDS)) chosen.add(slot[j]);
      for (const j of codes.unbounded) chosen.add(slot[j]);
      const first = rankSlots(g, head, csr, chosen, query, options);
      // fewer than K individuals among them: every individual may be in the top K
      const t = first.ranked.length >= options.k ? first.ranked[options.k - 1].score : Number.NEGATIVE_INFINITY;
      const before = chosen.size;
      const cut = logitBelow(t) - offset;
      for (let j = 0; j < n; j++) {
        if (!(bounds[j] >= cut) || chosen.has(slot[j])) continue;
        // the bound as the kernel would round its score: a photo whose bound stays under t cannot reach it
        if (Math.fround(1 / (1 + Math.exp(-(bounds[j] + offset)))) >= t) chosen.add(slot[j]);
      }
      const last = chosen.size === before ? first : rankSlots(g, head, csr, chosen, query, options);
      scored = last.scored;
      return last.ranked;
    },
  };
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
export function shortlistRanker(g: ScoredGallery, head: HeadWeights, index: FeatureIndex, shortlist: number): IndexShortlistRanker {
  const n = g.rows.length;
  const rowOf = new Map<number, number>();
  for (let j = 0; j < n; j++) rowOf.set(g.photoIds[j], j);
  const csr = rowsBySlot(g);
  let scored = 0;
  return {
    shortlist,
    get scored() {
      return scored;
    },
    rank(query, options) {
      const chosen = new Set<number>();
      // one more than asked: the query itself is often a gallery photo
      for (const id of index.search(query, shortlist + 1)) {
        const j = rowOf.get(id);
        if (j !== undefined) chosen.add(g.index.slot[j]);
      }
      const out = rankSlots(g, head, csr, chosen, query, options);
      scored = out.scored;
      return out.ranked;
    },
  };
}
