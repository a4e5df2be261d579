/**
 * An approximate nearest-neighbour index over a gallery's learned features (hnswlib's HNSW graph,
 * cosine space), labelled by photo id. It only shortlists: the caller scores the shortlist exactly
 * with the run's own scorer (the score kernel), so the index decides which photos are looked at,
 * never their scores. Why cosine: for a run scored by the cosine head it orders photos exactly as
 * the head does; for a learned head it is a shortlist whose recall was measured (bench/results.md:
 * 0.80 to 0.97 of the exhaustive top 5 at 1,000,000 photos). The service's large gallery is no
 * longer ranked through it but exactly from bounded bytes (gallery-index.ts, boundRanker); it
 * stays for galleries too large for one scan per query.
 *
 * The index survives restarts: {@link FeatureIndex.save} writes the graph and the photos it
 * covers (each with a fingerprint of its vector) under a fresh generation name, then points the
 * folder's `<name>.json` at it (temp file, rename), so a crash mid-save leaves the previous
 * generation in use. {@link reconcileFeatureIndex} brings a loaded index up to the gallery of now.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../util/atomic-file.js';
import { invalidParameterError } from '../util/errors.js';

/** The part of hnswlib-node's HierarchicalNSW used here (typed here so type checks need no install). */
interface Hnsw {
  initIndex(opts: { maxElements: number; m?: number; efConstruction?: number; randomSeed?: number }): void;
  readIndexSync(file: string): void;
  writeIndex(file: string): Promise<boolean>;
  resizeIndex(maxElements: number): void;
  getMaxElements(): number;
  addPoint(point: number[], label: number): void;
  markDelete(label: number): void;
  setEf(ef: number): void;
  searchKnn(point: number[], k: number): { distances: number[]; neighbors: number[] };
}
type HnswClass = new (space: FeatureSpace, dim: number) => Hnsw;

/** The index's metric: cosine (inner product of unit vectors), or Euclidean on the raw features. */
export type FeatureSpace = 'cosine' | 'l2';

/** Graph and search settings of a {@link FeatureIndex}. */
export interface FeatureIndexOptions {
  /** The metric; default cosine (exact order for a cosine-scored run). Stored with the index. */
  space?: FeatureSpace;
  /** HNSW links per node (M). Default 12. */
  links?: number;
  /** Candidate list while building (efConstruction). Default 48: a million photos build in minutes on one thread, and a shortlist of hundreds searches with ef >= its size anyway. */
  efConstruction?: number;
  /** Smallest candidate list while searching (ef; raised to the shortlist's size). Default 64. */
  ef?: number;
  /** Seed of the level draws. Default 0. */
  seed?: number;
}

/** The photos of a gallery indexed by their features. */
export interface FeatureIndex {
  readonly dim: number;
  /** Photos indexed (deleted ones not counted). */
  readonly size: number;
  /** Adds or changes since it was built, loaded or saved (what a save would write anew). */
  readonly changes: number;
  /** The fingerprint of an indexed photo's vector ({@link vectorFingerprint}), or undefined. */
  fingerprint(photoId: number): number | undefined;
  /** Every indexed photo. */
  photoIds(): number[];
  /** Adds a photo or replaces its vector. */
  upsert(photoId: number, vector: Float32Array): void;
  /** Forgets a photo (no-op when absent). */
  remove(photoId: number): void;
  /**
   * The `count` photos nearest the query by the index's metric, nearest first (fewer when fewer are indexed).
   * @throws {@link WhaleidError} when the query's length is not `dim`
   */
  search(query: Float32Array, count: number): number[];
  /**
   * Writes the index as a new generation of `name` in `dir` and points `<name>.json` at it; the
   * generation it replaces is deleted. No upsert or remove may run until it resolves.
   */
  save(dir: string, name: string): Promise<void>;
}

/**
 * A 32-bit fingerprint of a vector's bytes (FNV-1a over its 32-bit words): what tells a restarted
 * service that a photo's features changed while it was down (a new box, a re-extraction).
 *
 * @param v - the vector
 * @returns an unsigned 32-bit number
 * @example
 * vectorFingerprint(Float32Array.of(1, 2)) === vectorFingerprint(Float32Array.of(1, 2)); // true
 */
