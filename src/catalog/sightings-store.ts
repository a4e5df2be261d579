import { WhaleidError } from '../util/errors.js';
import { now, pageArgs, type CatalogDb } from './catalog-db.js';
import { photoOf, type PhotoRow } from './catalog-rows.js';
import type { PhotoRecord } from './catalog-types.js';
import { NotFoundError } from './not-found-error.js';
import { positionFields } from './photo-details.js';
import type { Photos } from './photos-store.js';
import { sameSighting } from './sighting-rule.js';
import { dateField, textField } from './text-fields.js';

/** A sighting (encounter): photos taken together, of one or more individuals. */
export interface EncounterRecord {
  id: number;
  createdAt: string;
  createdBy: string;
  photos: PhotoRecord[];
}

/** One sighting of an individual: its photos there, the date and the place. */
export interface Sighting {
  /** null: the individual's photos that belong to no sighting (imported without a date). */
  encounterId: number | null;
  /** The earliest date taken among the photos (null: unknown). */
  date: string | null;
  /** The first place name given. */
  location: string | null;
  /** The mean position of the photos that have one. */
  latitude: number | null;
  longitude: number | null;
  photoIds: number[];
}

/** A change of a photo's date, place or position (null clears; absent keeps). */
export interface PhotoDetailsChange {
  takenOn?: string | null;
  location?: string | null;
  latitude?: number | null;
  longitude?: number | null;
}

/** When and where photos were taken, and the sightings they are grouped into. */
export interface SightingsStore {
  /** Corrects a photo's date, place name or position; what a person sets is marked as theirs. */
  updatePhotoDetails(photoId: number, change: PhotoDetailsChange): PhotoRecord;
  /**
   * Puts photos (of one upload, or one at a time for imports) into sightings by the rule of
   * sighting-rule.ts: the sighting of a matching photo, else a new one. Photos already in a
   * sighting stay; an undated photo outside an upload gets none.
   */
  groupIntoEncounters(photoIds: number[], o: { by: string; sameUpload: boolean }): void;
  /** Moves a photo to another sighting, or (null) to a new one of its own; an emptied sighting is removed. */
  moveToEncounter(photoId: number, encounterId: number | null, by: string): EncounterRecord;
  encounter(id: number): EncounterRecord;
  /** Sightings with a photo taken on `day` (YYYY-MM-DD), else the newest; newest first. */
  listEncounters(q: { day?: string; limit?: number }): EncounterRecord[];
  /** An individual's sightings, newest first (undated last). */
  sightings(individualId: number): Sighting[];
}

/**
 * The sightings store over the photos table and the encounters table of migration 2.
 *
 * @param db - the catalog's connection
 * @param photos - the photos store (lookups)
 * @returns the store
 * @example
 * const sightings = createSightings(db, photos);
 * sightings.groupIntoEncounters([12, 13], { by: 'ann', sameUpload: true });
 */
