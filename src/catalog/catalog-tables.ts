import type { Generated } from 'kysely';
import type { DecisionRecord, DetailSource, PhotoRecord, PhotoStatus, UserRole } from './catalog-types.js';

/**
 * The catalog's tables as the query layer (Kysely) sees them: column names as in the schema
 * (catalog-schema.ts), the same on SQLite and PostgreSQL. Every query of the stores is written
 * once against these types and runs on either database.
 */

/** The `individuals` table. */
export interface IndividualsTable {
  id: Generated<number>;
  name: string;
  notes: Generated<string>;
  created_at: string;
  created_by: Generated<string>;
  merged_into: number | null;
  /** Given by an import (Wildbook's individual uuid), else null: exports derive one (migration 4). */
  uuid: string | null;
}

/** The `photos` table. */
export interface PhotosTable {
  id: Generated<number>;
  sha256: string;
  format: string;
  bytes: number;
  width: number;
  height: number;
  original_name: Generated<string>;
  box_x0: number | null;
  box_y0: number | null;
  box_x1: number | null;
  box_y1: number | null;
  box_source: Generated<PhotoRecord['boxSource']>;
  taken_on: string | null;
  location: string | null;
  uploaded_by: Generated<string>;
  uploaded_at: string;
  individual_id: number | null;
  status: Generated<PhotoStatus>;
  latitude: number | null;
  longitude: number | null;
  taken_on_source: DetailSource | null;
  position_source: DetailSource | null;
  encounter_id: number | null;
  /** Given by an import (Wildbook's media asset uuid), else null: exports derive one (migration 4). */
  uuid: string | null;
}

/**
 * The `annotations` table (migration 4): one animal in a photo. Ordinal 0 is the photo's first
 * annotation, whose box and individual the photo's own columns mirror; a null box is the whole
 * photo.
 */
export interface AnnotationsTable {
  id: Generated<number>;
  photo_id: number;
  ordinal: number;
  x: number | null;
  y: number | null;
  w: number | null;
  h: number | null;
  theta: Generated<number>;
  species: Generated<string>;
  viewpoint: Generated<string>;
  individual_id: number | null;
  uuid: string | null;
}

/**
 * The `features` table: a photo's features under a key, as bytes (BLOB on SQLite, bytea on
 * PostgreSQL): a Siamese float32 vector under its model version, or an encoded record (local
 * keypoints and descriptors) under its extractor's settings key.
 */
export interface FeaturesTable {
  photo_id: number;
  model_version: string;
  vector: Buffer;
}

/** The `decisions` table. */
export interface DecisionsTable {
  id: Generated<number>;
  photo_id: number | null;
  action: DecisionRecord['action'];
  individual_id: number | null;
  other_individual_id: number | null;
  score: number | null;
  model_version: string | null;
  decided_by: string;
  decided_at: string;
  undoes: number | null;
  /** The annotation decided about (migration 6); null for merges, the photo's first for earlier decisions. */
  annotation_id: number | null;
}

/**
 * The `annotation_features` table (migration 6): the learned features of a photo's further
 * annotations (ordinal 1 on), each from its own box, per model version. The first annotation's are
 * the photo's, in `features`.
 */
export interface AnnotationFeaturesTable {
  annotation_id: number;
  model_version: string;
  vector: Buffer;
}

/** The `encounters` table (sightings). */
export interface EncountersTable {
  id: Generated<number>;
  created_at: string;
  created_by: Generated<string>;
}

/** The `users` table (migration 5): accounts of the service, their tokens as SHA-256 only. */
export interface UsersTable {
  id: Generated<number>;
  name: string;
  role: UserRole;
  token_sha256: string;
  created_at: string;
  created_by: Generated<string>;
  revoked_at: string | null;
}

/** The `user_changes` table (migration 7): every add, role change and revocation of an account, with who made it. */
export interface UserChangesTable {
  id: Generated<number>;
  user_id: number;
  action: 'add' | 'role' | 'revoke';
  role: UserRole | null;
  changed_by: Generated<string>;
  changed_at: string;
}

/** The `catalog_revision` table (migration 4): one row, counted up by every write. */
export interface CatalogRevisionTable {
  id: number;
  revision: number;
}

/** Every table of a catalog. */
export interface CatalogTables {
  individuals: IndividualsTable;
  photos: PhotosTable;
  annotations: AnnotationsTable;
  features: FeaturesTable;
  annotation_features: AnnotationFeaturesTable;
  decisions: DecisionsTable;
  encounters: EncountersTable;
  catalog_revision: CatalogRevisionTable;
  users: UsersTable;
  user_changes: UserChangesTable;
}

/**
 * The tables in the order a copy inserts them (every reference points to a table before it, or
 * within itself in id order), with the key their rows are ordered by.
 */
export const TABLE_ORDER: readonly { table: keyof CatalogTables; key: readonly string[] }[] = [
  { table: 'individuals', key: ['id'] },
  { table: 'encounters', key: ['id'] },
  { table: 'photos', key: ['id'] },
  { table: 'annotations', key: ['id'] },
  { table: 'features', key: ['photo_id', 'model_version'] },
  { table: 'annotation_features', key: ['annotation_id', 'model_version'] },
  { table: 'decisions', key: ['id'] },
  { table: 'users', key: ['id'] },
  { table: 'user_changes', key: ['id'] },
];
