/** Takes migration 7 (user_changes: who changed an account) off a catalog again; before {@link V6_UNDO_SQLITE} or {@link V6_UNDO_POSTGRES}. */
export const V7_UNDO = 'DROP TABLE user_changes;';

/**
 * Takes migration 6 (decisions per annotation, annotation features) off a catalog again, as an
 * older whaleid left it: the tests of migrations 4 to 6 build a catalog with today's code, take
 * the newer migrations off and open it again. SQLite cannot drop a column that references
 * another table, so the decisions table is rebuilt as migration 3 wrote it, rows and ids kept.
 */
export const V6_UNDO_SQLITE = `DROP TABLE annotation_features;
  DROP INDEX annotations_further;
  DROP INDEX decisions_annotation;
  CREATE TABLE decisions_v5 (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER REFERENCES photos(id),
    action TEXT NOT NULL CHECK (action IN ('import', 'confirm', 'new-individual', 'skip', 'merge', 'undo')),
    individual_id INTEGER REFERENCES individuals(id),
    other_individual_id INTEGER REFERENCES individuals(id),
    score REAL,
    model_version TEXT,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    undoes INTEGER REFERENCES decisions_v5(id)
  );
  INSERT INTO decisions_v5 SELECT id, photo_id, action, individual_id, other_individual_id, score, model_version, decided_by, decided_at, undoes FROM decisions;
  DROP TABLE decisions;
  ALTER TABLE decisions_v5 RENAME TO decisions;
  CREATE INDEX decisions_photo ON decisions(photo_id);`;

/** {@link V6_UNDO_SQLITE} for PostgreSQL, which drops the column (and its constraint and index) in place. */
export const V6_UNDO_POSTGRES = 'DROP TABLE annotation_features; DROP INDEX annotations_further; ALTER TABLE decisions DROP COLUMN annotation_id;';
