import type { Box } from '../image/affine.js';
import { sql, type Insertable, type RawBuilder } from 'kysely';
import { containsText, now, pageArgs, type CatalogDb } from './catalog-db.js';
import { photoOf } from './catalog-rows.js';
import type { PhotosTable } from './catalog-tables.js';
import type { NewPhoto, Page, PhotoRecord, PhotoStatus } from './catalog-types.js';
import type { DecisionLog } from './decision-log.js';
import type { Features } from './features-store.js';
import type { Individuals } from './individuals-store.js';
import { NotFoundError } from './not-found-error.js';
import { inspectPhoto, type PhotoFacts, type PhotoFiles } from './photo-files.js';
import { dateField, textField } from './text-fields.js';
import { positionFields, withExif } from './photo-details.js';
import { readGallery, readScopedPhotoIds } from './gallery-read.js';
import type { MatchScope } from '../data/match-scope.js';
import { checkAnnotation, type Annotations, type CheckedAnnotation } from './annotations-store.js';
import { checkBox, cornersOf, sizedOf } from './box-check.js';

/** The photos of a catalog, as the catalog's users see them. */
export interface PhotosStore {
  /**
   * Adds a photo (or finds the same bytes already stored).
   * @returns the record, whether those bytes were in the catalog already, and whether an individual was created for `individualName`
   */
  addPhoto(bytes: Buffer, meta: NewPhoto): Promise<{ photo: PhotoRecord; duplicate: boolean; newIndividual: boolean }>;
  photo(id: number): Promise<PhotoRecord>;
  /** The stored file of a photo. */
  photoFile(photo: PhotoRecord): string;
  listPhotos(q: { individualId?: number; status?: PhotoStatus; search?: string; limit?: number; offset?: number }): Promise<Page<PhotoRecord>>;
  /** Sets a photo's box (its stored features are dropped: the crop changed). */
  setBox(photoId: number, box: Box, source: 'model' | 'user'): Promise<PhotoRecord>;
  /** Identified photos of live individuals: the gallery queries are matched against (`boxKey`: see {@link boxKey}). */
  gallery(): Promise<{ photoId: number; individualId: number; boxKey: string }[]>;
  /** The gallery photos in a query's scope (species, viewpoint, location, radius, dates: match-scope.ts), by id. */
  inScope(scope: MatchScope): Promise<Set<number>>;
}

/** {@link PhotosStore} and what the decisions store uses inside its writes. */
export interface Photos {
  readonly api: PhotosStore;
  /** Sets a photo's individual and review state (call inside a write). */
  assign(photoId: number, individualId: number | null, status: PhotoStatus): Promise<void>;
  /** Moves every photo of `sourceId` to `targetId` (call inside a write). */
  moveAll(targetId: number, sourceId: number): Promise<void>;
}

/** The `photos` columns an insert gives. */
type InsertRow = Omit<Insertable<PhotosTable>, 'id' | 'encounter_id'>;

/**
 * The photos store: rows by content hash, bytes in the content-addressed folder, boxes, review
 * state. A photo added with an individual (imports) is identified at once with an `import`
 * decision, in one transaction with the individual it may create.
 *
 * @param db - the catalog's connection
 * @param files - the photo folder
 * @param maxPixels - largest photo accepted
 * @param deps - the individuals store, the decision log, the feature store and the annotations store it writes with
 * @returns the store and its helpers for the decisions store
 * @example
 * const photos = createPhotos(db, openPhotoFiles('whales.db.photos'), 1e8, { individuals, log, features, annotations });
 * const { photo } = await photos.api.addPhoto(bytes, { originalName: 'a.jpg' });
 */
