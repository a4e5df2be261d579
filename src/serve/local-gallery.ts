import type { Catalog } from '../catalog/catalog.js';
import type { PhotoRecord } from '../catalog/catalog-types.js';
import { boxKey } from '../catalog/box-key.js';
import { buildDescriptorIndex, type DescriptorIndex } from '../infer/local/descriptor-index.js';
import type { LocalFeatures, LocalSettings } from '../infer/local/local-features.js';
import { localMatcherOver, type LocalMatch, type LocalMatcherOptions } from '../infer/local/local-matcher.js';
import { loadOpenCv } from '../infer/local/opencv.js';
import { createCatalogLocalFeatures } from '../infer/local/catalog-local-features.js';

export { localRecordKey } from '../infer/local/catalog-local-features.js';

/** A photo of the catalog's gallery, as `catalog.gallery()` lists it. */
export interface GalleryPhoto {
  photoId: number;
  individualId: number;
  boxKey: string;
}

/** The catalog side of the local matcher in the service. */
export interface LocalGallery {
  /** The key the local features are stored under in the catalog's feature store. */
  readonly recordKey: string;
  /** Photos described so far by this process (the others were read back from the catalog). */
  readonly described: number;
  /**
   * Local features of photos: kept in memory, else the catalog's stored ones, else described on
   * their crop and stored in the catalog.
   */
  featuresOf(photos: readonly PhotoRecord[], onProgress?: (done: number, total: number) => void): Promise<LocalFeatures[]>;
  /**
   * Scores a query against the gallery. Photos new to the gallery join the index first (HNSW
   * inserts, no rebuild); photos that left it, or whose box changed, are left out of the searches,
   * and the index is rebuilt from the gallery when they outnumber the rest.
   *
   * @param query - the query's local features
   * @param rows - the gallery now
   * @param individualIds - the order of the individuals in the result's arrays
   * @param skipPhotoId - a catalog photo left out (the query itself)
   * @param allowed - scoped matching: only these photos are searched (the index keeps the whole gallery)
   * @returns the local match, and the catalog photo of each photo number it names
   */
  match(query: LocalFeatures, rows: readonly GalleryPhoto[], individualIds: readonly number[], skipPhotoId: number, allowed?: ReadonlySet<number>): Promise<{ match: LocalMatch; photoIdOf: (photo: number) => number }>;
}

/** Options of {@link createLocalGallery}. */
export interface LocalGalleryOptions {
  /** Decoded-photo cache folder (none: decoded in memory only). */
  cacheDir?: string;
  settings?: LocalSettings;
  matcher?: LocalMatcherOptions;
}

/**
 * The local-feature side of a catalog for the service: each photo's keypoints and descriptors
 * read from the catalog's feature store, or described once and stored there
 * ({@link createCatalogLocalFeatures}; `whaleid worker --matcher local` stores them ahead), kept
 * in memory, and one HNSW index over the gallery's descriptors that grows as photos join it.
 *
 * @param catalog - the open catalog
 * @param options - photo cache, keypoint settings, matcher settings
 * @returns the local gallery
 * @example
 * const local = createLocalGallery(catalog, { cacheDir: '~/.cache/whaleid' });
 * const [q] = await local.featuresOf([await catalog.photo(42)]);
 * const { match } = await local.match(q, await catalog.gallery(), individualIds, 42);
 */
export function createLocalGallery(catalog: Catalog, options: LocalGalleryOptions = {}): LocalGallery {
  const stored = createCatalogLocalFeatures(catalog, { cacheDir: options.cacheDir, settings: options.settings });
  const keyOf = (photoId: number, box: string): string => `${photoId}|${box}`;
  const known = new Map<string, LocalFeatures>();
  // the index: photo numbers are slots; a slot's photo and box are its key
  let index: DescriptorIndex | null = null;
  let slotFeatures: LocalFeatures[] = [];
  let slotPhoto: number[] = [];
  let slotOf = new Map<string, number>();
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const r = chain.then(fn);
    chain = r.catch(() => undefined);
    return r;
  };

  const featuresOf = async (photos: readonly PhotoRecord[], onProgress?: (done: number, total: number) => void): Promise<LocalFeatures[]> => {
    const keys = photos.map((p) => keyOf(p.id, boxKey(p.box)));
    const missing = photos.filter((_, i) => !known.has(keys[i]));
    const loaded = await stored.load(missing, onProgress);
    missing.forEach((p, i) => known.set(keyOf(p.id, boxKey(p.box)), loaded[i]));
    return keys.map((k) => known.get(k)!);
  };

  /** Brings the index up to the gallery: new photos added, rebuilt when left-out ones dominate. */
  const update = async (rows: readonly GalleryPhoto[]): Promise<void> => {
    const live = new Set(rows.map((r) => keyOf(r.photoId, r.boxKey)));
    if (index && slotFeatures.length > 2 * live.size + 64) index = null; // mostly left-out photos: rebuild
    if (!index) {
      slotFeatures = [];
      slotPhoto = [];
      slotOf = new Map();
    }
    const fresh = rows.filter((r) => !slotOf.has(keyOf(r.photoId, r.boxKey)));
    if (!fresh.length && index) return;
    const photos: PhotoRecord[] = [];
    for (const r of fresh) photos.push(await catalog.galleryPhoto(r.photoId)); // a further annotation's row: its own box (gallery-ids.ts)
    const features = await featuresOf(photos);
    photos.forEach((p, i) => {
      slotOf.set(keyOf(p.id, boxKey(p.box)), slotFeatures.length);
      slotFeatures.push(features[i]);
      slotPhoto.push(p.id);
    });
    if (index) index.add(features);
    else index = buildDescriptorIndex(slotFeatures, options.matcher?.index);
  };

  return {
    recordKey: stored.recordKey,
    get described() {
      return stored.described;
    },
    featuresOf,
    match: (query, rows, individualIds, skipPhotoId, allowed) => serial(async () => {
      await update(rows);
      const number = new Map(individualIds.map((id, i) => [id, i]));
      const individualOf = new Int32Array(slotFeatures.length).fill(-1);
      // a photo out of the scope is in the index but belongs to no individual: left out of the search like a photo that left the gallery
      for (const r of rows) if (!allowed || allowed.has(r.photoId)) individualOf[slotOf.get(keyOf(r.photoId, r.boxKey))!] = number.get(r.individualId) ?? -1;
      const matcher = localMatcherOver(await loadOpenCv(), index!, slotFeatures, individualOf, individualIds.map(String), options.matcher);
      const photoOf = slotPhoto;
      return { match: matcher.match(query, (p) => photoOf[p] === skipPhotoId), photoIdOf: (p: number) => photoOf[p] };
    }),
  };
}
