import Database from 'better-sqlite3';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Box } from '../image/affine.js';
import { WhaleidError } from '../util/errors.js';
import { migrate } from './catalog-schema.js';
import type { DecisionContext, DecisionRecord, IndividualRecord, NewPhoto, Page, PhotoRecord, PhotoStatus } from './catalog-types.js';
import { inspectPhoto, openPhotoStore, type PhotoStore } from './photo-store.js';
import { dateField, textField } from './text-fields.js';

/** A catalog lookup that found nothing: the service answers 404. */
export class NotFoundError extends WhaleidError {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** Options of {@link openCatalog}. */
export interface CatalogOptions {
  /** Open without writing (no migration; writes throw). Default false. */
  readonly?: boolean;
  /** Photo folder; default `<file>.photos` beside the database. */
  photoDir?: string;
  /** Largest photo accepted, in pixels. */
  maxPixels?: number;
}

/** An open catalog: SQLite database + content-addressed photo folder. */
export interface Catalog {
  readonly file: string;
  readonly db: Database.Database;
  readonly photos: PhotoStore;
  readonly maxPixels: number;
  /**
   * Adds a photo (or finds the same bytes already stored).
   * @returns the record, whether those bytes were in the catalog already, and whether an individual was created for `individualName`
   */
  addPhoto(bytes: Buffer, meta: NewPhoto): Promise<{ photo: PhotoRecord; duplicate: boolean; newIndividual: boolean }>;
  photo(id: number): PhotoRecord;
  photoFile(photo: PhotoRecord): string;
  listPhotos(q: { individualId?: number; status?: PhotoStatus; search?: string; limit?: number; offset?: number }): Page<PhotoRecord>;
  setBox(photoId: number, box: Box, source: 'model' | 'user'): PhotoRecord;
  createIndividual(name: string | null, notes: string, by: string): IndividualRecord;
  individual(id: number): IndividualRecord;
  individualByName(name: string): IndividualRecord | undefined;
  listIndividuals(q: { search?: string; limit?: number; offset?: number }): Page<IndividualRecord>;
  updateIndividual(id: number, change: { name?: string; notes?: string }): IndividualRecord;
  /** Assigns a photo to an individual (a person confirmed the match). */
  confirm(photoId: number, individualId: number, ctx: DecisionContext): DecisionRecord;
  /** Creates an individual for the photo and assigns it, in one transaction. */
  newIndividual(photoId: number, name: string | null, notes: string, ctx: DecisionContext): { individual: IndividualRecord; decision: DecisionRecord };
  skip(photoId: number, ctx: DecisionContext): DecisionRecord;
  /** Moves every photo of `sourceId` to `targetId` and marks the source merged. */
  merge(targetId: number, sourceId: number, ctx: DecisionContext): DecisionRecord;
  decisions(q: { photoId?: number; limit?: number }): DecisionRecord[];
  /**
   * Changes whenever the catalog changed: through this connection (a counter) or any other one
   * (SQLite's data_version). Lets a reader keep derived state (the identifier's gallery) until
   * then, without querying the tables.
   */
  revision(): string;
  /** Identified photos of live individuals: the gallery queries are matched against. */
  gallery(): { photoId: number; individualId: number; boxKey: string }[];
  getFeatures(modelVersion: string, photoIds: readonly number[]): Map<number, Float32Array>;
  putFeatures(modelVersion: string, entries: readonly { photoId: number; vector: Float32Array }[]): void;
  /** Online copy of the database (consistent while the service runs) and of the photos. */
  backup(dest: string): Promise<{ photos: number }>;
  close(): void;
}

const now = (): string => new Date().toISOString();
/** `%text%` for `LIKE ? ESCAPE` with a backslash: the user's %, _ and backslashes match themselves. */
const likePattern = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
const MAX_LIMIT = 1000;
const limitOf = (n: number | undefined): number => Math.max(1, Math.min(MAX_LIMIT, Math.floor(n ?? 100)));

interface PhotoRow {
  id: number; sha256: string; format: string; bytes: number; width: number; height: number; original_name: string;
  box_x0: number | null; box_y0: number | null; box_x1: number | null; box_y1: number | null; box_source: PhotoRecord['boxSource'];
  taken_on: string | null; location: string | null; uploaded_by: string; uploaded_at: string; individual_id: number | null; status: PhotoStatus;
}
const photoOf = (r: PhotoRow): PhotoRecord => ({
  id: r.id, sha256: r.sha256, format: r.format, bytes: r.bytes, width: r.width, height: r.height, originalName: r.original_name,
  box: r.box_x0 === null ? null : { x0: r.box_x0, y0: r.box_y0!, x1: r.box_x1!, y1: r.box_y1! }, boxSource: r.box_source,
  takenOn: r.taken_on, location: r.location, uploadedBy: r.uploaded_by, uploadedAt: r.uploaded_at, individualId: r.individual_id, status: r.status,
});
interface IndividualRow { id: number; name: string; notes: string; created_at: string; created_by: string; merged_into: number | null; photo_count?: number }
const individualOf = (r: IndividualRow): IndividualRecord => ({
  id: r.id, name: r.name, notes: r.notes, createdAt: r.created_at, createdBy: r.created_by, mergedInto: r.merged_into, ...(r.photo_count !== undefined ? { photoCount: r.photo_count } : {}),
});
interface DecisionRow { id: number; photo_id: number | null; action: DecisionRecord['action']; individual_id: number | null; other_individual_id: number | null; score: number | null; model_version: string | null; decided_by: string; decided_at: string }
const decisionOf = (r: DecisionRow): DecisionRecord => ({
  id: r.id, photoId: r.photo_id, action: r.action, individualId: r.individual_id, otherIndividualId: r.other_individual_id, score: r.score, modelVersion: r.model_version, decidedBy: r.decided_by, decidedAt: r.decided_at,
});

function checkBox(b: Box, width: number, height: number): Box {
  const ok = [b.x0, b.y0, b.x1, b.y1].every(Number.isFinite) && b.x1 > b.x0 && b.y1 > b.y0 && b.x0 < width && b.y0 < height && b.x1 > 0 && b.y1 > 0;
  if (!ok) throw new WhaleidError(`box ${JSON.stringify(b)}: expected x0 < x1 and y0 < y1 overlapping the ${width}x${height} photo`);
  return b;
}

/**
 * Opens (creating and migrating) a photo-ID catalog. SQLite in WAL mode: readers never wait for
 * the writer, every change is a transaction, so a crash or kill leaves the catalog as it was
 * before or after a change, never between.
 *
 * @param file - the database file
 * @param options - read-only, photo folder, pixel limit
 * @returns the catalog
 * @throws {@link WhaleidError} when a read-only catalog does not exist or the schema is newer
 * @example
 * const cat = openCatalog('whales.db');
 * const ind = cat.createIndividual('Salt', '', 'ann');
 */
export function openCatalog(file: string, options: CatalogOptions = {}): Catalog {
  const readonly = options.readonly ?? false;
  if (readonly && !existsSync(file)) throw new WhaleidError(`${file}: no such catalog`);
  if (!readonly) {
    const dir = path.dirname(path.resolve(file));
    if (!existsSync(dir)) throw new WhaleidError(`${file}: folder ${dir} does not exist`);
  }
  const db = new Database(file, { readonly, fileMustExist: readonly });
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    migrate(db);
  }
  const store = openPhotoStore(options.photoDir ?? `${file}.photos`);
  let writes = 0;
  // every write of this connection goes through db.prepare(...).run or a transaction: count them
  const countWrites = <A extends unknown[], R>(fn: (...a: A) => R) => (...a: A): R => {
    const r = fn(...a);
    writes++;
    return r;
  };
  const maxPixels = options.maxPixels ?? 100_000_000;