export function createPhotos(db: CatalogDb, files: PhotoFiles, maxPixels: number, deps: { individuals: Individuals; log: DecisionLog; features: Features; annotations: Annotations }): Photos {
  const { individuals, log, features, annotations } = deps;
  const bySha = (sha256: string) => db.q().selectFrom('photos').selectAll().where('sha256', '=', sha256).executeTakeFirst();

  const photo = async (id: number): Promise<PhotoRecord> => {
    const r = await db.q().selectFrom('photos').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new NotFoundError(`photo ${id} not found`);
    return photoOf(r);
  };

  /** Inserts the row and its annotations (or finds the same bytes) and files it under its individual, in one write. */
  const insertPhoto = (facts: PhotoFacts, row: Omit<InsertRow, 'individual_id' | 'status'>, target: number | string | null, by: string, notes: readonly CheckedAnnotation[]) => db.write(async () => {
    const existing = await bySha(facts.sha256);
    if (existing) return { photo: photoOf(existing), duplicate: true, newIndividual: false };
    let individualId: number | null = null;
    let newIndividual = false;
    if (typeof target === 'string') {
      const resolved = await individuals.resolveName(target, by);
      individualId = resolved.individual.id;
      newIndividual = resolved.created;
      const uuid = notes[0]?.individualUuid ?? null;
      if (newIndividual && uuid !== null) await db.q().updateTable('individuals').set({ uuid }).where('id', '=', individualId).execute();
    } else if (target !== null) {
      individualId = (await individuals.live(target)).id;
    }
    const { id } = await db.q().insertInto('photos').values({ ...row, individual_id: individualId, status: individualId === null ? 'pending' : 'identified' }).returning('id').executeTakeFirstOrThrow();
    // every annotation that names an individual is imported under it: undoing a later decision
    // about any of them returns it there, as a photo's first annotation returns to its import
    for (const a of await annotations.insertAll(id, notes, individualId, by)) {
      if (a.individualId !== null) await log.record(id, 'import', a.individualId, null, { by: by || 'anonymous' }, undefined, a.id);
    }
    return { photo: await photo(id), duplicate: false, newIndividual };
  });

  const api: PhotosStore = {
    async addPhoto(bytes, meta) {
      const name = textField('originalName', meta.originalName, 500, true);
      const facts = await inspectPhoto(bytes, name || 'photo', maxPixels, meta.decoded);
      const known = await bySha(facts.sha256);
      if (known) return { photo: photoOf(known), duplicate: true, newIndividual: false };
      // the photo's box and individual are its first annotation's
      const given = meta.annotations?.length ? meta.annotations.map((a) => checkAnnotation(a, facts.width, facts.height)) : null;
      const box = given ? (given[0].box ? cornersOf(given[0].box) : null) : meta.box ? checkBox(meta.box, facts.width, facts.height) : null;
      const notes = given ?? [{ box: box ? sizedOf(box) : null, theta: 0, species: '', viewpoint: '', individualName: null, individualUuid: null, uuid: null }];
      const uuid = meta.uuid ? textField('uuid', meta.uuid, 100, false, 'name') : null;
      const stated = { takenOn: meta.takenOn ? dateField('takenOn', meta.takenOn) : null, position: positionFields(meta.latitude ?? null, meta.longitude ?? null) };
      const location = meta.location ? textField('location', meta.location, 500) : null;
      // what a person gave wins; the camera's EXIF fills the rest
      const { takenOn, position } = await withExif(bytes, stated);
      const by = textField('uploadedBy', meta.uploadedBy ?? '', 100, true);
      // bytes first, row second: a kill between them leaves an unreferenced file (harmless, reused
      // by the next upload of those bytes), never a row without its photo
      await files.put(bytes, facts);
      const target = given ? given[0].individualName : meta.individualId ?? meta.individualName ?? null;
      return insertPhoto(facts, {
        sha256: facts.sha256, format: facts.format, bytes: facts.bytes, width: facts.width, height: facts.height, original_name: name,
        box_x0: box?.x0 ?? null, box_y0: box?.y0 ?? null, box_x1: box?.x1 ?? null, box_y1: box?.y1 ?? null, box_source: box ? (meta.boxSource ?? 'user') : 'none',
        taken_on: takenOn.value, location, latitude: position.value?.latitude ?? null, longitude: position.value?.longitude ?? null,
        taken_on_source: takenOn.source, position_source: position.source, uploaded_by: by, uploaded_at: now(), uuid,
      }, target, by, notes);
    },
    photo,
    photoFile: (p) => files.pathOf(p.sha256, p.format),
    async listPhotos(q) {
      const where: RawBuilder<boolean>[] = [];
      if (q.individualId !== undefined) where.push(sql<boolean>`individual_id = ${q.individualId}`);
      if (q.status !== undefined) where.push(sql<boolean>`status = ${q.status}`);
      if (q.search) where.push(sql<boolean>`(${containsText('original_name', q.search)} OR ${containsText('location', q.search)})`);
      const cond = where.length ? sql<boolean>`${sql.join(where, sql` AND `)}` : sql<boolean>`1 = 1`;
      const [limit, offset] = pageArgs(q);
      const total = await db.q().selectFrom('photos').where(cond).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      const items = await db.q().selectFrom('photos').selectAll().where(cond).orderBy('id').limit(limit).offset(offset).execute();
      return { total: Number(total.n), items: items.map(photoOf) };
    },
    setBox: (photoId, box, source) => db.write(async () => {
      const p = await photo(photoId);
      const b = checkBox(box, p.width, p.height);
      await db.q().updateTable('photos').set({ box_x0: b.x0, box_y0: b.y0, box_x1: b.x1, box_y1: b.y1, box_source: source }).where('id', '=', photoId).execute();
      await annotations.mirrorFirst(photoId, { box: sizedOf(b) });
      await features.dropPhoto(photoId); // the crop changed
      return photo(photoId);
    }),
    // one packed value, not a row object per photo: a million-photo service's start (gallery-read.ts)
    gallery: () => readGallery(db),
    inScope: (scope) => readScopedPhotoIds(db, scope),
  };

  return {
    api,
    assign: async (photoId, individualId, status) => {
      await db.q().updateTable('photos').set({ individual_id: individualId, status }).where('id', '=', photoId).execute();
      await annotations.mirrorFirst(photoId, { individualId });
    },
    moveAll: async (targetId, sourceId) => {
      await db.q().updateTable('photos').set({ individual_id: targetId }).where('individual_id', '=', sourceId).execute();
      await annotations.moveAll(targetId, sourceId);
    },
  };
}
