import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { sql, type InsertObject } from 'kysely';
import { WhaleidError } from '../util/errors.js';
import { isPostgresUrl, shownUrl, type CatalogDb } from './catalog-db.js';
import { openCatalog, openCatalogDb, photoDirOf } from './catalog.js';
import { TABLE_ORDER, type CatalogTables } from './catalog-tables.js';
import { openPhotoFiles, type PhotoFiles } from './photo-files.js';

/** Options of {@link copyCatalog}. */
export interface CopyOptions {
  /** The source's photo folder (default `<from>.photos` for a SQLite file). */
  fromPhotos?: string;
  /** The target's photo folder (default `<to>.photos` for a SQLite file). */
  toPhotos?: string;
  /** Replace the rows of a target catalog that has some (its photo files stay: content-addressed). */
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** What a copy moved and checked. */
export interface CopySummary {
  /** Rows per table, the same in source and target (checked). */
  rows: Record<string, number>;
  /** Photo files copied (the others were in the target folder already); every one's SHA-256 checked. */
  photosCopied: number;
  photosChecked: number;
}

type Row = Record<string, unknown>;
/** Rows read or written per statement: within both databases' limits on parameters. */
const BATCH = 400;

/** A table's rows, in key order, read in pages. */
async function readTable(db: CatalogDb, table: keyof CatalogTables, key: readonly string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (let offset = 0; ; offset += 5000) {
    let q = db.q().selectFrom(table).selectAll();
    for (const k of key) q = q.orderBy(sql.ref(k));
    const page = await q.limit(5000).offset(offset).execute() as Row[];
    rows.push(...page);
    if (page.length < 5000) return rows;
  }
}

/** Inserts rows read from the same table of another catalog (the same schema: the same columns), in batches. */
async function insertRows<T extends keyof CatalogTables>(db: CatalogDb, table: T, rows: readonly Row[]): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH) await db.q().insertInto(table).values(rows.slice(i, i + BATCH) as unknown as InsertObject<CatalogTables, T>[]).execute();
}

/**
 * The digest of a table's rows: every column by name, bytes as hex, in key order. Equal digests
 * mean equal contents, whichever database the rows came from.
 */
function digestOf(rows: readonly Row[]): string {
  const hash = createHash('sha256');
  for (const r of rows) {
    const fields = Object.keys(r).sort().map((k) => [k, Buffer.isBuffer(r[k]) || r[k] instanceof Uint8Array ? Buffer.from(r[k] as Uint8Array).toString('hex') : r[k]]);
    hash.update(`${JSON.stringify(fields)}\n`);
  }
  return hash.digest('hex');
}

