/**
 * The feature index of a service's gallery: above a size where exhaustive scoring gets slow, the
 * gallery is ranked through a shortlist ({@link shortlistRanker}); below it, exhaustively (exact,
 * and what small catalogs always did). The index is read from its folder at the first large
 * gallery (built there when absent), follows the gallery as photos are confirmed, moved or
 * re-boxed, and is written back after a build and at close, so a restart reads it instead of
 * building it again; photos that changed while no service ran are found by their fingerprints.
 */
import type { HeadWeights } from '../model/network/head-weights.js';
import { createFeatureIndex, openFeatureIndex, vectorFingerprint, type FeatureIndex, type FeatureSpace } from './feature-index.js';
import type { ScoredGallery } from './scored-gallery.js';
import { writeFeatureBlock } from './feature-block.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { shortlistRanker, type ShortlistRanker } from './shortlist-ranking.js';

/** Settings of a gallery's feature index. */
export interface GalleryIndexOptions {
  /** Folder of the saved index (shared by the processes of one catalog). */
  dir: string;
  /** The index's name in it: one per model version. */
  name: string;
  /** Galleries of at least this many photos are ranked through the index; default 50,000. */
  threshold?: number;
  /** Photos shortlisted per query; default {@link DEFAULT_SHORTLIST} of the metric. */
  shortlist?: number;
  /** Metric; default {@link spaceForHead}. */
  space?: FeatureSpace;
  /** HNSW links per node; default 12. */
  links?: number;
  /** What a failed save says (the index is then built again at the next start). */
  onWarning?: (line: string) => void;
}

/**
 * Photos shortlisted per query by default, per metric (bench:scale --vectors, bench/results.md).
 * The exhaustive top 5 are the query's individual and four impostors; the index finds the first
 * at once, the impostors only as the list grows. 1,000,000 clustered synthetic vectors: cosine
 * (exact order for the cosine head) recall 0.80 at 1,000; Euclidean under a distance-like head
 * 0.90 at 4,000 (100,000 vectors: 1.000 at 4,000). Both keep a query well under a second.
 */
export const DEFAULT_SHORTLIST: Readonly<Record<FeatureSpace, number>> = { cosine: 1000, l2: 4000 };
/** Gallery size from which the index ranks by default. */
export const DEFAULT_INDEX_THRESHOLD = 50_000;

/**
 * Where a catalog's gallery indexes are kept: beside its photo folder, which every service and
 * worker process of the catalog shares (`<photo folder>.index`).
 *
 * @param photoDir - the catalog's photo folder
 * @returns the folder
 * @example
 * galleryIndexDir('whales.db.photos'); // 'whales.db.photos.index'
 */
export function galleryIndexDir(photoDir: string): string {
  return `${photoDir.replace(/[/\\]+$/, '')}.index`;
}

/**
 * The name of a model's index and feature block in that folder (one per model version).
 *
 * @param modelVersion - the run's model version
 * @returns a file-name-safe name
 * @example
 * galleryIndexName('run@1a2b'); // 'run_1a2b'
 */
export function galleryIndexName(modelVersion: string): string {
  return modelVersion.replace(/[^\w.-]/g, '_');
}

/**
 * Where a gallery index writes its gallery's features as one block (read by the feature cache at the next start).
 *
 * @param dir - the index's folder
 * @param name - the index's name
 * @returns the file
 * @example
 * readFeatureBlock(featureBlockFile('whales.db.photos.index', name), 128);
 */
export function featureBlockFile(dir: string, name: string): string {
  return path.join(dir, `${name}.features`);
}

/**
 * The metric that shortlists best for a head: cosine for the cosine scorer in the head's form
 * (`cosineHeadWeights`: the head's order is the cosine's, so the shortlist is exact), Euclidean for
 * a learned head (its inputs are differences |a-b| and (a-b)^2 as much as products; measured in
 * test/infer/feature-index.test.ts and bench:scale).
 *
 * @param head - the run's head
 * @returns the metric
 * @example
 * spaceForHead(cosineHeadWeights(128, 10, -5)); // 'cosine'
 */
