/**
 * The feature extraction job: one photo's features with a run's model (or with each of several
 * learned models, for services that fuse them), written to the catalog, and those of each of the
 * photo's further annotations (its own box and rotation, under its gallery id: gallery-ids.ts), so
 * a further annotation joins a queued gallery as soon as it names an individual,
 * and with a local side (`whaleid worker --matcher local|fused`) its keypoints and descriptors
 * too. Idempotent: a job that finds what it would write already stored (a retry after its first
 * worker wrote it and died before saying so) finishes without computing or writing again; one
 * that finds only part of it computes the rest.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { PhotoRecord } from '../catalog/catalog-types.js';
import { annotationCorners, annotationGalleryId } from '../catalog/gallery-ids.js';
import { NotFoundError } from '../catalog/not-found-error.js';
import type { CatalogLocalFeatures } from '../infer/local/catalog-local-features.js';

/** What the job reads and writes of the catalog. */
export type FeatureJobCatalog = Pick<Catalog, 'photo' | 'annotations' | 'photoFile' | 'getFeatures' | 'putFeatures'>;

/** Computes the features of catalog photos with one model. */
export interface FeatureExtractor {
  readonly modelVersion: string;
  /** One vector per photo, in order. */
  extract(photos: readonly PhotoRecord[]): Promise<Float32Array[]>;
}

/** What a job did. */
export interface FeatureJobResult {
  /** The job's photo (its further annotations' features are part of its job). */
  photoId: number;
  /**
   * `written`: features (Siamese, or local ones with a local side) computed and stored; `present`:
   * all of them already stored; `gone`: no such photo.
   */
  outcome: 'written' | 'present' | 'gone';
}

/**
 * Runs one feature extraction job.
 *
 * @param catalog - the catalog
 * @param extractor - the model, or the models (several learned models fused: each one's features stored under its version)
 * @param photoId - the job's photo
 * @param local - where the photo's local features are stored too (none: Siamese features only)
 * @returns what it did
 * @throws whatever reading the photo, the model or the keypoints throws (the queue retries the job)
 * @example
 * await runFeatureJob(catalog, extractor, 42); // { photoId: 42, outcome: 'written' }
 * await runFeatureJob(catalog, extractor, 42, createCatalogLocalFeatures(catalog)); // 'written': its descriptors were missing
 */
export async function runFeatureJob(catalog: FeatureJobCatalog, extractor: FeatureExtractor | readonly FeatureExtractor[], photoId: number, local?: Pick<CatalogLocalFeatures, 'store'>): Promise<FeatureJobResult> {
  let rows: PhotoRecord[];
  try {
    rows = await galleryRowsOf(catalog, photoId);
  } catch (e) {
    if (e instanceof NotFoundError) return { photoId, outcome: 'gone' };
    throw e;
  }
  let present = true;
  for (const model of Array.isArray(extractor) ? extractor : [extractor as FeatureExtractor]) {
    const stored = await catalog.getFeatures(model.modelVersion, rows.map((r) => r.id));
    const missing = rows.filter((r) => !stored.has(r.id));
    if (missing.length === 0) continue;
    present = false;
    const vectors = await model.extract(missing);
    await catalog.putFeatures(model.modelVersion, missing.map((r, i) => ({ photoId: r.id, vector: vectors[i] })));
  }
  const described = local ? await local.store(rows) : 0;
  return { photoId, outcome: present && described === 0 ? 'present' : 'written' };
}

/**
 * The records a photo's job extracts: the photo (its first annotation), then each further
 * annotation as the gallery crops it, under its gallery id with its own box and rotation.
 */
async function galleryRowsOf(catalog: Pick<FeatureJobCatalog, 'photo' | 'annotations'>, photoId: number): Promise<PhotoRecord[]> {
  const photo = await catalog.photo(photoId);
  const further = (await catalog.annotations(photoId)).filter((a) => a.ordinal > 0);
  return [photo, ...further.map((a) => ({ ...photo, id: annotationGalleryId(a.id), box: annotationCorners(a) }))];
}