  const getPhoto = db.prepare<[number], PhotoRow>('SELECT * FROM photos WHERE id = ?');
  const getPhotoBySha = db.prepare<[string], PhotoRow>('SELECT * FROM photos WHERE sha256 = ?');
  const getIndividual = db.prepare<[number], IndividualRow>('SELECT i.*, (SELECT COUNT(*) FROM photos p WHERE p.individual_id = i.id) AS photo_count FROM individuals i WHERE i.id = ?');
  const getIndividualByName = db.prepare<[string], IndividualRow>('SELECT * FROM individuals WHERE name = ?');
  const insertDecision = db.prepare('INSERT INTO decisions (photo_id, action, individual_id, other_individual_id, score, model_version, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const getDecision = db.prepare<[number | bigint], DecisionRow>('SELECT * FROM decisions WHERE id = ?');

  const photo = (id: number): PhotoRecord => {
    const r = getPhoto.get(id);
    if (!r) throw new NotFoundError(`photo ${id} not found`);
    return photoOf(r);
  };
  const individual = (id: number): IndividualRecord => {
    const r = getIndividual.get(id);
    if (!r) throw new NotFoundError(`individual ${id} not found`);
    return individualOf(r);
  };
  const live = (id: number): IndividualRecord => {
    const ind = individual(id);
    if (ind.mergedInto !== null) throw new WhaleidError(`individual ${id} (${ind.name}) was merged into ${ind.mergedInto}; use that one`);
    return ind;
  };
  const record = (photoId: number | null, action: DecisionRecord['action'], individualId: number | null, other: number | null, ctx: DecisionContext): DecisionRecord => {
    const by = textField('by', ctx.by, 100);
    const info = insertDecision.run(photoId, action, individualId, other, ctx.score ?? null, ctx.modelVersion ?? null, by, now());
    return decisionOf(getDecision.get(info.lastInsertRowid)!);
  };
  const insertIndividual = (name: string | null, notes: string, by: string): IndividualRecord => {
    const n = textField('notes', notes, 10_000, true);
    const who = textField('by', by, 100, true);
    let finalName: string;
    if (name === null) {
      // automatic names W00001, W00002, ...: the next free one after the highest id
      let k = ((db.prepare('SELECT COALESCE(MAX(id), 0) AS m FROM individuals').get() as { m: number }).m) + 1;
      while (getIndividualByName.get(`W${String(k).padStart(5, '0')}`)) k++;
      finalName = `W${String(k).padStart(5, '0')}`;
    } else {
      finalName = textField('name', name, 200);
      if (getIndividualByName.get(finalName)) throw new WhaleidError(`an individual named ${JSON.stringify(finalName)} exists already`);
    }
    const info = db.prepare('INSERT INTO individuals (name, notes, created_at, created_by) VALUES (?, ?, ?, ?)').run(finalName, n, now(), who);
    return individual(Number(info.lastInsertRowid));
  };
  const assign = db.prepare('UPDATE photos SET individual_id = ?, status = ? WHERE id = ?');

  const confirmTx = countWrites(db.transaction((photoId: number, individualId: number, ctx: DecisionContext) => {
    photo(photoId);
    live(individualId);
    assign.run(individualId, 'identified', photoId);
    return record(photoId, 'confirm', individualId, null, ctx);
  }));
  const newIndividualTx = countWrites(db.transaction((photoId: number, name: string | null, notes: string, ctx: DecisionContext) => {
    photo(photoId);
    const ind = insertIndividual(name, notes, ctx.by);
    assign.run(ind.id, 'identified', photoId);
    const decision = record(photoId, 'new-individual', ind.id, null, ctx);
    return { individual: individual(ind.id), decision };
  }));
  const mergeTx = countWrites(db.transaction((targetId: number, sourceId: number, ctx: DecisionContext) => {
    if (targetId === sourceId) throw new WhaleidError('cannot merge an individual into itself');
    live(targetId);
    live(sourceId);
    db.prepare('UPDATE photos SET individual_id = ? WHERE individual_id = ?').run(targetId, sourceId);
    db.prepare('UPDATE individuals SET merged_into = ? WHERE id = ?').run(targetId, sourceId);
    return record(null, 'merge', targetId, sourceId, ctx);
  }));
  const insertPhotoTx = countWrites(db.transaction((sha: string, row: unknown[], target: number | string | null, by: string) => {
    const existing = getPhotoBySha.get(sha);
    if (existing) return { photo: photoOf(existing), duplicate: true, newIndividual: false };
    let individualId: number | null = null;
    let newIndividual = false;
    if (typeof target === 'string') {
      const known = getIndividualByName.get(target);
      let ind = known ? individualOf(known) : insertIndividual(target, '', by);
      newIndividual = !known;
      while (ind.mergedInto !== null) ind = individual(ind.mergedInto);
      individualId = ind.id;
    } else if (target !== null) {
      individualId = live(target).id;
    }
    row[row.length - 2] = individualId;
    row[row.length - 1] = individualId === null ? 'pending' : 'identified';
    const info = db.prepare(`INSERT INTO photos (sha256, format, bytes, width, height, original_name, box_x0, box_y0, box_x1, box_y1, box_source, taken_on, location, uploaded_by, uploaded_at, individual_id, status)
      VALUES (${row.map(() => '?').join(', ')})`).run(...row);
    const id = Number(info.lastInsertRowid);
    if (individualId !== null) record(id, 'import', individualId, null, { by: by || 'anonymous' });
    return { photo: photo(id), duplicate: false, newIndividual };
  }));

  return {
    file,
    db,
    photos: store,
    maxPixels,
    async addPhoto(bytes, meta) {
      const name = textField('originalName', meta.originalName, 500, true);
      const facts = await inspectPhoto(bytes, name || 'photo', maxPixels);
      const known = getPhotoBySha.get(facts.sha256);
      if (known) return { photo: photoOf(known), duplicate: true, newIndividual: false };
      const box = meta.box ? checkBox(meta.box, facts.width, facts.height) : null;
      const takenOn = meta.takenOn ? dateField('takenOn', meta.takenOn) : null;
      const location = meta.location ? textField('location', meta.location, 500) : null;
      const by = textField('uploadedBy', meta.uploadedBy ?? '', 100, true);
      // bytes first, row second: a kill between them leaves an unreferenced file (harmless, reused
      // by the next upload of those bytes), never a row without its photo
      await store.put(bytes, facts);
      const target = meta.individualId ?? meta.individualName ?? null;
      // the last two values (individual, status) are filled in inside the transaction
      return insertPhotoTx(facts.sha256, [facts.sha256, facts.format, facts.bytes, facts.width, facts.height, name, box?.x0 ?? null, box?.y0 ?? null, box?.x1 ?? null, box?.y1 ?? null,
        box ? (meta.boxSource ?? 'user') : 'none', takenOn, location, by, now(), null, 'pending'], target, by);
    },
    photo,
    photoFile: (p) => store.pathOf(p.sha256, p.format),
    listPhotos(q) {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.individualId !== undefined) { where.push('individual_id = ?'); args.push(q.individualId); }
      if (q.status !== undefined) { where.push('status = ?'); args.push(q.status); }
      if (q.search) { where.push("(original_name LIKE ? ESCAPE '\\' OR location LIKE ? ESCAPE '\\')"); const like = likePattern(q.search); args.push(like, like); }
      const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
      const total = (db.prepare(`SELECT COUNT(*) AS n FROM photos ${w}`).get(...args) as { n: number }).n;
      const items = db.prepare<unknown[], PhotoRow>(`SELECT * FROM photos ${w} ORDER BY id LIMIT ? OFFSET ?`).all(...args, limitOf(q.limit), Math.max(0, q.offset ?? 0)).map(photoOf);
      return { total, items };
    },
    setBox(photoId, box, source) {
      writes++;
      const p = photo(photoId);
      const b = checkBox(box, p.width, p.height);
      db.prepare('UPDATE photos SET box_x0 = ?, box_y0 = ?, box_x1 = ?, box_y1 = ?, box_source = ? WHERE id = ?').run(b.x0, b.y0, b.x1, b.y1, source, photoId);
      db.prepare('DELETE FROM features WHERE photo_id = ?').run(photoId); // the crop changed
      return photo(photoId);
    },
    createIndividual: (name, notes, by) => db.transaction(() => insertIndividual(name, notes, by))(),
    individual,
    individualByName: (name) => { const r = getIndividualByName.get(name); return r ? individualOf(r) : undefined; },
    listIndividuals(q) {
      const args: string[] = [];
      let w = 'WHERE merged_into IS NULL';
      if (q.search) { w += " AND (name LIKE ? ESCAPE '\\' OR notes LIKE ? ESCAPE '\\')"; const like = likePattern(q.search); args.push(like, like); }
      const total = (db.prepare(`SELECT COUNT(*) AS n FROM individuals ${w}`).get(...args) as { n: number }).n;
      const items = db.prepare<unknown[], IndividualRow>(`SELECT i.*, (SELECT COUNT(*) FROM photos p WHERE p.individual_id = i.id) AS photo_count FROM individuals i ${w} ORDER BY i.name LIMIT ? OFFSET ?`)
        .all(...args, limitOf(q.limit), Math.max(0, q.offset ?? 0)).map(individualOf);
      return { total, items };
    },
    updateIndividual(id, change) {
      return db.transaction(() => {
        const ind = individual(id);
        const name = change.name === undefined ? ind.name : textField('name', change.name, 200);
        const notes = change.notes === undefined ? ind.notes : textField('notes', change.notes, 10_000, true);
        const other = getIndividualByName.get(name);
        if (other && other.id !== id) throw new WhaleidError(`an individual named ${JSON.stringify(name)} exists already`);
        db.prepare('UPDATE individuals SET name = ?, notes = ? WHERE id = ?').run(name, notes, id);
        return individual(id);
      })();
    },
    confirm: (photoId, individualId, ctx) => confirmTx(photoId, individualId, ctx),
    newIndividual: (photoId, name, notes, ctx) => newIndividualTx(photoId, name, notes, ctx),
    skip: (photoId, ctx) => countWrites(db.transaction(() => {
      const p = photo(photoId);
      if (p.status === 'pending') assign.run(null, 'skipped', photoId);
      return record(photoId, 'skip', null, null, ctx);
    }))(),
    merge: (targetId, sourceId, ctx) => mergeTx(targetId, sourceId, ctx),
    decisions(q) {
      const rows = q.photoId === undefined
        ? db.prepare<[number], DecisionRow>('SELECT * FROM decisions ORDER BY id DESC LIMIT ?').all(limitOf(q.limit))
        : db.prepare<[number, number], DecisionRow>('SELECT * FROM decisions WHERE photo_id = ? ORDER BY id DESC LIMIT ?').all(q.photoId, limitOf(q.limit));
      return rows.map(decisionOf);
    },
    revision: () => `${writes}:${db.pragma('data_version', { simple: true }) as number}`,
    gallery: () => db.prepare<[], { photoId: number; individualId: number; boxKey: string }>(
      `SELECT p.id AS photoId, p.individual_id AS individualId, COALESCE(p.box_x0 || ',' || p.box_y0 || ',' || p.box_x1 || ',' || p.box_y1, '') AS boxKey
       FROM photos p JOIN individuals i ON i.id = p.individual_id
       WHERE p.status = 'identified' AND i.merged_into IS NULL ORDER BY p.id`).all(),
    getFeatures(modelVersion, photoIds) {
      const out = new Map<number, Float32Array>();
      const stmt = db.prepare<[string, number], { vector: Buffer }>('SELECT vector FROM features WHERE model_version = ? AND photo_id = ?');
      for (const id of photoIds) {
        const r = stmt.get(modelVersion, id);
        if (r) out.set(id, new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength)));
      }
      return out;
    },
    putFeatures(modelVersion, entries) {
      const stmt = db.prepare('INSERT OR REPLACE INTO features (photo_id, model_version, vector) VALUES (?, ?, ?)');
      db.transaction(() => { for (const e of entries) stmt.run(e.photoId, modelVersion, Buffer.from(e.vector.buffer, e.vector.byteOffset, e.vector.byteLength)); })();
    },
    async backup(dest) {
      if (existsSync(dest)) throw new WhaleidError(`${dest} exists already: a backup never overwrites a file`);
      const tmp = `${dest}.partial`;
      await fs.rm(tmp, { force: true });
      await db.backup(tmp);
      await fs.rename(tmp, dest);
      // photos: content-addressed, so copying the missing ones is enough (and safe to repeat)
      let copied = 0;
      const destPhotos = openPhotoStore(`${dest}.photos`);
      for (const p of db.prepare<[], PhotoRow>('SELECT * FROM photos').all()) {
        const target = destPhotos.pathOf(p.sha256, p.format);
        if (existsSync(target)) continue;
        await destPhotos.put(await fs.readFile(store.pathOf(p.sha256, p.format)), { sha256: p.sha256, format: p.format, width: p.width, height: p.height, bytes: p.bytes });
        copied++;
      }
      return { photos: copied };
    },
    close: () => db.close(),
  };
}
