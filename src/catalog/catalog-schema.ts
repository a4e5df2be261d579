import type { Database } from 'better-sqlite3';
import { WhaleidError } from '../util/errors.js';

/**
 * The catalog's schema as numbered migrations. `PRAGMA user_version` holds the number applied;
 * opening a catalog applies the missing ones in one transaction each, so an old catalog file is
 * upgraded in place and a kill during an upgrade leaves the previous version intact.
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
];

/**
 * Brings a catalog database to the latest schema.
 *
 * @param db - an open database
 * @returns the schema version now in force
 * @throws {@link WhaleidError} when the file was written by a newer whaleid
 * @example
 * migrate(new Database('catalog.db'));
 */
export function migrate(db: Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) throw new WhaleidError(`${db.name}: catalog schema version ${current} is newer than this whaleid understands (${MIGRATIONS.length}); upgrade whaleid`);
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return MIGRATIONS.length;
}
