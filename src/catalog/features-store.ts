import type { CatalogDb } from './catalog-db.js';

/**
 * Features of catalog photos, per key: the Siamese feature vectors per model version (a hash of
 * the run's exported model), and records other extractors encode themselves (the local
 * features' keypoints and descriptors, keyed by their settings), in the same table, so a photo's
 * features of every kind are stored, copied and dropped together. Ids are gallery ids
 * (gallery-ids.ts): a photo's id for its first annotation's features, minus an annotation's id
 * for a further annotation's (kept in `annotation_features`, dropped with the annotation).
 */
export interface FeaturesStore {
  getFeatures(modelVersion: string, photoIds: readonly number[]): Promise<Map<number, Float32Array>>;
  /** Every stored vector of a model version, in one query (a service's start: 100,000 photos in one read, not 20 of 5,000 ids). */
  getAllFeatures(modelVersion: string): Promise<Map<number, Float32Array>>;
  putFeatures(modelVersion: string, entries: readonly { photoId: number; vector: Float32Array }[]): Promise<void>;
  /**
   * Stored records of photos under a key, as bytes (the caller decodes them); photos without one
   * are absent from the map.
   */
  getFeatureRecords(key: string, photoIds: readonly number[]): Promise<Map<number, Buffer>>;
  /** Stores (or replaces) records of photos under a key, in one write. */
  putFeatureRecords(key: string, entries: readonly { photoId: number; bytes: Uint8Array }[]): Promise<void>;
  /**
   * The photos without a record under a key (a model version), or with a further annotation
   * without one, ascending, in one query: what a worker of a copied or bulk-imported catalog, or
   * of a photo given another annotation, has to extract.
   */
  photosWithoutFeatures(key: string): Promise<number[]>;
}

/** {@link FeaturesStore} and what the photos store uses inside its writes. */
export interface Features {
  readonly api: FeaturesStore;
  /** Drops every model's features of a photo (its crop changed; call inside a write). */
  dropPhoto(photoId: number): Promise<void>;
}

/** Ids per `IN (...)` list: well within SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const IDS_PER_QUERY = 5000;

/** A float32 vector from its stored bytes (copied: the bytes' buffer may be shared or unaligned). */
function vectorOf(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/**
 * Every row's vector copied into one contiguous block, each a view of it: one allocation for a
 * million vectors instead of a million (a service's start; the views' block is kept alive by them).
 */
function vectorsInOneBlock(rows: readonly { photo_id: number; vector: Uint8Array }[]): Map<number, Float32Array> {
  let floats = 0;
  for (const r of rows) floats += r.vector.byteLength >> 2;
  const block = new Float32Array(floats);
  const bytes = new Uint8Array(block.buffer);
  const out = new Map<number, Float32Array>();
  let at = 0;
  for (const r of rows) {
    const n = r.vector.byteLength >> 2;
    bytes.set(r.vector.subarray(0, n * 4), at * 4);
    out.set(r.photo_id, block.subarray(at, at + n));
    at += n;
  }
  return out;
}

/**
 * The feature store: features as bytes (BLOB, bytea), keyed by photo and model version (or the
 * settings key of another extractor), so features of different models never mix and a retrained
 * model simply computes its own.
 *
 * @param db - the catalog's database
 * @returns the store
 * @example
 * const features = createFeatures(db);
 * await features.api.putFeatures('run@abc', [{ photoId: 1, vector: new Float32Array(128) }]);
 */
export function createFeatures(db: CatalogDb): Features {
  const getRecords = async (key: string, photoIds: readonly number[]): Promise<Map<number, Buffer>> => {
    const out = new Map<number, Buffer>();
    const bytesOf = (v: Uint8Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    // gallery ids (gallery-ids.ts): a photo's, or minus a further annotation's
    const photos = photoIds.filter((id) => id >= 0);
    const notes = photoIds.filter((id) => id < 0).map((id) => -id);
    for (let i = 0; i < photos.length; i += IDS_PER_QUERY) {
      const rows = await db.q().selectFrom('features').select(['photo_id', 'vector']).where('model_version', '=', key).where('photo_id', 'in', photos.slice(i, i + IDS_PER_QUERY)).execute();
      for (const r of rows) out.set(r.photo_id, bytesOf(r.vector));
    }
    for (let i = 0; i < notes.length; i += IDS_PER_QUERY) {
      const rows = await db.q().selectFrom('annotation_features').select(['annotation_id', 'vector']).where('model_version', '=', key).where('annotation_id', 'in', notes.slice(i, i + IDS_PER_QUERY)).execute();
      for (const r of rows) out.set(-r.annotation_id, bytesOf(r.vector));
    }
    return out;
  };
  const putRecords = async (key: string, entries: readonly { photoId: number; bytes: Uint8Array }[]): Promise<void> => {
    if (entries.length === 0) return;
    await db.write(async () => {
      for (const e of entries) {
        const vector = Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
        if (e.photoId < 0) {
          await db.q().insertInto('annotation_features').values({ annotation_id: -e.photoId, model_version: key, vector })
            .onConflict((oc) => oc.columns(['annotation_id', 'model_version']).doUpdateSet({ vector })).execute();
        } else {
          await db.q().insertInto('features').values({ photo_id: e.photoId, model_version: key, vector })
            .onConflict((oc) => oc.columns(['photo_id', 'model_version']).doUpdateSet({ vector })).execute();
        }
      }
    });
  };
  return {
    api: {
      async getFeatures(modelVersion, photoIds) {
        const out = new Map<number, Float32Array>();
        for (const [id, bytes] of await getRecords(modelVersion, photoIds)) out.set(id, vectorOf(bytes));
        return out;
      },
      async getAllFeatures(modelVersion) {
        const rows = await db.q().selectFrom('features').select(['photo_id', 'vector']).where('model_version', '=', modelVersion).execute();
        const notes = await db.q().selectFrom('annotation_features').select(['annotation_id', 'vector']).where('model_version', '=', modelVersion).execute();
        return vectorsInOneBlock(notes.length ? [...rows, ...notes.map((r) => ({ photo_id: -r.annotation_id, vector: r.vector }))] : rows);
      },
      putFeatures: (modelVersion, entries) => putRecords(modelVersion, entries.map((e) => ({ photoId: e.photoId, bytes: new Uint8Array(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength) }))),
      getFeatureRecords: getRecords,
      putFeatureRecords: putRecords,
      async photosWithoutFeatures(key) {
        // a photo's job covers its further annotations too (jobs/feature-job.ts): a photo is missing
        // when it, or one of its further annotations (added later, or before workers extracted them), has none
        const rows = await db.q().selectFrom('photos').select('photos.id')
          .where(({ or, not, exists, selectFrom }) => or([
            not(exists(selectFrom('features').select('features.photo_id').whereRef('features.photo_id', '=', 'photos.id').where('features.model_version', '=', key))),
            exists(selectFrom('annotations').select('annotations.id').whereRef('annotations.photo_id', '=', 'photos.id').where('annotations.ordinal', '>', 0)
              .where(({ not: notA, exists: existsA, selectFrom: from }) => notA(existsA(from('annotation_features').select('annotation_features.annotation_id').whereRef('annotation_features.annotation_id', '=', 'annotations.id').where('annotation_features.model_version', '=', key))))),
          ]))
          .orderBy('photos.id').execute();
        return rows.map((r) => r.id);
      },
    },
    dropPhoto: async (photoId) => {
      await db.q().deleteFrom('features').where('photo_id', '=', photoId).execute();
    },
  };
}
