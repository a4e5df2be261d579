/**
 * A query's candidates from a gallery split into shards: each shard ranks its own individuals,
 * and the shards' rankings merge into the ranking of the whole gallery.
 *
 * Why shards by individual: a candidate is an individual ranked by its best photo, listed with its
 * best few photos. When every photo of an individual lies in one shard, that shard alone knows
 * the individual's best photo and best few photos, and an individual of the whole gallery's top K
 * is in its shard's top K (K others beating it in the shard would beat it in the gallery too). So
 * merging the shards' top K gives exactly the whole gallery's top K, in one round, with K entries
 * per shard on the wire.
 */
import { invalidParameterError } from '../util/errors.js';

/** One photo of a candidate with its score against the query. */
export interface ScoredPhoto {
  photoId: number;
  score: number;
}

/** One individual of a ranking: its best score and its best photos, best first. */
export interface RankedIndividual {
  individualId: number;
  /** The best score of its photos. */
  score: number;
  photos: ScoredPhoto[];
}

/** How many candidates a ranking keeps. */
export interface RankOptions {
  /** Individuals kept (>= 1). */
  k: number;
  /** Photos kept per individual (>= 1). */
  photosPerCandidate: number;
  /** A photo never listed (the query itself when it is a gallery photo). */
  excludePhotoId?: number;
  /** Scoped matching: only these photos are listed (absent: every photo). */
  allowed?: ReadonlySet<number>;
}

/**
 * A gallery's photo and individual columns prepared for ranking: each photo's individual as a
 * dense slot, so a query's best score per individual is one pass over a typed array.
 */
export interface RankingIndex {
  readonly photoIds: Int32Array;
  readonly individualIds: Int32Array;
  /** Per photo: its individual's slot in `slotIndividual`. */
  readonly slot: Int32Array;
  /** Per slot: the individual's id. */
  readonly slotIndividual: Int32Array;
}

/**
 * Builds the ranking index of a gallery (once per gallery, not per query).
 *
 * @param photoIds - the gallery's photos, in the order of its score columns
 * @param individualIds - each photo's individual
 * @returns the index
 * @throws {@link WhaleidError} when the two lengths differ
 * @example
 * const index = rankingIndex(Int32Array.of(1, 2, 3), Int32Array.of(7, 7, 9));
 */
export function rankingIndex(photoIds: Int32Array, individualIds: Int32Array): RankingIndex {
  if (photoIds.length !== individualIds.length) throw invalidParameterError('individualIds.length', `photoIds.length = ${photoIds.length}`, individualIds.length);
  const slots = new Map<number, number>();
  const slot = new Int32Array(photoIds.length);
  for (let j = 0; j < photoIds.length; j++) {
    let s = slots.get(individualIds[j]);
    if (s === undefined) slots.set(individualIds[j], (s = slots.size));
    slot[j] = s;
  }
  return { photoIds, individualIds, slot, slotIndividual: Int32Array.from(slots.keys()) };
}

/** Orders candidates: higher score first, then the lower id (the order every ranking uses). */
const byScoreThenId = <T extends { score: number }>(id: (x: T) => number) => (a: T, b: T): number => b.score - a.score || id(a) - id(b);
const individualOrder = byScoreThenId<RankedIndividual>((x) => x.individualId);
const photoOrder = byScoreThenId<ScoredPhoto>((x) => x.photoId);

function checkOptions(o: RankOptions): void {
  if (!Number.isSafeInteger(o.k) || o.k < 1) throw invalidParameterError('k', 'a positive integer', o.k);
  if (!Number.isSafeInteger(o.photosPerCandidate) || o.photosPerCandidate < 1) throw invalidParameterError('photosPerCandidate', 'a positive integer', o.photosPerCandidate);
}

/**
 * The top individuals of one gallery (or shard) for one query's scores: individuals by their best
 * photo (ties: lower id first), each with its best photos (ties: lower photo id first). Two passes
 * over the scores, no per-photo objects: a 100,000-photo shard ranks in about a millisecond.
 *
 * @param scores - the query's score against each photo of the index, in its order
 * @param index - the gallery's {@link rankingIndex}
 * @param o - K, photos per candidate, the photo to leave out
 * @returns at most K individuals, best first
 * @throws {@link WhaleidError} when `scores` does not match the index or K is not a positive integer
 * @example
 * const top = rankIndividuals(scores, index, { k: 5, photosPerCandidate: 3, excludePhotoId: 42 });
 */
