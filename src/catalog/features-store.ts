import type { CatalogDb } from './catalog-db.js';

/** Feature vectors of catalog photos, per model version (a hash of the run's exported model). */
export interface FeaturesStore {
  getFeatures(modelVersion: string, photoIds: readonly number[]): Promise<Map<number, Float32Array>>;
  putFeatures(modelVersion: string, entries: readonly { photoId: number; vector: Float32Array }[]): Promise<void>;
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
 * The feature store: float32 vectors as bytes (BLOB, bytea), keyed by photo and model version, so
 * features of different models never mix and a retrained model simply computes its own.
 *
 * @param db - the catalog's database
 * @returns the store
 * @example
 * const features = createFeatures(db);
 * await features.api.putFeatures('run@abc', [{ photoId: 1, vector: new Float32Array(128) }]);
 */
export function createFeatures(db: CatalogDb): Features {
  return {
    api: {
      async getFeatures(modelVersion, photoIds) {
        const out = new Map<number, Float32Array>();
        for (let i = 0; i < photoIds.length; i += IDS_PER_QUERY) {
          const ids = photoIds.slice(i, i + IDS_PER_QUERY);
          const rows = await db.q().selectFrom('features').select(['photo_id', 'vector']).where('model_version', '=', modelVersion).where('photo_id', 'in', ids).execute();
          for (const r of rows) out.set(r.photo_id, vectorOf(r.vector));
        }
        return out;
      },
      async putFeatures(modelVersion, entries) {
        if (entries.length === 0) return;
        await db.write(async () => {
          for (const e of entries) {
            const vector = Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength);
            await db.q().insertInto('features').values({ photo_id: e.photoId, model_version: modelVersion, vector })
              .onConflict((oc) => oc.columns(['photo_id', 'model_version']).doUpdateSet({ vector })).execute();
          }
        });
      },
    },
    dropPhoto: async (photoId) => {
      await db.q().deleteFrom('features').where('photo_id', '=', photoId).execute();
    },
  };
}
