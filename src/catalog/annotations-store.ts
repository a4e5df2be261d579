import type { Selectable } from 'kysely';
import { invalidParameterError } from '../util/errors.js';
import { checkBox, cornersOf } from './box-check.js';
import type { CatalogDb } from './catalog-db.js';
import type { AnnotationsTable } from './catalog-tables.js';
import type { AnnotationBox, AnnotationRecord, NewAnnotation, PhotoRecord } from './catalog-types.js';
import { photoOf } from './catalog-rows.js';
import { annotationCorners, annotationOfGalleryId } from './gallery-ids.js';
import type { Individuals } from './individuals-store.js';
import { NotFoundError } from './not-found-error.js';
import { textField } from './text-fields.js';

/** The annotations of a catalog's photos, as the catalog's users see them. */
export interface AnnotationsStore {
  /** A photo's annotations, first one first. */
  annotations(photoId: number): Promise<AnnotationRecord[]>;
  /** The annotations of many photos (exports), by photo id, each photo's first one first. */
  annotationsOf(photoIds: readonly number[]): Promise<Map<number, AnnotationRecord[]>>;
  /** Adds an animal to a photo after its other annotations (the first stays the photo's). */
  addAnnotation(photoId: number, annotation: NewAnnotation, by: string): Promise<AnnotationRecord>;
  /** The uuids imports stored (Wildbook's), by photo id and by individual id. */
  storedUuids(): Promise<{ photos: Map<number, string>; individuals: Map<number, string> }>;
  /**
   * One annotation of a photo.
   * @throws {@link NotFoundError} when the photo has no such annotation
   */
  annotation(photoId: number, annotationId: number): Promise<AnnotationRecord>;
  /**
   * The photo a gallery row is cropped from (see gallery-ids.ts): for a photo id the photo itself
   * (its first annotation, as ever), for a further annotation's gallery id the photo under that id
   * with the annotation's box and rotation.
   * @throws {@link NotFoundError} when there is no such photo or annotation
   */
  galleryPhoto(galleryId: number): Promise<PhotoRecord>;
  /**
   * An annotation by its id alone (a gallery row's: which photo it is in).
   * @throws {@link NotFoundError} when there is none
   */
  annotationById(annotationId: number): Promise<AnnotationRecord>;
}

/** An annotation as checked, ready to insert. */
export interface CheckedAnnotation {
  box: AnnotationBox | null;
  theta: number;
  species: string;
  viewpoint: string;
  individualName: string | null;
  individualUuid: string | null;
  uuid: string | null;
}

/** {@link AnnotationsStore} and what the photos store writes with. */
export interface Annotations {
  readonly api: AnnotationsStore;
  /**
   * Inserts a new photo's annotations from ordinal 0, the first with the photo's individual (inside a write).
   * @returns each annotation's id and individual, in order (the import records a decision for each one with an individual)
   */
  insertAll(photoId: number, list: readonly CheckedAnnotation[], firstIndividualId: number | null, by: string): Promise<{ id: number; individualId: number | null }[]>;
  /** Keeps the first annotation in step with the photo's box or individual (inside a write). */
  mirrorFirst(photoId: number, change: { box?: AnnotationBox; individualId?: number | null }): Promise<void>;
  /** Moves every annotation of `sourceId` to `targetId` (a merge; inside a write). */
  moveAll(targetId: number, sourceId: number): Promise<void>;
  /** Sets a further annotation's individual (a decision about it; inside a write). The first one's goes with its photo's (mirrorFirst). */
  assignIndividual(annotationId: number, individualId: number | null): Promise<void>;
}

const uuidText = (field: string, v: unknown): string | null => (v === null || v === undefined || v === '' ? null : textField(field, v, 100, false, 'name'));