export function spaceForHead(head: HeadWeights): FeatureSpace {
  const w = head.w1;
  const cosine = head.mid === 2 && w[0] === 1 && w[1] === -1 && w.slice(2).every((x) => x === 0) && head.w2[0] === 1 && head.w2[1] === -1 && head.b1.every((x) => x === 0);
  return cosine ? 'cosine' : 'l2';
}

/** A gallery's index and the ranker of its current gallery. */
export interface GalleryIndex {
  /** Whether a gallery of this size is ranked through the index. */
  covers(photos: number): boolean;
  /**
   * Brings the index up to a gallery and gives its ranker (null below the threshold).
   *
   * @throws Error from hnswlib when the index cannot take a vector (the caller ranks exhaustively)
   */
  rankerFor(g: ScoredGallery): Promise<ShortlistRanker | null>;
  /** Photos indexed (0 before the first large gallery). */
  readonly size: number;
  /** Writes the index when it changed since it was read or written. */
  close(): Promise<void>;
}

/**
 * The feature index of a service's gallery.
 *
 * @param head - the run's head (the exact scorer, and the metric by default)
 * @param o - folder, name, threshold, shortlist, metric
 * @returns the gallery index
 * @example
 * const gi = createGalleryIndex(run.inference.head, { dir: 'whales.db.index', name: modelVersion });
 * const ranker = await gi.rankerFor(scoredGallery); // null below 50,000 photos
 */
export function createGalleryIndex(head: HeadWeights, o: GalleryIndexOptions): GalleryIndex {
  const threshold = o.threshold ?? DEFAULT_INDEX_THRESHOLD;
  const options = { space: o.space ?? spaceForHead(head), links: o.links };
  let index: FeatureIndex | null = null;
  // the vector each photo was indexed with, as the cache holds it: an unchanged photo costs a lookup, not a hash
  const indexed = new Map<number, Float32Array>();
  let last: ScoredGallery | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const next = queue.then(f, f);
    queue = next.catch(() => undefined);
    return next;
  };
  const writeBlock = async (g: ScoredGallery): Promise<void> => {
    try {
      await writeFeatureBlock(featureBlockFile(o.dir, o.name), g.rows, g.vectors, head.features);
    } catch (e) {
      o.onWarning?.(`feature block: not written to ${o.dir} (${(e as Error).message}); the next start reads every feature row`);
    }
  };
  const save = async (): Promise<void> => {
    if (!index || index.changes === 0) return;
    try {
      await index.save(o.dir, o.name);
      // the gallery's vectors beside it: the next start reads them in one go (featureBlockFile)
      if (last) await writeBlock(last);
    } catch (e) {
      o.onWarning?.(`feature index: not saved to ${o.dir} (${(e as Error).message}); the next start builds it again`);
    }
  };
  const update = (g: ScoredGallery): number => {
    const ix = index!;
    const present = new Set<number>();
    let changed = 0;
    for (let j = 0; j < g.rows.length; j++) {
      const id = g.photoIds[j];
      const v = g.vectors[j];
      present.add(id);
      if (indexed.get(id) === v) continue;
      if (ix.fingerprint(id) !== vectorFingerprint(v)) {
        ix.upsert(id, v);
        changed++;
      }
      indexed.set(id, v);
    }
    for (const id of ix.photoIds()) {
      if (present.has(id)) continue;
      ix.remove(id);
      indexed.delete(id);
      changed++;
    }
    return changed;
  };
  return {
    covers: (photos) => photos >= threshold,
    get size() {
      return index?.size ?? 0;
    },
    rankerFor: (g) => serial(async () => {
      if (g.rows.length < threshold) return null;
      const first = !index;
      const read = first ? openFeatureIndex(o.dir, o.name, head.features, options) : null;
      if (!index) index = read ?? createFeatureIndex(head.features, options);
      const changed = update(g);
      last = g;
      // a build (or a restart that found many changes) is written at once: the next start reads it
      if (first && changed > 0 && (!read || changed > Math.max(1000, index.size / 100))) await save();
      else if (first && !existsSync(featureBlockFile(o.dir, o.name))) await writeBlock(g);
      return shortlistRanker(g, head, index, o.shortlist ?? DEFAULT_SHORTLIST[options.space]);
    }),
    close: () => serial(save),
  };
}
