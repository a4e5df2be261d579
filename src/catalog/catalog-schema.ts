import type { Database } from 'better-sqlite3';
import type { PoolClient } from 'pg';
import { WhaleidError } from '../util/errors.js';

/**
 * The catalog's schema as numbered migrations, SQLite's DDL. `PRAGMA user_version` holds the
 * number applied; opening a catalog applies the missing ones in one transaction each, so an old
 * catalog file is upgraded in place and a kill during an upgrade leaves the previous version
 * intact. {@link POSTGRES_MIGRATIONS} are the same migrations for PostgreSQL, translated from these.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: individuals, photos, features per model version, decisions
  `CREATE TABLE individuals (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     notes TEXT NOT NULL DEFAULT '',
     created_at TEXT NOT NULL,
     created_by TEXT NOT NULL DEFAULT '',
     merged_into INTEGER REFERENCES individuals(id)
   );
   CREATE TABLE photos (
     id INTEGER PRIMARY KEY,
     sha256 TEXT NOT NULL UNIQUE,
     format TEXT NOT NULL,
     bytes INTEGER NOT NULL,
     width INTEGER NOT NULL,
     height INTEGER NOT NULL,
     original_name TEXT NOT NULL DEFAULT '',
     box_x0 REAL, box_y0 REAL, box_x1 REAL, box_y1 REAL,
     box_source TEXT NOT NULL DEFAULT 'none' CHECK (box_source IN ('none', 'csv', 'model', 'user')),
     taken_on TEXT,
     location TEXT,
     uploaded_by TEXT NOT NULL DEFAULT '',
     uploaded_at TEXT NOT NULL,
     individual_id INTEGER REFERENCES individuals(id),
     status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'identified', 'skipped'))
   );
   CREATE INDEX photos_individual ON photos(individual_id);
   CREATE INDEX photos_status ON photos(status);
   CREATE TABLE features (
     photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
     model_version TEXT NOT NULL,
     vector BLOB NOT NULL,
     PRIMARY KEY (photo_id, model_version)
   );
   CREATE TABLE decisions (
     id INTEGER PRIMARY KEY,
     photo_id INTEGER REFERENCES photos(id),
     action TEXT NOT NULL CHECK (action IN ('import', 'confirm', 'new-individual', 'skip', 'merge')),
     individual_id INTEGER REFERENCES individuals(id),
     other_individual_id INTEGER REFERENCES individuals(id),
     score REAL,
     model_version TEXT,
     decided_by TEXT NOT NULL,
     decided_at TEXT NOT NULL
   );
   CREATE INDEX decisions_photo ON decisions(photo_id);`,
  // 2: where each photo was taken (from EXIF or a person: the source says which), and sightings
  // (encounters): the photos of one sighting grouped, so an individual's history is a list of
  // sightings with dates and places rather than of photos
  `ALTER TABLE photos ADD COLUMN latitude REAL CHECK (latitude BETWEEN -90 AND 90);
   ALTER TABLE photos ADD COLUMN longitude REAL CHECK (longitude BETWEEN -180 AND 180);
   ALTER TABLE photos ADD COLUMN taken_on_source TEXT CHECK (taken_on_source IN ('exif', 'user'));
   ALTER TABLE photos ADD COLUMN position_source TEXT CHECK (position_source IN ('exif', 'user'));
   UPDATE photos SET taken_on_source = 'user' WHERE taken_on IS NOT NULL;
   CREATE TABLE encounters (
     id INTEGER PRIMARY KEY,
     created_at TEXT NOT NULL,
     created_by TEXT NOT NULL DEFAULT ''
   );
   ALTER TABLE photos ADD COLUMN encounter_id INTEGER REFERENCES encounters(id);
   CREATE INDEX photos_encounter ON photos(encounter_id);
   CREATE INDEX photos_taken_day ON photos(substr(taken_on, 1, 10));`,
  // 3: undo: a decision that reverts an earlier one (\`undoes\`); SQLite cannot change a CHECK
  // constraint in place, so the table is rebuilt with its rows and ids
  `CREATE TABLE decisions_v2 (
     id INTEGER PRIMARY KEY,
     photo_id INTEGER REFERENCES photos(id),
     action TEXT NOT NULL CHECK (action IN ('import', 'confirm', 'new-individual', 'skip', 'merge', 'undo')),
     individual_id INTEGER REFERENCES individuals(id),
     other_individual_id INTEGER REFERENCES individuals(id),
     score REAL,
     model_version TEXT,
     decided_by TEXT NOT NULL,
     decided_at TEXT NOT NULL,
     undoes INTEGER REFERENCES decisions_v2(id)
   );
   INSERT INTO decisions_v2 (id, photo_id, action, individual_id, other_individual_id, score, model_version, decided_by, decided_at)
     SELECT id, photo_id, action, individual_id, other_individual_id, score, model_version, decided_by, decided_at FROM decisions;
   DROP TABLE decisions;
   ALTER TABLE decisions_v2 RENAME TO decisions;
   CREATE INDEX decisions_photo ON decisions(photo_id);`,
  // 4: annotations: a photo holds several animals, each with its box (x, y, w, h in pixels and a
  // rotation theta in radians), species, viewpoint and individual. Every photo gets its first
  // annotation (ordinal 0) from its own box and individual, which the photo's columns keep
  // mirroring (photos-store.ts writes both), so every existing query of a photo's box and
  // individual still holds. uuids: given by an import (Wildbook's), else derived when exported
  `CREATE TABLE annotations (
     id INTEGER PRIMARY KEY,
     photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
     ordinal INTEGER NOT NULL CHECK (ordinal >= 0),
     x REAL, y REAL, w REAL, h REAL,
     theta REAL NOT NULL DEFAULT 0,
     species TEXT NOT NULL DEFAULT '',
     viewpoint TEXT NOT NULL DEFAULT '',
     individual_id INTEGER REFERENCES individuals(id),
     uuid TEXT UNIQUE,
     UNIQUE (photo_id, ordinal)
   );
   CREATE INDEX annotations_individual ON annotations(individual_id);
   INSERT INTO annotations (photo_id, ordinal, x, y, w, h, individual_id)
     SELECT id, 0, box_x0, box_y0, box_x1 - box_x0, box_y1 - box_y0, individual_id FROM photos ORDER BY id;
   ALTER TABLE photos ADD COLUMN uuid TEXT;
   CREATE UNIQUE INDEX photos_uuid ON photos(uuid);
   ALTER TABLE individuals ADD COLUMN uuid TEXT;
   CREATE UNIQUE INDEX individuals_uuid ON individuals(uuid);`,
  // 5: accounts: named users with a role, each with one bearer token kept only as its SHA-256
  // (users-store.ts); a revoked user keeps its row, so decisions that name it still name someone
  `CREATE TABLE users (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'read-only')),
     token_sha256 TEXT NOT NULL UNIQUE,
     created_at TEXT NOT NULL,
     created_by TEXT NOT NULL DEFAULT '',
     revoked_at TEXT
   );`,
  // 6: decisions per annotation: each decision names the annotation it was about (the photo's first
  // one for every earlier decision, which were about the photo, i.e. its first annotation); the
  // learned features of a photo's further annotations, each computed from its own box (the first
  // annotation's stay in features, under the photo, as before); the gallery's read of further
  // annotations goes by a partial index, not through every photo's first annotation
  `ALTER TABLE decisions ADD COLUMN annotation_id INTEGER REFERENCES annotations(id);
   UPDATE decisions SET annotation_id = (SELECT a.id FROM annotations a WHERE a.photo_id = decisions.photo_id AND a.ordinal = 0) WHERE photo_id IS NOT NULL;
   CREATE INDEX decisions_annotation ON decisions(annotation_id);
   CREATE INDEX annotations_further ON annotations(id) WHERE ordinal > 0;
   CREATE TABLE annotation_features (
     annotation_id INTEGER NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
     model_version TEXT NOT NULL,
     vector BLOB NOT NULL,
     PRIMARY KEY (annotation_id, model_version)
   );`,
  // 7: who changed an account: one row per add (or new token), role change and revocation
  // (users-store.ts); the users already there get their add, and their revocation, by whom unknown
  `CREATE TABLE user_changes (
     id INTEGER PRIMARY KEY,
     user_id INTEGER NOT NULL REFERENCES users(id),
     action TEXT NOT NULL CHECK (action IN ('add', 'role', 'revoke')),
     role TEXT CHECK (role IN ('admin', 'reviewer', 'read-only')),
     changed_by TEXT NOT NULL DEFAULT '',
     changed_at TEXT NOT NULL
   );
   CREATE INDEX user_changes_user ON user_changes(user_id);
   INSERT INTO user_changes (user_id, action, role, changed_by, changed_at)
     SELECT id, 'add', role, created_by, created_at FROM users ORDER BY id;
   INSERT INTO user_changes (user_id, action, role, changed_by, changed_at)
     SELECT id, 'revoke', NULL, '', revoked_at FROM users WHERE revoked_at IS NOT NULL ORDER BY id;`,
];

/**
 * SQLite DDL in PostgreSQL's types: INTEGER ids become BIGINT identities that also accept the ids
 * a copy brings, other INTEGERs BIGINT, REAL DOUBLE PRECISION (SQLite's 8-byte float), BLOB
 * BYTEA. Enough for the catalog's DDL, which keeps to what both databases parse alike (CHECK,
 * REFERENCES, DEFAULT, expression indexes on substr); a migration that needs more is written
 * for each database (as migration 3 is).
 *
 * @param ddl - SQLite statements
 * @returns the same statements for PostgreSQL
 * @example
 * toPostgresDdl('CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL)');
 * // 'CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, x DOUBLE PRECISION)'
 */