/**
 * Checks an annotation against its photo's size: the box as a photo's box is checked, theta a
 * finite number of radians, species and viewpoint short texts, the individual a valid name.
 *
 * @param a - the annotation as given
 * @param width - the photo's width in pixels
 * @param height - the photo's height in pixels
 * @returns the annotation with its texts trimmed
 * @throws {@link WhaleidError} naming the field and what was expected
 * @example
 * checkAnnotation({ box: { x: 10, y: 10, w: 100, h: 50 }, viewpoint: 'left' }, 320, 200);
 */
export function checkAnnotation(a: NewAnnotation, width: number, height: number): CheckedAnnotation {
  if (a.box !== null) checkBox(cornersOf(a.box), width, height);
  const theta = a.theta ?? 0;
  if (typeof theta !== 'number' || !Number.isFinite(theta)) throw invalidParameterError('theta', 'a finite number of radians', theta);
  const name = a.individualName === null || a.individualName === undefined ? null : textField('individual', a.individualName, 200, false, 'name');
  return {
    box: a.box, theta, species: textField('species', a.species ?? '', 200, true), viewpoint: textField('viewpoint', a.viewpoint ?? '', 100, true),
    individualName: name, individualUuid: uuidText('individual uuid', a.individualUuid), uuid: uuidText('annotation uuid', a.uuid),
  };
}

const recordOf = (r: Selectable<AnnotationsTable>): AnnotationRecord => ({
  id: r.id, photoId: r.photo_id, ordinal: r.ordinal, box: r.x === null ? null : { x: r.x, y: r.y!, w: r.w!, h: r.h! },
  theta: r.theta, species: r.species, viewpoint: r.viewpoint, individualId: r.individual_id, uuid: r.uuid,
});

/**
 * The annotations store. A photo's first annotation is written with the photo (photos-store.ts)
 * and mirrors its box and individual; the others are added here or by an import.
 *
 * @param db - the catalog's database
 * @param individuals - the individuals store (annotations name their individual)
 * @returns the store and its helpers for the photos store
 * @example
 * const annotations = createAnnotations(db, individuals);
 */