export function vectorFingerprint(v: Float32Array): number {
  const words = new Uint32Array(v.buffer, v.byteOffset, v.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return h >>> 0;
}

const hnswClass = (): HnswClass => (createRequire(import.meta.url)('hnswlib-node') as { HierarchicalNSW: HnswClass }).HierarchicalNSW;

/** What `<name>.json` says: the generation in use. */
interface Pointer {
  generation: string;
  space: FeatureSpace;
  dim: number;
  count: number;
}

function wrap(graph: Hnsw, dim: number, held: Map<number, number>, options: FeatureIndexOptions, pointerOf: { generation: string | null }): FeatureIndex {
  let changes = 0;
  let saving = false;
  let currentEf = -1;
  const checkIdle = (): void => {
    if (saving) throw new Error('feature index: changed while it is being saved (await save first)');
  };
  return {
    dim,
    get size() {
      return held.size;
    },
    get changes() {
      return changes;
    },
    fingerprint: (id) => held.get(id),
    photoIds: () => [...held.keys()],
    upsert(photoId, vector) {
      checkIdle();
      if (vector.length !== dim) throw invalidParameterError('vector.length', String(dim), vector.length);
      const max = graph.getMaxElements();
      // grown by half: n photos added one by one cost O(log n) resizes
      if (!held.has(photoId) && held.size >= max) graph.resizeIndex(Math.max(16, Math.ceil(max * 1.5)));
      // hnswlib replaces the vector of a label it has (and revives a deleted one)
      graph.addPoint(Array.from(vector), photoId);
      held.set(photoId, vectorFingerprint(vector));
      changes++;
    },
    remove(photoId) {
      checkIdle();
      if (!held.delete(photoId)) return;
      graph.markDelete(photoId);
      changes++;
    },
    search(query, count) {
      if (query.length !== dim) throw invalidParameterError('query.length', String(dim), query.length);
      const want = Math.min(count, held.size);
      if (want <= 0) return [];
      const ef = Math.max(options.ef ?? 64, want);
      if (ef !== currentEf) {
        graph.setEf(ef);
        currentEf = ef;
      }
      return graph.searchKnn(Array.from(query), want).neighbors;
    },
    async save(dir, name) {
      checkIdle();
      saving = true;
      try {
        await mkdir(dir, { recursive: true });
        const generation = randomBytes(6).toString('hex');
        const base = path.join(dir, `${name}.${generation}`);
        // a fresh name per generation: the one in use is never written over
        await graph.writeIndex(`${base}.hnsw`);
        const ids = Int32Array.from(held.keys());
        const prints = Uint32Array.from(held.values());
        await writeFileAtomic(`${base}.ids`, Buffer.concat([Buffer.from(ids.buffer), Buffer.from(prints.buffer)]));
        const old = readPointer(dir, name)?.generation;
        await writeFileAtomic(path.join(dir, `${name}.json`), JSON.stringify({ generation, space: options.space ?? 'cosine', dim, count: ids.length } satisfies Pointer));
        for (const g of new Set([old, pointerOf.generation])) if (g && g !== generation) removeGeneration(dir, name, g);
        pointerOf.generation = generation;
        changes = 0;
      } finally {
        saving = false;
      }
    },
  };
}

function readPointer(dir: string, name: string): Pointer | null {
  try {
    const p = JSON.parse(readFileSync(path.join(dir, `${name}.json`), 'utf8')) as Pointer;
    return typeof p.generation === 'string' && /^[0-9a-f]+$/.test(p.generation) ? p : null;
  } catch {
    return null;
  }
}

function removeGeneration(dir: string, name: string, generation: string): void {
  for (const ext of ['hnsw', 'ids']) rmSync(path.join(dir, `${name}.${generation}.${ext}`), { force: true });
}

/**
 * An empty index of `dim`-float features.
 *
 * @param dim - feature count
 * @param options - graph and search settings
 * @returns the index
 * @throws {@link WhaleidError} when `dim` is not a positive integer
 * @example
 * const index = createFeatureIndex(128);
 * index.upsert(42, features);
 * const near = index.search(query, 500);
 */
export function createFeatureIndex(dim: number, options: FeatureIndexOptions = {}): FeatureIndex {
  if (!Number.isSafeInteger(dim) || dim < 1) throw invalidParameterError('dim', 'a positive integer', dim);
  const graph = new (hnswClass())(options.space ?? 'cosine', dim);
  graph.initIndex({ maxElements: 1024, m: options.links ?? 12, efConstruction: options.efConstruction ?? 48, randomSeed: options.seed ?? 0 });
  return wrap(graph, dim, new Map(), options, { generation: null });
}

/**
 * Reads the index `save` wrote as `name` in `dir`.
 *
 * @param dir - the folder
 * @param name - the index's name (one per model version)
 * @param dim - the feature count expected
 * @param options - the metric expected and search settings (the graph's own are read from the file)
 * @returns the index, or null when there is none, it is of another size or metric or it cannot be read (then the caller builds one)
 * @example
 * const index = openFeatureIndex('whales.db.index', modelVersion, 128) ?? createFeatureIndex(128);
 */
export function openFeatureIndex(dir: string, name: string, dim: number, options: FeatureIndexOptions = {}): FeatureIndex | null {
  const p = readPointer(dir, name);
  if (!p || p.dim !== dim || p.space !== (options.space ?? 'cosine')) return null;
  const base = path.join(dir, `${name}.${p.generation}`);
  if (!existsSync(`${base}.hnsw`) || !existsSync(`${base}.ids`)) return null;
  try {
    const bytes = readFileSync(`${base}.ids`);
    const n = bytes.length / 8;
    if (n !== p.count) return null;
    const copy = new Uint8Array(bytes); // aligned
    const ids = new Int32Array(copy.buffer, 0, n);
    const prints = new Uint32Array(copy.buffer, 4 * n, n);
    const graph = new (hnswClass())(p.space, dim);
    graph.readIndexSync(`${base}.hnsw`);
    const held = new Map<number, number>();
    for (let i = 0; i < n; i++) held.set(ids[i], prints[i]);
    return wrap(graph, dim, held, options, { generation: p.generation });
  } catch {
    return null;
  }
}

/**
 * Brings an index up to a gallery: photos absent or whose vector changed are (re)added, photos no
 * longer in the gallery forgotten.
 *
 * @param index - the index (loaded from disk or kept from an earlier gallery)
 * @param rows - the gallery's photos
 * @param vectorOf - each row's features
 * @returns how many photos were added or replaced, and how many forgotten
 * @example
 * const { added, removed } = reconcileFeatureIndex(index, rows, (r) => cache.get(r)!);
 */
export function reconcileFeatureIndex<R extends { photoId: number }>(index: FeatureIndex, rows: readonly R[], vectorOf: (row: R) => Float32Array): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  const present = new Set<number>();
  for (const r of rows) {
    present.add(r.photoId);
    const v = vectorOf(r);
    if (index.fingerprint(r.photoId) === vectorFingerprint(v)) continue;
    index.upsert(r.photoId, v);
    added++;
  }
  for (const id of index.photoIds()) {
    if (present.has(id)) continue;
    index.remove(id);
    removed++;
  }
  return { added, removed };
}