export function toPostgresDdl(ddl: string): string {
  return ddl
    .replace(/\bINTEGER PRIMARY KEY\b/g, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')
    .replace(/\bINTEGER\b/g, 'BIGINT')
    .replace(/\bREAL\b/g, 'DOUBLE PRECISION')
    .replace(/\bBLOB\b/g, 'BYTEA');
}

/**
 * The same migrations as {@link MIGRATIONS}, one for one, for PostgreSQL: the same tables,
 * columns, constraints and indexes, translated by {@link toPostgresDdl} where the SQLite DDL says
 * it for both, written out where the databases differ. Every query is written once
 * (catalog-tables.ts). The number applied is kept in `whaleid_state` (PostgreSQL has no
 * user_version), with the revision every write counts.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  toPostgresDdl(MIGRATIONS[0]),
  toPostgresDdl(MIGRATIONS[1]),
  // PostgreSQL changes a CHECK constraint in place: no rebuild
  `ALTER TABLE decisions DROP CONSTRAINT decisions_action_check;
   ALTER TABLE decisions ADD CONSTRAINT decisions_action_check CHECK (action IN ('import', 'confirm', 'new-individual', 'skip', 'merge', 'undo'));
   ALTER TABLE decisions ADD COLUMN undoes BIGINT REFERENCES decisions(id);`,
  toPostgresDdl(MIGRATIONS[3]),
  toPostgresDdl(MIGRATIONS[4]),
  toPostgresDdl(MIGRATIONS[5]),
  toPostgresDdl(MIGRATIONS[6]),
];

/** PostgreSQL's stand-in for SQLite's user_version and data_version: one row. */
export const POSTGRES_STATE_TABLE = `CREATE TABLE IF NOT EXISTS whaleid_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  revision BIGINT NOT NULL
);
INSERT INTO whaleid_state (id, schema_version, revision) VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING;`;

/**
 * Brings a SQLite catalog to the latest schema.
 *
 * @param db - an open database
 * @returns the schema version now in force
 * @throws {@link WhaleidError} when the file was written by a newer whaleid
 * @example
 * migrateSqlite(new Database('catalog.db'));
 */
export function migrateSqlite(db: Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) throw newerSchema(db.name, current);
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length;
}