/** How many rows the catalog's tables hold in all. */
async function rowCount(db: CatalogDb): Promise<number> {
  let n = 0;
  for (const { table } of TABLE_ORDER) n += Number((await db.q().selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return n;
}

/** Copies one photo's file into the target folder unless there, checking the bytes' SHA-256 both ways. */
async function copyPhotoFile(from: PhotoFiles, to: PhotoFiles, p: { sha256: string; format: string; width: number; height: number; bytes: number }): Promise<boolean> {
  const target = to.pathOf(p.sha256, p.format);
  const check = (bytes: Buffer, file: string): void => {
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== p.sha256) throw new WhaleidError(`${file}: its content's SHA-256 is ${sha}, not the catalog's ${p.sha256} (a damaged or replaced photo file); nothing was copied`);
  };
  if (existsSync(target)) {
    check(await fs.readFile(target), target);
    return false;
  }
  const source = from.pathOf(p.sha256, p.format);
  if (!existsSync(source)) throw new WhaleidError(`${source}: photo file missing (the catalog's photo ${p.sha256}); give the source's photo folder with --from-photos; nothing was copied`);
  const bytes = await fs.readFile(source);
  check(bytes, source);
  await to.put(bytes, p);
  return true;
}

/**
 * Copies a whole catalog between SQLite and PostgreSQL (either way, or SQLite to SQLite): every
 * table with its ids, and the photo files the rows name. The source is read in one snapshot (a
 * service may keep running on it); the target is written in one transaction that checks, before
 * it commits, that every table holds the same number of rows with the same contents (a digest of
 * every column) as the source; every photo file's SHA-256 is checked against its row. A new SQLite
 * target is written as `<to>.partial` and renamed once complete. A target catalog that holds rows
 * is refused unless `force` (then its rows are replaced in the same transaction).
 *
 * @param from - the source: a SQLite file or a postgres:// URL
 * @param to - the target: a SQLite file (created when missing) or a postgres:// URL (an existing database)
 * @param options - photo folders, force, progress
 * @returns rows per table and photo files copied and checked
 * @throws {@link WhaleidError} when source and target are one, the target holds rows (without
 *   force), a photo file is missing or damaged, or a check fails (nothing is committed then)
 * @example
 * await copyCatalog('whales.db', 'postgres://whaleid@db/whales', { toPhotos: '/srv/whaleid/photos' });
 */
export async function copyCatalog(from: string, to: string, options: CopyOptions = {}): Promise<CopySummary> {
  const sameFile = !isPostgresUrl(from) && !isPostgresUrl(to) && path.resolve(from) === path.resolve(to);
  if (sameFile || (isPostgresUrl(from) && from === to)) throw new WhaleidError(`--to ${shownUrl(to)}: the same catalog as --from; a copy needs another target`);
  const fromFiles = openPhotoFiles(photoDirOf(from, options.fromPhotos));
  const toFiles = openPhotoFiles(photoDirOf(to, options.toPhotos));
  const newFile = !isPostgresUrl(to) && !existsSync(to);
  const partial = `${to}.partial`;
  if (newFile && existsSync(partial)) throw new WhaleidError(`${partial} exists: another copy to ${to} is running or was interrupted; remove ${partial} and run again`);
  const source = await openCatalogDb(from, { readonly: true, create: false });
  let target: CatalogDb | null = null;
  try {
    target = await openCatalogDb(newFile ? partial : to, { readonly: false, create: true });
    const held = await rowCount(target);
    if (held > 0 && !options.force) throw new WhaleidError(`${target.file}: holds a catalog already (${held} rows); a copy never mixes two catalogs: give an empty target, or --force to replace its rows`);
    // the source as of one moment: its rows and their digests
    const tables = await source.snapshot(async () => {
      const out: { table: keyof CatalogTables; key: readonly string[]; rows: Row[]; digest: string }[] = [];
      for (const t of TABLE_ORDER) {
        const rows = await readTable(source, t.table, t.key);
        out.push({ ...t, rows, digest: digestOf(rows) });
      }
      return out;
    });
    // photo files first: a copy that fails later leaves only files the target may reuse
    const photos = tables.find((t) => t.table === 'photos')!.rows as { sha256: string; format: string; width: number; height: number; bytes: number }[];
    let photosCopied = 0;
    for (const [i, p] of photos.entries()) {
      if (await copyPhotoFile(fromFiles, toFiles, p)) photosCopied++;
      options.onProgress?.(i + 1, photos.length);
    }
    const db = target;
    await db.write(async () => {
      for (const { table } of [...TABLE_ORDER].reverse()) await db.q().deleteFrom(table).execute();
      for (const t of tables) {
        // an individual may be merged into a later one: the marks once every individual is in
        const rows = t.table === 'individuals' ? t.rows.map((r) => ({ ...r, merged_into: null })) : t.rows;
        await insertRows(db, t.table, rows);
        if (t.table === 'individuals') {
          for (const r of t.rows.filter((x) => x.merged_into !== null)) await db.q().updateTable('individuals').set({ merged_into: r.merged_into as number }).where('id', '=', r.id as number).execute();
        }
        if (db.backend === 'postgres' && t.key[0] === 'id') {
          // the next id after the copied ones
          await sql`SELECT setval(pg_get_serial_sequence(${t.table}, 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM ${sql.table(t.table)}`.execute(db.q());
        }
      }
      // the check, before anything is committed: the same rows, column for column
      for (const t of tables) {
        const copied = await readTable(db, t.table, t.key);
        if (copied.length !== t.rows.length || digestOf(copied) !== t.digest) throw new WhaleidError(`copy check failed: table ${t.table} holds ${copied.length} rows in ${db.file} against ${t.rows.length} in ${source.file}, or other contents; nothing was committed`);
      }
    });
    // the planner's statistics of the new rows (else PostgreSQL plans the gallery's join blind
    // until autovacuum comes: 4.8 s instead of 60 ms for 20,000 photos)
    await sql`ANALYZE`.execute(db.q());
    const rows = Object.fromEntries(tables.map((t) => [t.table, t.rows.length]));
    await target.close();
    target = null;
    if (newFile) await fs.rename(partial, to);
    return { rows, photosCopied, photosChecked: photos.length };
  } catch (e) {
    // a new file of this copy's own is removed again: nothing of anyone else's is lost
    if (newFile && target) {
      await target.close();
      target = null;
      for (const f of [partial, `${partial}-wal`, `${partial}-shm`]) await fs.rm(f, { force: true });
    }
    throw e;
  } finally {
    await target?.close();
    await source.close();
  }
}

/**
 * Backs a catalog up into a new SQLite file and the photo folder beside it (`<dest>.photos`),
 * consistent while services keep writing. A SQLite catalog uses SQLite's online backup
 * (`Catalog.backup`); a PostgreSQL catalog is copied from one snapshot by {@link copyCatalog},
 * which checks every row and photo file, so a person restores either kind with `catalog copy`.
 * A backup never overwrites: an existing `dest` is refused.
 *
 * @param location - the catalog: a SQLite file or a postgres:// URL
 * @param dest - the backup file to write (must not exist)
 * @param options - `photos`: the catalog's photo folder (needed for PostgreSQL)
 * @returns how many photo files were copied
 * @throws {@link WhaleidError} when `dest` exists, the photo folder is missing for PostgreSQL, or
 *   the copy fails (nothing is left at `dest` then)
 * @example
 * await backupCatalog('postgres://whaleid@db/whales', 'backups/whales-2026-12-03.db', { photos: '/srv/whaleid/photos' });
 */
export async function backupCatalog(location: string, dest: string, options: { photos?: string } = {}): Promise<{ photos: number }> {
  if (!isPostgresUrl(location)) {
    const cat = await openCatalog(location, { readonly: true, photoDir: options.photos });
    try {
      return await cat.backup(dest);
    } finally {
      await cat.close();
    }
  }
  if (existsSync(dest)) throw new WhaleidError(`${dest} exists already: a backup never overwrites a file`);
  const copied = await copyCatalog(location, dest, { fromPhotos: photoDirOf(location, options.photos), toPhotos: `${dest}.photos` });
  return { photos: copied.photosCopied };
}
