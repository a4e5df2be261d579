/**
 * Local features (keypoints and descriptors) kept in a catalog's feature store: each photo
 * described once, on the network's crop kept at its aspect, and stored beside its Siamese
 * features (keyed by photo and settings; the catalog drops them with the others when the photo's
 * box changes). The service's local gallery reads them back; `whaleid worker --matcher local`
 * stores them ahead of the service's queries.
 */
import type { Catalog } from '../../catalog/catalog.js';
import type { PhotoRecord } from '../../catalog/catalog-types.js';
import { createImageCache } from '../../image/image-cache.js';
import { decodeLocalFeatures, describePhotos, encodeLocalFeatures } from './local-feature-store.js';
import { DEFAULT_LOCAL, localCropWidth, localSettingsKey, type LocalFeatures, type LocalSettings } from './local-features.js';

/** What it reads and writes of the catalog. */
export type LocalFeaturesCatalog = Pick<Catalog, 'photoFile' | 'getFeatureRecords' | 'putFeatureRecords' | 'maxPixels'>;

/** A catalog's stored local features. */
export interface CatalogLocalFeatures {
  /** The key the local features are stored under in the catalog's feature store. */
  readonly recordKey: string;
  /** The keypoint settings. */
  readonly settings: LocalSettings;
  /** Photos described so far through this object (the others were read back from the catalog). */
  readonly described: number;
  /**
   * Local features of photos: the stored ones read back (a damaged record is described again),
   * the others described and stored.
   *
   * @param photos - catalog photos (their box is the crop)
   * @param onProgress - after each photo described
   * @returns the features of each photo, in order
   * @throws {@link WhaleidError} naming the first photo that could not be read
   */
  load(photos: readonly PhotoRecord[], onProgress?: (done: number, total: number) => void): Promise<LocalFeatures[]>;
  /**
   * Local features of photos without writing the catalog: the stored ones read back, the others
   * (and damaged records) described in memory only. For reads that must change nothing (a GET).
   *
   * @param photos - catalog photos (their box is the crop)
   * @returns the features of each photo, in order
   * @throws {@link WhaleidError} naming the first photo that could not be read
   */
  peek(photos: readonly PhotoRecord[]): Promise<LocalFeatures[]>;
  /**
   * Makes sure the photos' local features are stored, describing only those that are not.
   *
   * @param photos - catalog photos
   * @returns how many it described and stored (0: all were stored)
   * @throws {@link WhaleidError} naming the first photo that could not be read
   */
  store(photos: readonly PhotoRecord[]): Promise<number>;
}

/** Options of {@link createCatalogLocalFeatures}. */
export interface CatalogLocalFeaturesOptions {
  /** Decoded-photo cache folder (none: decoded in memory only). */
  cacheDir?: string;
  /** Keypoint settings (default {@link DEFAULT_LOCAL}). */
  settings?: LocalSettings;
}

/**
 * Key of local features in the catalog's feature store: their settings, so other settings never mix.
 *
 * @param settings - the keypoint settings
 * @returns `local/<settings key>`
 * @example
 * await catalog.getFeatureRecords(localRecordKey(DEFAULT_LOCAL), [42]);
 */
export const localRecordKey = (settings: LocalSettings): string => `local/${localSettingsKey(settings)}`;

/**
 * The local features of a catalog's photos, described once and stored in its feature store.
 * Nothing is kept in memory: each call reads the catalog (callers that need them again keep them).
 *
 * @param catalog - the open catalog
 * @param options - photo cache folder, keypoint settings
 * @returns the catalog's local features
 * @example
 * const local = createCatalogLocalFeatures(catalog, { cacheDir: '~/.cache/whaleid/grey' });
 * await local.store([await catalog.photo(42)]); // 1: described and stored; 0 the next time
 */
export function createCatalogLocalFeatures(catalog: LocalFeaturesCatalog, options: CatalogLocalFeaturesOptions = {}): CatalogLocalFeatures {
  const settings = options.settings ?? DEFAULT_LOCAL;
  const recordKey = localRecordKey(settings);
  const cache = createImageCache({ dir: options.cacheDir, maxSide: 2 * localCropWidth(settings), maxPixels: catalog.maxPixels });
  let described = 0;

  /** The photos' features, and how many of them it described (the others were stored). */
  const readOrDescribe = async (photos: readonly PhotoRecord[], onProgress?: (done: number, total: number) => void, store = true): Promise<{ features: LocalFeatures[]; described: number }> => {
    const out = new Array<LocalFeatures>(photos.length);
    if (!photos.length) return { features: out, described: 0 };
    // the catalog drops a photo's features when its box changes, so stored ones are current
    const stored = await catalog.getFeatureRecords(recordKey, photos.map((p) => p.id));
    const describe: number[] = [];
    photos.forEach((p, i) => {
      const bytes = stored.get(p.id);
      let f: LocalFeatures | undefined;
      try {
        f = bytes ? decodeLocalFeatures(bytes, settings, `catalog photo ${p.id}`)[0] : undefined;
      } catch {
        f = undefined; // a damaged record: described again below
      }
      if (f) out[i] = f;
      else describe.push(i);
    });
    if (describe.length) {
      const fresh = await describePhotos(cache, describe.map((i) => ({ file: catalog.photoFile(photos[i]), box: photos[i].box ?? undefined })), settings, { onProgress });
      if (store) {
        await catalog.putFeatureRecords(recordKey, describe.map((i, j) => ({ photoId: photos[i].id, bytes: encodeLocalFeatures([fresh[j]], settings) })));
        described += describe.length;
      }
      describe.forEach((i, j) => (out[i] = fresh[j]));
    }
    return { features: out, described: describe.length };
  };

  return {
    recordKey,
    settings,
    get described() {
      return described;
    },
    load: async (photos, onProgress) => (await readOrDescribe(photos, onProgress)).features,
    peek: async (photos) => (await readOrDescribe(photos, undefined, false)).features,
    // decoding what is stored (not just looking it up) is the check that finds a damaged record
    store: async (photos) => (await readOrDescribe(photos)).described,
  };
}
