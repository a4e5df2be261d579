/**
 * The feature extraction job: one photo's features with a run's model, written to the catalog.
 * Idempotent: a job that finds the photo's features already stored (a retry after its first
 * worker wrote them and died before saying so) finishes without computing or writing again.
 */
import type { Catalog } from '../catalog/catalog.js';
import type { PhotoRecord } from '../catalog/catalog-types.js';
import { NotFoundError } from '../catalog/not-found-error.js';

/** What the job reads and writes of the catalog. */
export type FeatureJobCatalog = Pick<Catalog, 'photo' | 'photoFile' | 'getFeatures' | 'putFeatures'>;

/** Computes the features of catalog photos with one model. */
export interface FeatureExtractor {
  readonly modelVersion: string;
  /** One vector per photo, in order. */
  extract(photos: readonly PhotoRecord[]): Promise<Float32Array[]>;
}

/** What a job did. */
export interface FeatureJobResult {
  photoId: number;
  /** `written`: features computed and stored; `present`: already stored; `gone`: no such photo. */
  outcome: 'written' | 'present' | 'gone';
}

/**
 * Runs one feature extraction job.
 *
 * @param catalog - the catalog
 * @param extractor - the model
 * @param photoId - the job's photo
 * @returns what it did
 * @throws whatever reading the photo or the model throws (the queue retries the job)
 * @example
 * await runFeatureJob(catalog, extractor, 42); // { photoId: 42, outcome: 'written' }
 */
export async function runFeatureJob(catalog: FeatureJobCatalog, extractor: FeatureExtractor, photoId: number): Promise<FeatureJobResult> {
  let photo: PhotoRecord;
  try {
    photo = await catalog.photo(photoId);
  } catch (e) {
    if (e instanceof NotFoundError) return { photoId, outcome: 'gone' };
    throw e;
  }
  if ((await catalog.getFeatures(extractor.modelVersion, [photoId])).has(photoId)) return { photoId, outcome: 'present' };
  const [vector] = await extractor.extract([photo]);
  await catalog.putFeatures(extractor.modelVersion, [{ photoId, vector }]);
  return { photoId, outcome: 'written' };
}
