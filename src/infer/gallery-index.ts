/**
 * The index of a service's large gallery: above a size where exhaustive scoring gets slow, a query
 * is ranked exactly from the gallery's bytes ({@link boundRanker}: one WebAssembly pass bounds
 * every photo's score, only the photos that can reach the top K are scored by the head); below
 * it, exhaustively (what small catalogs always did). Both give the same answer. The bytes follow
 * the gallery as photos are confirmed, moved or re-boxed (only new or changed photos are encoded),
 * and the gallery's vectors and bytes are written as one block beside it ({@link featureBlockFile})
 * after the first large gallery and at close when they changed, so a restart reads one file
 * instead of a million feature rows and encodes nothing: the block's vectors are checked against
 * the catalog's rows when read, its bytes used only when its digest is the gallery's.
 *
 * Why not the HNSW shortlist it replaced (feature-index.ts): at 1,000,000 clustered vectors its
 * recall of the exhaustive top 5 stayed at 0.80 to 0.97 within a second per query, and its graph
 * took 10 to 25 minutes to build (bench/results.md).
 */
import type { HeadWeights } from '../model/network/head-weights.js';
import type { FeatureSpace } from './feature-index.js';
import type { ScoredGallery } from './scored-gallery.js';
import { readBlockCodes, rowsDigest, writeFeatureBlock } from './feature-block.js';
import { createCodeScanner, encodeGallery, type CodeScanner, type GalleryCodes } from './feature-codes.js';
import path from 'node:path';
import { boundRanker, type ShortlistRanker } from './shortlist-ranking.js';

/** Settings of a gallery's index. */
export interface GalleryIndexOptions {
  /** Folder of the gallery's feature block (shared by the processes of one catalog). */
  dir: string;
  /** The block's name in it: one per model version. */
  name: string;
  /** Galleries of at least this many photos are ranked through the index; default 50,000. */
  threshold?: number;
  /** What a failed write of the feature block says (the next start then reads every feature row). */
  onWarning?: (line: string) => void;
}

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
   * @throws Error when the gallery's bytes do not fit WebAssembly's memory (the caller ranks exhaustively)
   */
  rankerFor(g: ScoredGallery): Promise<ShortlistRanker | null>;
  /** Photos indexed (0 before the first large gallery). */
  readonly size: number;
  /** Photos the last gallery encoded (0 when its bytes were read from the feature block or copied from the gallery before). */
  readonly encoded: number;
  /** Writes the gallery's feature block when the gallery changed since it was written. */
  close(): Promise<void>;
}

/**
 * The index of a service's gallery.
 *
 * @param head - the run's head (the exact scorer, and what the bounds bound)
 * @param o - folder, name, threshold
 * @returns the gallery index
 * @example
 * const gi = createGalleryIndex(run.inference.head, { dir: 'whales.db.index', name: modelVersion });
 * const ranker = await gi.rankerFor(scoredGallery); // null below 50,000 photos
 */
export function createGalleryIndex(head: HeadWeights, o: GalleryIndexOptions): GalleryIndex {
  const threshold = o.threshold ?? DEFAULT_INDEX_THRESHOLD;
  const file = featureBlockFile(o.dir, o.name);
  let codes: GalleryCodes | null = null;
  let last: ScoredGallery | null = null;
  // the gallery's photos or boxes changed since the block on disk was written
  let unsaved = false;
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(f: () => Promise<T>): Promise<T> => {
    const next = queue.then(f, f);
    queue = next.catch(() => undefined);
    return next;
  };
  const writeBlock = async (g: ScoredGallery, c: GalleryCodes): Promise<void> => {
    try {
      await writeFeatureBlock(file, g.rows, g.vectors, head.features, { edges: c.edges, unbounded: c.unbounded, codes: c.scanner.codes });
      unsaved = false;
    } catch (e) {
      o.onWarning?.(`feature block: not written to ${o.dir} (${(e as Error).message}); the next start reads every feature row`);
    }
  };
  /** The first large gallery's bytes as the block holds them, when it holds this gallery (a restart). */
  const held = (g: ScoredGallery): GalleryCodes | null => {
    let scanner: CodeScanner | null = null;
    const read = readBlockCodes(file, head.features, rowsDigest(g.rows, g.vectors), (n) => (scanner = createCodeScanner(head.features, n)).codes);
    const s = scanner as CodeScanner | null;
    return read && s && s.count === g.rows.length ? { scanner: s, edges: read.edges, unbounded: read.unbounded, photoIds: g.photoIds, vectors: g.vectors, encoded: 0 } : null;
  };
  return {
    covers: (photos) => photos >= threshold,
    get size() {
      return codes?.scanner.count ?? 0;
    },
    get encoded() {
      return codes?.encoded ?? 0;
    },
    rankerFor: (g) => serial(async () => {
      if (g.rows.length < threshold) return null;
      const before = codes;
      last = g;
      if (!before) {
        // the first large gallery: the block's bytes when it holds these photos' features (a
        // restart), else encoded and written with the features for the next start
        codes = held(g);
        if (!codes) {
          codes = encodeGallery(g.photoIds, g.vectors, head.features, null);
          await writeBlock(g, codes);
        }
      } else {
        codes = encodeGallery(g.photoIds, g.vectors, head.features, before);
        if (codes.encoded > 0 || before.scanner.count !== codes.scanner.count) unsaved = true;
      }
      return boundRanker(g, head, codes);
    }),
    close: () => serial(async () => {
      if (unsaved && last && codes) await writeBlock(last, codes);
    }),
  };
}
