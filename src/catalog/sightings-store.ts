import { sql } from 'kysely';
import { WhaleidError } from '../util/errors.js';
import { now, pageArgs, type CatalogDb } from './catalog-db.js';
import { photoOf } from './catalog-rows.js';
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
  updatePhotoDetails(photoId: number, change: PhotoDetailsChange): Promise<PhotoRecord>;
  /**
   * Puts photos (of one upload, or one at a time for imports) into sightings by the rule of
   * sighting-rule.ts: the sighting of a matching photo, else a new one. Photos already in a
   * sighting stay; an undated photo outside an upload gets none.
   */
  groupIntoEncounters(photoIds: number[], o: { by: string; sameUpload: boolean }): Promise<void>;
  /** Moves a photo to another sighting, or (null) to a new one of its own; an emptied sighting is removed. */
  moveToEncounter(photoId: number, encounterId: number | null, by: string): Promise<EncounterRecord>;
  encounter(id: number): Promise<EncounterRecord>;
  /** Sightings with a photo taken on `day` (YYYY-MM-DD), else the newest; newest first. */
  listEncounters(q: { day?: string; limit?: number }): Promise<EncounterRecord[]>;
  /** An individual's sightings, newest first (undated last). */
  sightings(individualId: number): Promise<Sighting[]>;
}

/**
 * The sightings store over the photos table and the encounters table of migration 2.
 *
 * @param db - the catalog's database
 * @param photos - the photos store (lookups)
 * @returns the store
 * @example
 * const sightings = createSightings(db, photos);
 * await sightings.groupIntoEncounters([12, 13], { by: 'ann', sameUpload: true });
 */
export function createSightings(db: CatalogDb, photos: Photos): SightingsStore {
  const photoRows = () => db.q().selectFrom('photos').selectAll();
  const photosOf = async (encounterId: number): Promise<PhotoRecord[]> => (await photoRows().where('encounter_id', '=', encounterId).orderBy('id').execute()).map(photoOf);
  const sameDay = async (day: string): Promise<PhotoRecord[]> => (await photoRows().where(sql<string>`substr(taken_on, 1, 10)`, '=', day).where('encounter_id', 'is not', null).orderBy('id').execute()).map(photoOf);
  const setEncounter = async (encounterId: number, photoId: number): Promise<void> => {
    await db.q().updateTable('photos').set({ encounter_id: encounterId }).where('id', '=', photoId).execute();
  };
  const newEncounter = async (by: string): Promise<number> => (await db.q().insertInto('encounters').values({ created_at: now(), created_by: textField('by', by || 'anonymous', 100) }).returning('id').executeTakeFirstOrThrow()).id;
  const encounter = async (id: number): Promise<EncounterRecord> => {
    const r = await db.q().selectFrom('encounters').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new NotFoundError(`sighting ${id} not found`);
    return { id: r.id, createdAt: r.created_at, createdBy: r.created_by, photos: await photosOf(id) };
  };

  return {
    updatePhotoDetails: (photoId, change) => db.write(async () => {
      const p = await photos.api.photo(photoId);
      const takenOn = change.takenOn === undefined ? p.takenOn : change.takenOn === null ? null : dateField('takenOn', change.takenOn);
      const location = change.location === undefined ? p.location : change.location === null ? null : textField('location', change.location, 500, true) || null;
      const moved = change.latitude !== undefined || change.longitude !== undefined;
      const position = moved ? positionFields(change.latitude ?? null, change.longitude ?? null) : null;
      await db.q().updateTable('photos').set({
        taken_on: takenOn, taken_on_source: change.takenOn === undefined ? p.takenOnSource : takenOn === null ? null : 'user', location,
        latitude: moved ? position?.latitude ?? null : p.latitude, longitude: moved ? position?.longitude ?? null : p.longitude,
        position_source: moved ? (position ? 'user' : null) : p.positionSource,
      }).where('id', '=', photoId).execute();
      return photos.api.photo(photoId);
    }),
    groupIntoEncounters: (photoIds, o) => db.write(async () => {
      const placed: PhotoRecord[] = [];
      for (const id of photoIds) {
        const p = await photos.api.photo(id);
        if (p.encounterId !== null) { placed.push(p); continue; }
        const day = p.takenOn?.slice(0, 10) ?? null;
        if (day === null && !o.sameUpload) continue;
        const match = placed.find((q) => q.encounterId !== null && sameSighting(p, q, o.sameUpload))
          ?? (day === null ? undefined : (await sameDay(day)).find((q) => q.id !== id && sameSighting(p, q, false)));
        const encounterId = match?.encounterId ?? await newEncounter(o.by);
        await setEncounter(encounterId, id);
        placed.push({ ...p, encounterId });
      }
    }),
    moveToEncounter: (photoId, encounterId, by) => db.write(async () => {
      const p = await photos.api.photo(photoId);
      if (encounterId !== null) await encounter(encounterId);
      if (encounterId !== null && encounterId === p.encounterId) return encounter(encounterId);
      if (encounterId === null && p.encounterId !== null && (await photosOf(p.encounterId)).length === 1) throw new WhaleidError(`photo ${photoId} is already alone in sighting ${p.encounterId}`);
      const target = encounterId ?? await newEncounter(by);
      await setEncounter(target, photoId);
      if (p.encounterId !== null) {
        const emptied = p.encounterId;
        await db.q().deleteFrom('encounters').where('id', '=', emptied)
          .where((eb) => eb.not(eb.exists(eb.selectFrom('photos').select('photos.id').where('photos.encounter_id', '=', emptied)))).execute();
      }
      return encounter(target);
    }),
    encounter,
    async listEncounters(q) {
      const [limit] = pageArgs(q);
      const ids = q.day === undefined
        ? await db.q().selectFrom('encounters').select('id').orderBy('id', 'desc').limit(limit).execute()
        : await db.q().selectFrom('photos').select('encounter_id as id').distinct().where(sql<string>`substr(taken_on, 1, 10)`, '=', dateField('day', q.day).slice(0, 10))
          .where('encounter_id', 'is not', null).orderBy('encounter_id', 'desc').limit(limit).execute();
      return Promise.all(ids.map((r) => encounter(r.id!)));
    },
    async sightings(individualId) {
      const groups = new Map<number | null, PhotoRecord[]>();
      for (const p of (await photoRows().where('individual_id', '=', individualId).orderBy('id').execute()).map(photoOf)) groups.set(p.encounterId, [...(groups.get(p.encounterId) ?? []), p]);
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
