import { createRequire } from 'node:module';
import { DESCRIPTOR_LENGTH, keypointCount, type LocalFeatures } from './local-features.js';

/** The part of hnswlib-node's HierarchicalNSW used here (typed here so type checks need no install). */
interface Hnsw {
  initIndex(opts: { maxElements: number; m?: number; efConstruction?: number; randomSeed?: number }): void;
  resizeIndex(maxElements: number): void;
  addPoint(point: number[], label: number): void;
  setEf(ef: number): void;
  searchKnn(point: number[], k: number, filter?: (label: number) => boolean): { distances: number[]; neighbors: number[] };
}

/** Nearest neighbours of one descriptor, nearest first. */
export interface Neighbours {
  /** Global descriptor numbers (see {@link DescriptorIndex.photoOf}). */
  labels: number[];
  /** Euclidean distances (not squared), ascending. */
  distances: number[];
}

/** One nearest-neighbour index over the descriptors of every catalog photo. */
export interface DescriptorIndex {
  /** Number of photos described. */
  readonly photos: number;
  /** Number of descriptors indexed. */
  readonly size: number;
  /** Photo number (position in the list the index was built from) of each descriptor. */
  readonly photoOf: Int32Array;
  /** Keypoint number within its photo of each descriptor. */
  readonly keypointOf: Int32Array;
  /**
   * The k nearest descriptors of `descriptor`, skipping those of photos `skipPhoto` refuses
   * (the query's own photo in leave-one-out, photos outside a gallery subset).
   */
  search(descriptor: Float32Array, k: number, skipPhoto?: (photo: number) => boolean): Neighbours;
  /**
   * Appends photos: their descriptors join the graph as HNSW inserts them (no rebuild), numbered
   * after the photos already in. What a catalog that grows by uploads needs.
   *
   * @param features - local features of the new photos, in their photo order
   * @returns the photo number of the first one
   */
  add(features: readonly LocalFeatures[]): number;
}

/** Options of {@link buildDescriptorIndex}. */
export interface DescriptorIndexOptions {
  /** HNSW links per node (M). Default 16. */
  links?: number;
  /** Candidate list while building (efConstruction). Default 100. */
  efConstruction?: number;
  /** Candidate list while searching (ef, raised to k when smaller). Default 64. */
  ef?: number;
  /** Seed of the level draws: the same photos and seed give the same index. Default 0. */
  seed?: number;
}

/**
 * Builds the index over every descriptor of every photo: hnswlib's HNSW graph (the library
 * HotSpotter's successors and most vector stores use), L2 space on KAZE's 64-float descriptors.
 * Why one index and not photo-by-photo matching: a query is described once and each of its
 * keypoints asks the whole catalog at once (about log n work), which is what makes HotSpotter's
 * one-vs-many scoring fast (a thousand photos in well under a second, where pair-by-pair
 * matching took 15 ms a pair). Descriptors are inserted in photo order from one thread, so a
 * seed fixes the graph.
 *
 * @param features - local features of each photo, in photo order
 * @param options - graph and search settings
 * @returns the index
 * @example
 * const index = buildDescriptorIndex(catalogFeatures);
 * index.search(query.descriptors.subarray(0, 64), 5);
 */
export function buildDescriptorIndex(features: readonly LocalFeatures[], options: DescriptorIndexOptions = {}): DescriptorIndex {
  const total = features.reduce((n, f) => n + keypointCount(f), 0);
  let capacity = Math.max(1, total);
  let photoOf = new Int32Array(capacity);
  let keypointOf = new Int32Array(capacity);
  const require = createRequire(import.meta.url);
  const hnsw = require('hnswlib-node') as { HierarchicalNSW: new (space: 'l2', dim: number) => Hnsw };
  const index = new hnsw.HierarchicalNSW('l2', DESCRIPTOR_LENGTH);
  index.initIndex({ maxElements: capacity, m: options.links ?? 16, efConstruction: options.efConstruction ?? 100, randomSeed: options.seed ?? 0 });
  let size = 0;
  let photos = 0;
  const add = (list: readonly LocalFeatures[]): number => {
    const first = photos;
    const need = size + list.reduce((n, f) => n + keypointCount(f), 0);
    if (need > capacity) {
      // grown by at least half, so n photos added one by one cost O(log n) resizes
      capacity = Math.max(need, Math.ceil(1.5 * capacity));
      index.resizeIndex(capacity);
      const p = new Int32Array(capacity);
      p.set(photoOf.subarray(0, size));
      const k = new Int32Array(capacity);
      k.set(keypointOf.subarray(0, size));
      [photoOf, keypointOf] = [p, k];
    }
    for (const f of list) {
      const n = keypointCount(f);
      for (let k = 0; k < n; k++, size++) {
        photoOf[size] = photos;
        keypointOf[size] = k;
        index.addPoint(Array.from(f.descriptors.subarray(k * DESCRIPTOR_LENGTH, (k + 1) * DESCRIPTOR_LENGTH)), size);
      }
      photos++;
    }
    return first;
  };
  add(features);
  const ef = options.ef ?? 64;
  let currentEf = -1;
  return {
    get photos() {
      return photos;
    },
    get size() {
      return size;
    },
    get photoOf() {
      return photoOf.subarray(0, size);
    },
    get keypointOf() {
      return keypointOf.subarray(0, size);
    },
    add,
    search(descriptor, k, skipPhoto) {
      const want = Math.min(k, size);
      if (want <= 0) return { labels: [], distances: [] };
      const e = Math.max(ef, want);
      if (e !== currentEf) {
        index.setEf(e);
        currentEf = e;
      }
      const filter = skipPhoto ? (l: number): boolean => !skipPhoto(photoOf[l]) : undefined;
      const r = index.searchKnn(Array.from(descriptor), want, filter);
      return { labels: r.neighbors, distances: r.distances.map((d) => Math.sqrt(Math.max(0, d))) };
    },
  };
}
