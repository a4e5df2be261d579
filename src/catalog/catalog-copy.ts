import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { sql, type InsertObject } from 'kysely';
import { WhaleidError } from '../util/errors.js';
import { isPostgresUrl, shownUrl, type CatalogDb } from './catalog-db.js';
import { openCatalog, openCatalogDb, photoDirOf } from './catalog.js';
import { TABLE_ORDER, type CatalogTables } from './catalog-tables.js';
import { storageFailure } from '../util/storage-failure.js';
import { backupFailure, claimPartial, finishPartial, removePartial } from './catalog-backup.js';
import { copyPhotoChecked, openPhotoFiles, trackWrittenFiles, type PhotoFiles, type StoredPhoto, type WrittenFiles } from './photo-files.js';

/** Options of {@link copyCatalog}. */
export interface CopyOptions {
  /** The source's photo folder (default `<from>.photos` for a SQLite file). */
  fromPhotos?: string;
  /** The target's photo folder (default `<to>.photos` for a SQLite file). */
  toPhotos?: string;
  /** Replace the rows of a target catalog that has some (its photo files stay: content-addressed). */
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
  /**
   * The target is a new backup (backupCatalog): its photo folder is its own, so the files the
   * copy wrote there are removed if it fails, and messages speak of a backup.
   */
  backup?: boolean;
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

/** Refuses a target that holds a catalog, unless forced. */
async function refuseHeld(db: CatalogDb, force: boolean | undefined): Promise<void> {
  const held = await rowCount(db);
  if (held > 0 && !force) throw new WhaleidError(`${db.file}: holds a catalog already (${held} rows); a copy never mixes two catalogs: give an empty target, or --force to replace its rows`);
}

/**
 * Refuses a copy of a catalog onto itself before anything is opened: the same path, or two
 * paths of one file (a symlink, a hard link), compared by device and inode.
 */
function refuseSameFile(from: string, to: string): void {
  if (isPostgresUrl(from) || isPostgresUrl(to)) return;
  const same = path.resolve(from) === path.resolve(to) || (existsSync(from) && existsSync(to) && ((a, b) => a.dev === b.dev && a.ino === b.ino)(statSync(from), statSync(to)));
  if (same) throw new WhaleidError(`--to ${to}: the same catalog as --from ${from}; a copy needs another target`);
}

type SourceTable = { table: keyof CatalogTables; key: readonly string[]; rows: Row[]; digest: string };

/** The source as of one moment: every table's rows and their digest. */
async function readSource(source: CatalogDb): Promise<SourceTable[]> {
  return source.snapshot(async () => {
    const out: SourceTable[] = [];
    for (const t of TABLE_ORDER) {
      const rows = await readTable(source, t.table, t.key);
      out.push({ ...t, rows, digest: digestOf(rows) });
    }
    return out;
  });
}

/**
 * Writes the source's rows into the target in one transaction, replacing its rows, and checks
 * them before the commit. The target's emptiness is checked again inside, under the write lock
 * (PostgreSQL's revision row, SQLite's one writer): two copies into one empty catalog then
 * commit one after the other, and the second sees the first's rows and is refused.
 */
async function writeTables(db: CatalogDb, sourceName: string, tables: readonly SourceTable[], force: boolean | undefined): Promise<void> {
  await db.write(async () => {
    await refuseHeld(db, force);
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
      if (copied.length !== t.rows.length || digestOf(copied) !== t.digest) throw new WhaleidError(`copy check failed: table ${t.table} holds ${copied.length} rows in ${db.file} against ${t.rows.length} in ${sourceName}, or other contents; nothing was committed`);
    }
  });
}

/** Copies the photo files the rows name, each checked; notes those written; returns how many. */
async function copyPhotos(from: PhotoFiles, to: PhotoFiles, photos: readonly StoredPhoto[], options: CopyOptions, written: WrittenFiles | null): Promise<number> {
  let copied = 0;
  for (const [i, p] of photos.entries()) {
    const r = await copyPhotoChecked(from, to, p, options.backup ? '--photos' : '--from-photos').catch((e: unknown) => {
      throw e instanceof WhaleidError && !options.backup ? new WhaleidError(`${e.message}; nothing was copied`) : e;
    });
    if (r.copied) {
      copied++;
      written?.add(r.file);
    }
    options.onProgress?.(i + 1, photos.length);
  }
  return copied;
}

/** A failed copy's error: a full disk or a locked SQLite target as one line, the rest as it is (a backup words its own). */
function copyFailure(e: unknown, to: string, backup: boolean | undefined): unknown {
  if (e instanceof WhaleidError || backup) return e;
  if (String((e as { code?: unknown }).code).startsWith('SQLITE_BUSY')) return new WhaleidError(`${to}: another process is writing to it (the database is locked); nothing was copied`);
  return storageFailure(e, shownUrl(to), 'nothing was copied') ?? e;
}