export function rankIndividuals(scores: Float32Array, index: RankingIndex, o: RankOptions): RankedIndividual[] {
  checkOptions(o);
  const n = index.photoIds.length;
  if (scores.length < n) throw invalidParameterError('scores.length', `at least ${n}`, scores.length);
  const best = new Float32Array(index.slotIndividual.length).fill(Number.NEGATIVE_INFINITY);
  const allowed = o.allowed;
  for (let j = 0; j < n; j++) {
    if (index.photoIds[j] === o.excludePhotoId || (allowed && !allowed.has(index.photoIds[j]))) continue;
    const s = index.slot[j];
    if (scores[j] > best[s]) best[s] = scores[j];
  }
  // the K best slots, by a bounded insertion (K is small)
  const top: RankedIndividual[] = [];
  for (let s = 0; s < best.length; s++) {
    if (best[s] === Number.NEGATIVE_INFINITY) continue;
    const cand = { individualId: index.slotIndividual[s], score: best[s], photos: [] };
    if (top.length === o.k && individualOrder(cand, top[o.k - 1]) >= 0) continue;
    let p = top.length < o.k ? top.length : o.k - 1;
    if (top.length < o.k) top.push(cand);
    while (p > 0 && individualOrder(cand, top[p - 1]) < 0) {
      top[p] = top[p - 1];
      p--;
    }
    top[p] = cand;
  }
  const chosen = new Map(top.map((c) => [c.individualId, c]));
  for (let j = 0; j < n; j++) {
    const c = chosen.get(index.individualIds[j]);
    if (!c || index.photoIds[j] === o.excludePhotoId || (allowed && !allowed.has(index.photoIds[j]))) continue;
    c.photos.push({ photoId: index.photoIds[j], score: scores[j] });
  }
  for (const c of top) c.photos = c.photos.sort(photoOrder).slice(0, o.photosPerCandidate);
  return top;
}

/**
 * Merges the rankings of a gallery's shards into the ranking of the whole gallery. With shards by
 * individual ({@link shardOf}) this is exact: the same list {@link rankIndividuals} gives over the
 * whole gallery. An individual found in several shards (its photos moved while the shards were
 * read) gets its best score and the best of its listed photos.
 *
 * @param parts - each shard's ranking
 * @param o - K and photos per candidate, as the shards used
 * @returns at most K individuals, best first
 * @throws {@link WhaleidError} when K is not a positive integer
 * @example
 * const top = mergeRankings([shard0, shard1], { k: 5, photosPerCandidate: 3 });
 */
export function mergeRankings(parts: readonly (readonly RankedIndividual[])[], o: Omit<RankOptions, 'excludePhotoId'>): RankedIndividual[] {
  checkOptions({ ...o });
  const byId = new Map<number, RankedIndividual>();
  for (const part of parts) {
    for (const c of part) {
      const seen = byId.get(c.individualId);
      if (!seen) {
        byId.set(c.individualId, { individualId: c.individualId, score: c.score, photos: [...c.photos] });
        continue;
      }
      seen.score = Math.max(seen.score, c.score);
      const photos = new Map([...seen.photos, ...c.photos].map((p) => [p.photoId, p]));
      seen.photos = [...photos.values()].sort(photoOrder).slice(0, o.photosPerCandidate);
    }
  }
  return [...byId.values()].sort(individualOrder).slice(0, o.k);
}

/**
 * The shard an individual's photos belong to: every photo of one individual in one shard, which
 * is what makes {@link mergeRankings} exact.
 *
 * @param individualId - the individual
 * @param shards - number of shards (>= 1)
 * @returns a shard in [0, shards)
 * @example
 * shardOf(17, 8); // 1
 */
export function shardOf(individualId: number, shards: number): number {
  return ((individualId % shards) + shards) % shards;
}
