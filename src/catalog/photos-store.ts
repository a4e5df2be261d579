import type { Box } from '../image/affine.js';
import { WhaleidError } from '../util/errors.js';
import { boxKey } from './box-key.js';
import { likePattern, now, pageArgs, type CatalogDb } from './catalog-db.js';
import { insertSql, photoOf, type PhotoRow } from './catalog-rows.js';
import type { NewPhoto, Page, PhotoRecord, PhotoStatus } from './catalog-types.js';
import type { DecisionLog } from './decision-log.js';
import type { Features } from './features-store.js';
import type { Individuals } from './individuals-store.js';
import { NotFoundError } from './not-found-error.js';
import { inspectPhoto, type PhotoFacts, type PhotoFiles } from './photo-files.js';
import { dateField, textField } from './text-fields.js';
import { positionFields, withExif } from './photo-details.js';

/** The photos of a catalog, as the catalog's users see them. */
export interface PhotosStore {
  /**
   * Adds a photo (or finds the same bytes already stored).
   * @returns the record, whether those bytes were in the catalog already, and whether an individual was created for `individualName`
   */
  addPhoto(bytes: Buffer, meta: NewPhoto): Promise<{ photo: PhotoRecord; duplicate: boolean; newIndividual: boolean }>;
  photo(id: number): PhotoRecord;
  /** The stored file of a photo. */
  photoFile(photo: PhotoRecord): string;
  listPhotos(q: { individualId?: number; status?: PhotoStatus; search?: string; limit?: number; offset?: number }): Page<PhotoRecord>;
  /** Sets a photo's box (its stored features are dropped: the crop changed). */
  setBox(photoId: number, box: Box, source: 'model' | 'user'): PhotoRecord;
  /** Identified photos of live individuals: the gallery queries are matched against (`boxKey`: see {@link boxKey}). */
  gallery(): { photoId: number; individualId: number; boxKey: string }[];
}

/** {@link PhotosStore} and what the decisions store uses inside its writes. */
export interface Photos {
  readonly api: PhotosStore;
  /** Sets a photo's individual and review state (call inside a write). */
  assign(photoId: number, individualId: number | null, status: PhotoStatus): void;
  /** Moves every photo of `sourceId` to `targetId` (call inside a write). */
  moveAll(targetId: number, sourceId: number): void;
}

/** The `photos` columns an insert gives, bound by name. */
const INSERT_COLUMNS = ['sha256', 'format', 'bytes', 'width', 'height', 'original_name', 'box_x0', 'box_y0', 'box_x1', 'box_y1', 'box_source',
  'taken_on', 'location', 'latitude', 'longitude', 'taken_on_source', 'position_source', 'uploaded_by', 'uploaded_at', 'individual_id', 'status'] as const;
type InsertRow = Record<(typeof INSERT_COLUMNS)[number], string | number | null>;

function checkBox(b: Box, width: number, height: number): Box {
  const ok = [b.x0, b.y0, b.x1, b.y1].every(Number.isFinite) && b.x1 > b.x0 && b.y1 > b.y0 && b.x0 < width && b.y0 < height && b.x1 > 0 && b.y1 > 0;
  if (!ok) throw new WhaleidError(`box ${JSON.stringify(b)}: expected x0 < x1 and y0 < y1 overlapping the ${width}x${height} photo`);
  return b;
}

/**
 * The photos store: rows by content hash, bytes in the content-addressed folder, boxes, review
 * state. A photo added with an individual (imports) is identified at once with an `import`
 * decision, in one transaction with the individual it may create.
 *
 * @param db - the catalog's connection
 * @param files - the photo folder
 * @param maxPixels - largest photo accepted
 * @param deps - the individuals store, the decision log and the feature store it writes with
 * @returns the store and its helpers for the decisions store
 * @example
 * const photos = createPhotos(db, openPhotoFiles('whales.db.photos'), 1e8, { individuals, log, features });
 */