/**
 * Copies a whole catalog between SQLite and PostgreSQL (either way, or SQLite to SQLite): every
 * table with its ids, and the photo files the rows name. The source is read in one snapshot (a
 * service may keep running on it); the target is written in one transaction that checks, before
 * it commits, that every table holds the same number of rows with the same contents (a digest of
 * every column) as the source; every photo file's SHA-256 is checked against its row. A new SQLite
 * target is written as `<to>.partial` (claimed: one copy at a time) and renamed once complete,
 * never over a file. A target catalog that holds rows is refused unless `force` (then its rows
 * are replaced in the same transaction), checked again under the transaction's write lock. A
 * target that is the source, however named (a symlink; another URL of the same database), is
 * refused: source and target are compared by identity (device and inode; the server's system
 * identifier and the database).
 *
 * @param from - the source: a SQLite file or a postgres:// URL
 * @param to - the target: a SQLite file (created when missing) or a postgres:// URL (an existing database)
 * @param options - photo folders, force, progress
 * @returns rows per table and photo files copied and checked
 * @throws {@link WhaleidError} when source and target are one, the target holds rows (without
 *   force), a photo file is missing or damaged, a check fails, or the disk is full (nothing is
 *   committed then, and a new SQLite target's files are removed)
 * @example
 * await copyCatalog('whales.db', 'postgres://whaleid@db/whales', { toPhotos: '/srv/whaleid/photos' });
 */
export async function copyCatalog(from: string, to: string, options: CopyOptions = {}): Promise<CopySummary> {
  refuseSameFile(from, to);
  const fromFiles = openPhotoFiles(photoDirOf(from, options.fromPhotos));
  const toFiles = openPhotoFiles(photoDirOf(to, options.toPhotos));
  const newFile = !isPostgresUrl(to) && !existsSync(to);
  const source = await openCatalogDb(from, { readonly: true, create: false });
  let partial: string | null = null;
  let target: CatalogDb | null = null;
  const written = options.backup ? trackWrittenFiles(toFiles.dir) : null;
  try {
    if (newFile) partial = await claimPartial(to, options.backup ? 'backup' : 'copy');
    target = await openCatalogDb(partial ?? to, { readonly: false, create: true });
    if ((await source.identity()) === (await target.identity())) throw new WhaleidError(`--to ${shownUrl(to)}: the same catalog as --from ${shownUrl(from)} (${target.backend === 'postgres' ? 'the same database of the same server' : 'the same file'}); a copy needs another target`);
    await refuseHeld(target, options.force);
    const tables = await readSource(source);
    // photo files first: a copy that fails later leaves only files the target may reuse
    const photos = tables.find((t) => t.table === 'photos')!.rows as StoredPhoto[];
    const photosCopied = await copyPhotos(fromFiles, toFiles, photos, options, written);
    await writeTables(target, source.file, tables, options.force);
    // the planner's statistics of the new rows (else PostgreSQL plans the gallery's join blind
    // until autovacuum comes: 4.8 s instead of 60 ms for 20,000 photos)
    await sql`ANALYZE`.execute(target.q());
    await target.close();
    target = null;
    if (partial) await finishPartial(partial, to);
    return { rows: Object.fromEntries(tables.map((t) => [t.table, t.rows.length])), photosCopied, photosChecked: photos.length };
  } catch (e) {
    // what this copy wrote of its own is removed again: nothing of anyone else's is lost
    await target?.close();
    target = null;
    if (partial) await removePartial(partial);
    await written?.undo();
    throw copyFailure(e, to, options.backup);
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
 * Either way every photo file's SHA-256 is checked as it is copied, and `dest` appears last, once
 * the database and every photo are in place; a failure (a damaged or missing photo, a full disk)
 * removes what the backup wrote and says so in one line. A backup never overwrites: an existing
 * `dest` is refused.
 *
 * @param location - the catalog: a SQLite file or a postgres:// URL
 * @param dest - the backup file to write (must not exist)
 * @param options - `photos`: the catalog's photo folder (needed for PostgreSQL)
 * @returns how many photo files were copied
 * @throws {@link WhaleidError} when `dest` or `<dest>.partial` exists, the photo folder is missing
 *   for PostgreSQL, a photo file is missing or damaged, or the disk is full (nothing of the backup
 *   is left then)
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
  const fromPhotos = photoDirOf(location, options.photos);
  try {
    const copied = await copyCatalog(location, dest, { fromPhotos, toPhotos: `${dest}.photos`, backup: true });
    return { photos: copied.photosCopied };
  } catch (e) {
    throw backupFailure(e, dest);
  }
}
