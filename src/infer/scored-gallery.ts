/**
 * The scored gallery: catalog photos' learned features held in memory (per photo and box, read
 * from the catalog's feature store), laid out for the score kernel, with the ranking index of
 * their individuals. The service's identifier and a worker's shard both score queries through
 * it, so features, kernel and ranking are built one way (they were built twice).
 */
import type { HeadWeights } from '../model/network/head-weights.js';
import { createScoreKernel, type ScoreKernel } from './score-kernel.js';
import type { FeatureBlock } from './feature-block.js';
import { rankIndividuals, rankingIndex, type RankedIndividual, type RankingIndex, type RankOptions } from './score-shards.js';

/** A gallery photo: its individual and the box its features were computed for. */
export interface GalleryRow {
  readonly photoId: number;
  readonly individualId: number;
  /** The photo's box as text ({@link boxKey} of the catalog): features of another box are stale. */
  readonly boxKey: string;
}

/** What the feature cache reads of the catalog. */
export interface StoredFeatures {
  getFeatures(modelVersion: string, photoIds: readonly number[]): Promise<Map<number, Float32Array>>;
  getAllFeatures(modelVersion: string): Promise<Map<number, Float32Array>>;
}

/** Learned features of catalog photos in memory, by photo and box. */
export interface FeatureCache {
  /** The features of a row, when held. */
  get(row: Pick<GalleryRow, 'photoId' | 'boxKey'>): Float32Array | undefined;
  set(row: Pick<GalleryRow, 'photoId' | 'boxKey'>, vector: Float32Array): void;
  /**
   * Reads the features of rows not held yet from the catalog: every stored vector of the model in
   * one query the first time (a service's start), later only the absent photos'.
   *
   * @returns the rows whose features the catalog does not have either
   */
  load<R extends Pick<GalleryRow, 'photoId' | 'boxKey'>>(rows: readonly R[]): Promise<R[]>;
  /** Forgets every photo not among `rows` (a shard keeps only its own). */
  retain(rows: readonly Pick<GalleryRow, 'photoId'>[]): void;
  readonly size: number;
}

/** Options of {@link createFeatureCache}. */
export interface FeatureCacheOptions {
  /** The gallery's features as last written in one file ({@link readFeatureBlock}), read at the first load instead of every row. */
  block?: () => FeatureBlock | null;
}

/** Photos of a block compared with the catalog's rows before the block is used. */
const SPOT_CHECKS = 64;

/**
 * Holds a block's vectors, each under the box it was computed for (a photo re-boxed since then
 * simply misses and is read from the catalog). A spot check against the catalog's rows refuses a
 * block of another catalog: a few photos differ when re-boxed since, most when the catalog is another.
 */
async function fromBlock(store: StoredFeatures, modelVersion: string, block: FeatureBlock | null, held: Map<number, { boxKey: string; vector: Float32Array }>): Promise<void> {
  if (!block || block.photoIds.length === 0) return;
  const n = block.photoIds.length;
  const picks = [...new Set(Array.from({ length: Math.min(SPOT_CHECKS, n) }, (_, i) => Math.floor((i * n) / Math.min(SPOT_CHECKS, n))))];
  const stored = await store.getFeatures(modelVersion, picks.map((i) => block.photoIds[i]));
  const vectorAt = (i: number): Float32Array => block.matrix.subarray(i * block.dim, (i + 1) * block.dim);
  const differ = picks.filter((i) => {
    const v = stored.get(block.photoIds[i]);
    return !v || Buffer.compare(Buffer.from(v.buffer, v.byteOffset, v.byteLength), Buffer.from(vectorAt(i).buffer, vectorAt(i).byteOffset, v.byteLength)) !== 0;
  }).length;
  if (differ > picks.length / 4) return;
  for (let i = 0; i < n; i++) held.set(block.photoIds[i], { boxKey: block.boxKeys[i], vector: vectorAt(i) });
}

/**
 * A feature cache over a catalog's stored features of one model. The catalog drops a photo's
 * stored features when its box changes, so a stored vector is current for the photo's box.
 *
 * @param store - the catalog (its feature store)
 * @param modelVersion - the model whose features are held
 * @param options - the feature block to start from
 * @returns the cache
 * @example
 * const cache = createFeatureCache(catalog, run.inference.modelVersion);
 * const absent = await cache.load(await catalog.gallery());
 */