export function createSightings(db: CatalogDb, photos: Photos): SightingsStore {
  const { sql } = db;
  const insertEncounter = sql.prepare('INSERT INTO encounters (created_at, created_by) VALUES (?, ?)');
  const getEncounter = sql.prepare<[number], { id: number; created_at: string; created_by: string }>('SELECT * FROM encounters WHERE id = ?');
  const photosOf = sql.prepare<[number], PhotoRow>('SELECT * FROM photos WHERE encounter_id = ? ORDER BY id');
  const sameDay = sql.prepare<[string], PhotoRow>('SELECT * FROM photos WHERE substr(taken_on, 1, 10) = ? AND encounter_id IS NOT NULL ORDER BY id');
  const setEncounter = sql.prepare('UPDATE photos SET encounter_id = ? WHERE id = ?');
  const dropEmpty = sql.prepare('DELETE FROM encounters WHERE id = ? AND NOT EXISTS (SELECT 1 FROM photos WHERE encounter_id = ?)');
  const ofIndividual = sql.prepare<[number], PhotoRow>('SELECT * FROM photos WHERE individual_id = ? ORDER BY id');

  const newEncounter = (by: string): number => Number(insertEncounter.run(now(), textField('by', by || 'anonymous', 100)).lastInsertRowid);
  const encounter = (id: number): EncounterRecord => {
    const r = getEncounter.get(id);
    if (!r) throw new NotFoundError(`sighting ${id} not found`);
    return { id: r.id, createdAt: r.created_at, createdBy: r.created_by, photos: photosOf.all(id).map(photoOf) };
  };

  return {
    updatePhotoDetails: (photoId, change) => db.write(() => {
      const p = photos.api.photo(photoId);
      const takenOn = change.takenOn === undefined ? p.takenOn : change.takenOn === null ? null : dateField('takenOn', change.takenOn);
      const location = change.location === undefined ? p.location : change.location === null ? null : textField('location', change.location, 500, true) || null;
      const moved = change.latitude !== undefined || change.longitude !== undefined;
      const position = moved ? positionFields(change.latitude ?? null, change.longitude ?? null) : null;
      sql.prepare(`UPDATE photos SET taken_on = ?, taken_on_source = ?, location = ?, latitude = ?, longitude = ?, position_source = ? WHERE id = ?`).run(
        takenOn, change.takenOn === undefined ? p.takenOnSource : takenOn === null ? null : 'user', location,
        moved ? position?.latitude ?? null : p.latitude, moved ? position?.longitude ?? null : p.longitude,
        moved ? (position ? 'user' : null) : p.positionSource, photoId);
      return photos.api.photo(photoId);
    }),
    groupIntoEncounters: (photoIds, o) => db.write(() => {
      const placed: PhotoRecord[] = [];
      for (const id of photoIds) {
        const p = photos.api.photo(id);
        if (p.encounterId !== null) { placed.push(p); continue; }
        const day = p.takenOn?.slice(0, 10) ?? null;
        if (day === null && !o.sameUpload) continue;
        const match = placed.find((q) => q.encounterId !== null && sameSighting(p, q, o.sameUpload))
          ?? (day === null ? undefined : sameDay.all(day).map(photoOf).find((q) => q.id !== id && sameSighting(p, q, false)));
        const encounterId = match?.encounterId ?? newEncounter(o.by);
        setEncounter.run(encounterId, id);
        placed.push({ ...p, encounterId });
      }
    }),
    moveToEncounter: (photoId, encounterId, by) => db.write(() => {
      const p = photos.api.photo(photoId);
      if (encounterId !== null) encounter(encounterId);
      if (encounterId !== null && encounterId === p.encounterId) return encounter(encounterId);
      if (encounterId === null && p.encounterId !== null && photosOf.all(p.encounterId).length === 1) throw new WhaleidError(`photo ${photoId} is already alone in sighting ${p.encounterId}`);
      const target = encounterId ?? newEncounter(by);
      setEncounter.run(target, photoId);
      if (p.encounterId !== null) dropEmpty.run(p.encounterId, p.encounterId);
      return encounter(target);
    }),
    encounter,
    listEncounters(q) {
      const [limit] = pageArgs(q);
      const ids = q.day === undefined
        ? sql.prepare<[number], { id: number }>('SELECT id FROM encounters ORDER BY id DESC LIMIT ?').all(limit)
        : sql.prepare<[string, number], { id: number }>('SELECT DISTINCT encounter_id AS id FROM photos WHERE substr(taken_on, 1, 10) = ? AND encounter_id IS NOT NULL ORDER BY encounter_id DESC LIMIT ?').all(dateField('day', q.day).slice(0, 10), limit);
      return ids.map((r) => encounter(r.id));
    },
    sightings(individualId) {
      const groups = new Map<number | null, PhotoRecord[]>();
      for (const p of ofIndividual.all(individualId).map(photoOf)) groups.set(p.encounterId, [...(groups.get(p.encounterId) ?? []), p]);
      const list = [...groups.entries()].map(([encounterId, ps]) => sightingOf(encounterId, ps));
      return list.sort((a, b) => (b.date ?? '').localeCompare(a.date ?? '') || (a.encounterId ?? Infinity) - (b.encounterId ?? Infinity));
    },
  };
}

/** A sighting's summary from the individual's photos in it. */
function sightingOf(encounterId: number | null, ps: PhotoRecord[]): Sighting {
  const dates = ps.map((p) => p.takenOn).filter((d): d is string => d !== null).sort();
  const located = ps.filter((p) => p.latitude !== null && p.longitude !== null);
  const mean = (f: (p: PhotoRecord) => number): number | null => (located.length ? located.reduce((s, p) => s + f(p), 0) / located.length : null);
  return {
    encounterId,
    date: dates[0] ?? null,
    location: ps.find((p) => p.location)?.location ?? null,
    latitude: mean((p) => p.latitude!),
    longitude: mean((p) => p.longitude!),
    photoIds: ps.map((p) => p.id),
  };
}