export function createPhotos(db: CatalogDb, files: PhotoFiles, maxPixels: number, deps: { individuals: Individuals; log: DecisionLog; features: Features }): Photos {
  const { sql } = db;
  const { individuals, log, features } = deps;
  const getPhoto = sql.prepare<[number], PhotoRow>('SELECT * FROM photos WHERE id = ?');
  const getBySha = sql.prepare<[string], PhotoRow>('SELECT * FROM photos WHERE sha256 = ?');
  const insertRow = sql.prepare(insertSql('photos', INSERT_COLUMNS));
  // the gallery's columns only: it is read whenever the catalog changed, 20,000 rows in tens of ms
  const galleryRows = sql.prepare<[], Pick<PhotoRow, 'id' | 'individual_id' | 'box_x0' | 'box_y0' | 'box_x1' | 'box_y1'> & { individual_id: number }>(
    `SELECT p.id, p.individual_id, p.box_x0, p.box_y0, p.box_x1, p.box_y1 FROM photos p JOIN individuals i ON i.id = p.individual_id
     WHERE p.status = 'identified' AND i.merged_into IS NULL ORDER BY p.id`);
  const assignRow = sql.prepare('UPDATE photos SET individual_id = ?, status = ? WHERE id = ?');

  const photo = (id: number): PhotoRecord => {
    const r = getPhoto.get(id);
    if (!r) throw new NotFoundError(`photo ${id} not found`);
    return photoOf(r);
  };

  /** Inserts the row (or finds the same bytes) and files it under its individual, in one write. */
  const insertPhoto = (facts: PhotoFacts, row: Omit<InsertRow, 'individual_id' | 'status'>, target: number | string | null, by: string) => db.write(() => {
    const existing = getBySha.get(facts.sha256);
    if (existing) return { photo: photoOf(existing), duplicate: true, newIndividual: false };
    let individualId: number | null = null;
    let newIndividual = false;
    if (typeof target === 'string') {
      const resolved = individuals.resolveName(target, by);
      individualId = resolved.individual.id;
      newIndividual = resolved.created;
    } else if (target !== null) {
      individualId = individuals.live(target).id;
    }
    const info = insertRow.run({ ...row, individual_id: individualId, status: individualId === null ? 'pending' : 'identified' });
    const id = Number(info.lastInsertRowid);
    if (individualId !== null) log.record(id, 'import', individualId, null, { by: by || 'anonymous' });
    return { photo: photo(id), duplicate: false, newIndividual };
  });

  const api: PhotosStore = {
    async addPhoto(bytes, meta) {
      const name = textField('originalName', meta.originalName, 500, true);
      const facts = await inspectPhoto(bytes, name || 'photo', maxPixels);
      const known = getBySha.get(facts.sha256);
      if (known) return { photo: photoOf(known), duplicate: true, newIndividual: false };
      const box = meta.box ? checkBox(meta.box, facts.width, facts.height) : null;
      const given = { takenOn: meta.takenOn ? dateField('takenOn', meta.takenOn) : null, position: positionFields(meta.latitude ?? null, meta.longitude ?? null) };
      const location = meta.location ? textField('location', meta.location, 500) : null;
      // what a person gave wins; the camera's EXIF fills the rest
      const { takenOn, position } = await withExif(bytes, given);
      const by = textField('uploadedBy', meta.uploadedBy ?? '', 100, true);
      // bytes first, row second: a kill between them leaves an unreferenced file (harmless, reused
      // by the next upload of those bytes), never a row without its photo
      await files.put(bytes, facts);
      const target = meta.individualId ?? meta.individualName ?? null;
      return insertPhoto(facts, {
        sha256: facts.sha256, format: facts.format, bytes: facts.bytes, width: facts.width, height: facts.height, original_name: name,
        box_x0: box?.x0 ?? null, box_y0: box?.y0 ?? null, box_x1: box?.x1 ?? null, box_y1: box?.y1 ?? null, box_source: box ? (meta.boxSource ?? 'user') : 'none',
        taken_on: takenOn.value, location, latitude: position.value?.latitude ?? null, longitude: position.value?.longitude ?? null,
        taken_on_source: takenOn.source, position_source: position.source, uploaded_by: by, uploaded_at: now(),
      }, target, by);
    },
    photo,
    photoFile: (p) => files.pathOf(p.sha256, p.format),
    listPhotos(q) {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.individualId !== undefined) { where.push('individual_id = ?'); args.push(q.individualId); }
      if (q.status !== undefined) { where.push('status = ?'); args.push(q.status); }
      if (q.search) { where.push("(original_name LIKE ? ESCAPE '\\' OR location LIKE ? ESCAPE '\\')"); const like = likePattern(q.search); args.push(like, like); }
      const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const total = (sql.prepare(`SELECT COUNT(*) AS n FROM photos ${w}`).get(...args) as { n: number }).n;
      const items = sql.prepare<unknown[], PhotoRow>(`SELECT * FROM photos ${w} ORDER BY id LIMIT ? OFFSET ?`).all(...args, ...pageArgs(q)).map(photoOf);
      return { total, items };
    },
    setBox: (photoId, box, source) => db.write(() => {
      const p = photo(photoId);
      const b = checkBox(box, p.width, p.height);
      sql.prepare('UPDATE photos SET box_x0 = ?, box_y0 = ?, box_x1 = ?, box_y1 = ?, box_source = ? WHERE id = ?').run(b.x0, b.y0, b.x1, b.y1, source, photoId);
      features.dropPhoto(photoId); // the crop changed
      return photo(photoId);
    }),
    gallery: () => galleryRows.all().map((r) => ({ photoId: r.id, individualId: r.individual_id, boxKey: boxKey(r.box_x0 === null ? null : { x0: r.box_x0, y0: r.box_y0!, x1: r.box_x1!, y1: r.box_y1! }) })),
  };

  return {
    api,
    assign: (photoId, individualId, status) => {
      assignRow.run(individualId, status, photoId);
    },
    moveAll: (targetId, sourceId) => {
      sql.prepare('UPDATE photos SET individual_id = ? WHERE individual_id = ?').run(targetId, sourceId);
    },
  };
}
