import type { DecisionRecord, DetailSource, IndividualRecord, PhotoRecord, PhotoStatus } from './catalog-types.js';

/**
 * The catalog's tables as rows (column names as in the schema) and their records. Reads map
 * columns by name; inserts bind named parameters (`@column`), never values by position.
 */

/** A `photos` row. */
export interface PhotoRow {
  id: number; sha256: string; format: string; bytes: number; width: number; height: number; original_name: string;
  box_x0: number | null; box_y0: number | null; box_x1: number | null; box_y1: number | null; box_source: PhotoRecord['boxSource'];
  taken_on: string | null; location: string | null; uploaded_by: string; uploaded_at: string; individual_id: number | null; status: PhotoStatus;
  latitude: number | null; longitude: number | null; taken_on_source: DetailSource | null; position_source: DetailSource | null; encounter_id: number | null;
}

/** An `individuals` row, with the photo count where a query adds it. */
export interface IndividualRow {
  id: number; name: string; notes: string; created_at: string; created_by: string; merged_into: number | null; photo_count?: number;
  last_seen?: string | null; cover_photo_id?: number | null;
}

/** A `decisions` row. */
export interface DecisionRow {
  id: number; photo_id: number | null; action: DecisionRecord['action']; individual_id: number | null; other_individual_id: number | null;
  score: number | null; model_version: string | null; decided_by: string; decided_at: string; undoes: number | null;
}

/**
 * A photo record from its row.
 *
 * @param r - the row
 * @returns the record
 * @example
 * photoOf(sql.prepare('SELECT * FROM photos WHERE id = ?').get(1));
 */
export function photoOf(r: PhotoRow): PhotoRecord {
  return {
    id: r.id, sha256: r.sha256, format: r.format, bytes: r.bytes, width: r.width, height: r.height, originalName: r.original_name,
    box: r.box_x0 === null ? null : { x0: r.box_x0, y0: r.box_y0!, x1: r.box_x1!, y1: r.box_y1! }, boxSource: r.box_source,
    takenOn: r.taken_on, location: r.location, latitude: r.latitude, longitude: r.longitude, takenOnSource: r.taken_on_source, positionSource: r.position_source,
    encounterId: r.encounter_id, uploadedBy: r.uploaded_by, uploadedAt: r.uploaded_at, individualId: r.individual_id, status: r.status,
  };
}

/**
 * An individual record from its row.
 *
 * @param r - the row (with `photo_count` when the query counted them)
 * @returns the record
 * @example
 * individualOf({ id: 1, name: 'Salt', notes: '', created_at: '2019-07-04', created_by: 'ann', merged_into: null });
 */
export function individualOf(r: IndividualRow): IndividualRecord {
  return {
    id: r.id, name: r.name, notes: r.notes, createdAt: r.created_at, createdBy: r.created_by, mergedInto: r.merged_into,
    ...(r.photo_count !== undefined ? { photoCount: r.photo_count } : {}),
    ...(r.last_seen !== undefined ? { lastSeen: r.last_seen } : {}),
    ...(r.cover_photo_id !== undefined ? { coverPhotoId: r.cover_photo_id } : {}),
  };
}

/**
 * A decision record from its row.
 *
 * @param r - the row
 * @returns the record
 * @example
 * decisionOf(sql.prepare('SELECT * FROM decisions WHERE id = ?').get(1));
 */
export function decisionOf(r: DecisionRow): DecisionRecord {
  return {
    id: r.id, photoId: r.photo_id, action: r.action, individualId: r.individual_id, otherIndividualId: r.other_individual_id,
    score: r.score, modelVersion: r.model_version, decidedBy: r.decided_by, decidedAt: r.decided_at, undoes: r.undoes,
  };
}

/**
 * `INSERT INTO table (a, b) VALUES (@a, @b)` for a row object: the statement binds by column name.
 *
 * @param table - the table
 * @param columns - the columns given
 * @returns the SQL text
 * @example
 * insertSql('individuals', ['name', 'notes']); // 'INSERT INTO individuals (name, notes) VALUES (@name, @notes)'
 */
export function insertSql(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')})`;
}