export function createAnnotations(db: CatalogDb, individuals: Individuals): Annotations {
  const photoSize = async (photoId: number): Promise<{ width: number; height: number }> => {
    const r = await db.q().selectFrom('photos').select(['width', 'height']).where('id', '=', photoId).executeTakeFirst();
    if (!r) throw new NotFoundError(`photo ${photoId} not found`);
    return r;
  };
  const ofPhoto = async (photoId: number): Promise<AnnotationRecord[]> => (await db.q().selectFrom('annotations').selectAll().where('photo_id', '=', photoId).orderBy('ordinal').execute()).map(recordOf);

  /** The individual an annotation names: found (following merges) or created, its uuid kept when it is new. */
  const individualOf = async (a: CheckedAnnotation, by: string): Promise<number | null> => {
    if (a.individualName === null) return null;
    const { individual, created } = await individuals.resolveName(a.individualName, by || 'anonymous');
    if (created && a.individualUuid !== null) await db.q().updateTable('individuals').set({ uuid: a.individualUuid }).where('id', '=', individual.id).execute();
    return individual.id;
  };
  const insertOne = async (photoId: number, ordinal: number, a: CheckedAnnotation, individualId: number | null): Promise<number> => (await db.q().insertInto('annotations').values({
    photo_id: photoId, ordinal, x: a.box?.x ?? null, y: a.box?.y ?? null, w: a.box?.w ?? null, h: a.box?.h ?? null,
    theta: a.theta, species: a.species, viewpoint: a.viewpoint, individual_id: individualId, uuid: a.uuid,
  }).returning('id').executeTakeFirstOrThrow()).id;

  const api: AnnotationsStore = {
    annotations: async (photoId) => {
      await photoSize(photoId);
      return ofPhoto(photoId);
    },
    async annotationsOf(photoIds) {
      const out = new Map<number, AnnotationRecord[]>(photoIds.map((id) => [id, []]));
      // in slices: both databases limit a statement's parameters
      for (let i = 0; i < photoIds.length; i += 500) {
        const rows = await db.q().selectFrom('annotations').selectAll().where('photo_id', 'in', photoIds.slice(i, i + 500)).orderBy('photo_id').orderBy('ordinal').execute();
        for (const r of rows) out.get(r.photo_id)!.push(recordOf(r));
      }
      return out;
    },
    addAnnotation: (photoId, annotation, by) => db.write(async () => {
      const size = await photoSize(photoId);
      const a = checkAnnotation(annotation, size.width, size.height);
      const last = await db.q().selectFrom('annotations').where('photo_id', '=', photoId).select((eb) => eb.fn.max('ordinal').as('m')).executeTakeFirst();
      const ordinal = last?.m === null || last?.m === undefined ? 0 : Number(last.m) + 1;
      const id = await insertOne(photoId, ordinal, a, await individualOf(a, by));
      const r = await db.q().selectFrom('annotations').selectAll().where('id', '=', id).executeTakeFirst();
      if (!r) throw new NotFoundError(`annotation ${id} not found`);
      return recordOf(r);
    }),
    async annotation(photoId, annotationId) {
      await photoSize(photoId);
      const r = await db.q().selectFrom('annotations').selectAll().where('id', '=', annotationId).where('photo_id', '=', photoId).executeTakeFirst();
      if (!r) throw new NotFoundError(`photo ${photoId} has no annotation ${annotationId}`);
      return recordOf(r);
    },
    async annotationById(annotationId) {
      const r = await db.q().selectFrom('annotations').selectAll().where('id', '=', annotationId).executeTakeFirst();
      if (!r) throw new NotFoundError(`annotation ${annotationId} not found`);
      return recordOf(r);
    },
    async galleryPhoto(galleryId) {
      const annotationId = annotationOfGalleryId(galleryId);
      const a = annotationId === null ? null : await db.q().selectFrom('annotations').selectAll().where('id', '=', annotationId).executeTakeFirst();
      if (annotationId !== null && !a) throw new NotFoundError(`annotation ${annotationId} not found`);
      const photoId = a ? a.photo_id : galleryId;
      const r = await db.q().selectFrom('photos').selectAll().where('id', '=', photoId).executeTakeFirst();
      if (!r) throw new NotFoundError(`photo ${photoId} not found`);
      return a ? { ...photoOf(r), id: galleryId, box: annotationCorners(recordOf(a)) } : photoOf(r);
    },
    async storedUuids() {
      const photos = await db.q().selectFrom('photos').select(['id', 'uuid']).where('uuid', 'is not', null).execute();
      const inds = await db.q().selectFrom('individuals').select(['id', 'uuid']).where('uuid', 'is not', null).execute();
      return { photos: new Map(photos.map((r) => [r.id, r.uuid!])), individuals: new Map(inds.map((r) => [r.id, r.uuid!])) };
    },
  };

  return {
    api,
    async insertAll(photoId, list, firstIndividualId, by) {
      const out: { id: number; individualId: number | null }[] = [];
      for (const [ordinal, a] of list.entries()) {
        const individualId = ordinal === 0 ? firstIndividualId : await individualOf(a, by);
        out.push({ id: await insertOne(photoId, ordinal, a, individualId), individualId });
      }
      return out;
    },
    async mirrorFirst(photoId, change) {
      // a box set by a person or the detector is upright: its rotation goes with the old box
      const box = change.box ? { x: change.box.x, y: change.box.y, w: change.box.w, h: change.box.h, theta: 0 } : {};
      const individual = change.individualId !== undefined ? { individual_id: change.individualId } : {};
      await db.q().updateTable('annotations').set({ ...box, ...individual }).where('photo_id', '=', photoId).where('ordinal', '=', 0).execute();
    },
    async moveAll(targetId, sourceId) {
      await db.q().updateTable('annotations').set({ individual_id: targetId }).where('individual_id', '=', sourceId).execute();
    },
    async assignIndividual(annotationId, individualId) {
      await db.q().updateTable('annotations').set({ individual_id: individualId }).where('id', '=', annotationId).where('ordinal', '>', 0).execute();
    },
  };
}
