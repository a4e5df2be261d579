import type { Selectable } from 'kysely';
import type { DecisionsTable, IndividualsTable, PhotosTable } from './catalog-tables.js';
import type { DecisionRecord, IndividualRecord, PhotoRecord } from './catalog-types.js';

/**
 * The catalog's rows (column names as in the schema, as the query layer reads them) and their
 * records.
 */

/** A `photos` row. */
export type PhotoRow = Selectable<PhotosTable>;

/** An `individuals` row, with the photo count where a query adds it. */
export type IndividualRow = Selectable<IndividualsTable> & { photo_count?: number; last_seen?: string | null; cover_photo_id?: number | null };

/** A `decisions` row. */
export type DecisionRow = Selectable<DecisionsTable>;

/**
 * A photo record from its row.
 *
 * @param r - the row
 * @returns the record
 * @example
 * photoOf(await db.q().selectFrom('photos').selectAll().where('id', '=', 1).executeTakeFirstOrThrow());
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
 * decisionOf(await db.q().selectFrom('decisions').selectAll().where('id', '=', 1).executeTakeFirstOrThrow());
 */
export function decisionOf(r: DecisionRow): DecisionRecord {
  return {
    id: r.id, photoId: r.photo_id, action: r.action, individualId: r.individual_id, otherIndividualId: r.other_individual_id,
    score: r.score, modelVersion: r.model_version, decidedBy: r.decided_by, decidedAt: r.decided_at, undoes: r.undoes,
    annotationId: r.annotation_id,
  };
}
