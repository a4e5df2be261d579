import type { CatalogDb } from './catalog-db.js';

/** Feature vectors of catalog photos, per model version (a hash of the run's exported model). */
export interface FeaturesStore {
  getFeatures(modelVersion: string, photoIds: readonly number[]): Map<number, Float32Array>;
  putFeatures(modelVersion: string, entries: readonly { photoId: number; vector: Float32Array }[]): void;
}

/** {@link FeaturesStore} and what the photos store uses inside its writes. */
export interface Features {
  readonly api: FeaturesStore;
  /** Drops every model's features of a photo (its crop changed; call inside a write). */
  dropPhoto(photoId: number): void;
}

/**
 * The feature store: float32 vectors as blobs, keyed by photo and model version, so features of
 * different models never mix and a retrained model simply computes its own.
 *
 * @param db - the catalog's connection
 * @returns the store
 * @example
 * const features = createFeatures(db);
 * features.api.putFeatures('run@abc', [{ photoId: 1, vector: new Float32Array(128) }]);
 */
export function createFeatures(db: CatalogDb): Features {
  const { sql } = db;
  const getVector = sql.prepare<[string, number], { vector: Buffer }>('SELECT vector FROM features WHERE model_version = ? AND photo_id = ?');
  const putVector = sql.prepare('INSERT OR REPLACE INTO features (photo_id, model_version, vector) VALUES (@photo_id, @model_version, @vector)');
  const drop = sql.prepare('DELETE FROM features WHERE photo_id = ?');
  return {
    api: {
      getFeatures(modelVersion, photoIds) {
        const out = new Map<number, Float32Array>();
        for (const id of photoIds) {
          const r = getVector.get(modelVersion, id);
          if (r) out.set(id, new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength)));
        }
        return out;
      },
      putFeatures(modelVersion, entries) {
        db.write(() => {
          for (const e of entries) putVector.run({ photo_id: e.photoId, model_version: modelVersion, vector: Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength) });
        });
      },
    },
    dropPhoto: (photoId) => {
      drop.run(photoId);
    },
  };
}