/**
 * Brings a PostgreSQL catalog to the latest schema: each missing migration in one transaction
 * that holds the state row's lock, so service processes starting together migrate once.
 *
 * @param client - a connection of the catalog's pool
 * @param name - the catalog as shown in errors (URL without password)
 * @param readonly - only check the version, change nothing
 * @returns the schema version now in force
 * @throws {@link WhaleidError} when the database was written by a newer whaleid
 * @example
 * await migratePostgres(await pool.connect(), 'postgres://db/whales', false);
 */
export async function migratePostgres(client: PoolClient, name: string, readonly: boolean): Promise<number> {
  if (!readonly) {
    // one process at a time creates the state row (an advisory lock: there is no row to lock yet)
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(8300170)');
      await client.query(POSTGRES_STATE_TABLE);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK');
      throw e;
    }
  }
  const version = async (): Promise<number> => Number((await client.query('SELECT schema_version FROM whaleid_state WHERE id = 1')).rows[0].schema_version);
  const current = await version();
  if (current > POSTGRES_MIGRATIONS.length) throw newerSchema(name, current);
  if (readonly || current === POSTGRES_MIGRATIONS.length) return current;
  for (;;) {
    await client.query('BEGIN');
    try {
      await client.query('SELECT 1 FROM whaleid_state WHERE id = 1 FOR UPDATE');
      const v = await version();
      if (v >= POSTGRES_MIGRATIONS.length) {
        await client.query('COMMIT');
        return v;
      }
      await client.query(POSTGRES_MIGRATIONS[v]);
      await client.query('UPDATE whaleid_state SET schema_version = $1 WHERE id = 1', [v + 1]);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK');
      throw e;
    }
  }
}

function newerSchema(name: string, current: number): WhaleidError {
  return new WhaleidError(`${name}: catalog schema version ${current} is newer than this whaleid understands (${MIGRATIONS.length}); upgrade whaleid`);
}