export function createFeatureCache(store: StoredFeatures, modelVersion: string, options: FeatureCacheOptions = {}): FeatureCache {
  const held = new Map<number, { boxKey: string; vector: Float32Array }>();
  let block = options.block; // read once, at the first load
  const get = (r: Pick<GalleryRow, 'photoId' | 'boxKey'>): Float32Array | undefined => {
    const e = held.get(r.photoId);
    return e && e.boxKey === r.boxKey ? e.vector : undefined;
  };
  return {
    get,
    set: (r, vector) => void held.set(r.photoId, { boxKey: r.boxKey, vector }),
    async load(rows) {
      if (block) {
        const read = block();
        block = undefined;
        await fromBlock(store, modelVersion, read, held);
      }
      const absent = rows.filter((r) => !get(r));
      if (absent.length === 0) return absent;
      const stored = held.size === 0 ? await store.getAllFeatures(modelVersion) : await store.getFeatures(modelVersion, absent.map((r) => r.photoId));
      for (const r of absent) {
        const v = stored.get(r.photoId);
        if (v) held.set(r.photoId, { boxKey: r.boxKey, vector: v });
      }
      return absent.filter((r) => !get(r));
    },
    retain(rows) {
      const keep = new Set(rows.map((r) => r.photoId));
      for (const id of held.keys()) if (!keep.has(id)) held.delete(id);
    },
    get size() {
      return held.size;
    },
  };
}

/** Rows with their features laid out for the score kernel, and their individuals' ranking index. */
export interface ScoredGallery<R extends GalleryRow = GalleryRow> {
  readonly rows: readonly R[];
  readonly photoIds: Int32Array;
  readonly individualIds: Int32Array;
  readonly index: RankingIndex;
  /** Each row's features (the cache's vectors as the gallery was built). */
  readonly vectors: readonly Float32Array[];
  /** The query's score against every gallery photo, in row order. */
  score(query: Float32Array): Float32Array;
  /**
   * The top individuals for a query (their best photos first); with `options.allowed` (scoped
   * matching) among those photos only, a narrow scope scoring only its own photos.
   */
  rank(query: Float32Array, options: RankOptions): RankedIndividual[];
}

/** A scope admitting under this share of the gallery is scored on its own photos (a copy of their columns), a wider one on the whole gallery, masked. */
const SUBSET_SHARE = 0.25;

/**
 * Builds the scored gallery of rows whose features the cache holds (the caller filters or fills
 * the others first).
 *
 * @param rows - the gallery's photos
 * @param features - holds every row's features
 * @param head - the model's head (the score kernel's weights)
 * @returns the gallery
 * @throws Error when a row's features are not held (a caller's mistake)
 * @example
 * const g = buildScoredGallery(rows, cache, run.inference.head);
 * const top = g.rank(queryFeatures, { k: 5, photosPerCandidate: 3 });
 */
export function buildScoredGallery<R extends GalleryRow>(rows: readonly R[], features: Pick<FeatureCache, 'get'>, head: HeadWeights): ScoredGallery<R> {
  const F = head.features;
  // the vectors of now (references, not copies): the cache may hold another box's later
  const vectors = rows.map((r) => {
    const v = features.get(r);
    if (!v) throw new Error(`scored gallery: photo ${r.photoId} has no features held`);
    return v;
  });
  const columns = (): Float32Array => {
    const cols = new Float32Array(rows.length * F);
    vectors.forEach((v, i) => cols.set(v, i * F));
    return cols;
  };
  const photoIds = Int32Array.from(rows, (r) => r.photoId);
  const individualIds = Int32Array.from(rows, (r) => r.individualId);
  const index = rankingIndex(photoIds, individualIds);
  // compiled at the first exhaustive score: a gallery ranked through a shortlist never needs its copy of every column
  let kernel: ScoreKernel | null = null;
  const score = (query: Float32Array): Float32Array => {
    const out = new Float32Array(rows.length);
    if (rows.length === 0) return out;
    kernel ??= createScoreKernel(head, columns());
    kernel.scoreRow(query, 0, rows.length, out);
    return out;
  };
  /** A narrow scope: its photos' columns gathered and scored alone (a small copy per query, no pass of the head over the rest). */
  const rankAmong = (query: Float32Array, allowed: ReadonlySet<number>, options: RankOptions): RankedIndividual[] => {
    const picked: number[] = [];
    for (let j = 0; j < rows.length; j++) if (allowed.has(photoIds[j])) picked.push(j);
    if (picked.length === 0) return [];
    const cols = new Float32Array(picked.length * F);
    picked.forEach((j, i) => cols.set(vectors[j], i * F));
    const out = new Float32Array(picked.length);
    createScoreKernel(head, cols).scoreRow(query, 0, picked.length, out);
    const sub = rankingIndex(Int32Array.from(picked, (j) => photoIds[j]), Int32Array.from(picked, (j) => individualIds[j]));
    return rankIndividuals(out, sub, options);
  };
  return {
    rows,
    photoIds,
    individualIds,
    index,
    vectors,
    score,
    rank: (query, options) => {
      if (!rows.length) return [];
      if (options.allowed && options.allowed.size < rows.length * SUBSET_SHARE) return rankAmong(query, options.allowed, options);
      return rankIndividuals(score(query), index, options);
    },
  };
}
