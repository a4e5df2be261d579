import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { WhaleidError } from '../util/errors.js';
import { migrate } from './catalog-schema.js';

/**
 * The catalog's SQLite connection as its stores see it. The Catalog interface never exposes it:
 * every change goes through {@link CatalogDb.write}, so there is one way to make a transaction and
 * one way to count the changes a reader's cache depends on.
 */
export interface CatalogDb {
  /** The file it was opened from. */
  readonly file: string;
  /** The connection, for the catalog's stores only (statements, reads). */
  readonly sql: Database.Database;
  /**
   * Runs `fn` as one transaction and counts it as a change. A write inside a write joins it
   * (a savepoint): stores compose without knowing who started the transaction.
   * @throws whatever `fn` throws, after rolling back
   */
  write<R>(fn: () => R): R;
  /**
   * Changes whenever the catalog changed: through this connection (the write counter) or any
   * other one (SQLite's data_version).
   */
  revision(): string;
  /** SQLite's `integrity_check`: `ok` for a sound file. */
  integrityCheck(): string;
  close(): void;
}

/** How {@link openCatalogDb} opens a file. */
export interface CatalogDbOptions {
  /** Open without writing (no migration; writes throw); the file must exist. */
  readonly: boolean;
  /** Create the catalog when the file does not exist (writable opens only). */
  create: boolean;
}

/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** The tables of a whaleid catalog. */
const CATALOG_TABLES = ['decisions', 'features', 'individuals', 'photos'];

/** Refuses a path that is a folder or a file that is not SQLite, before SQLite opens it. */
function checkFileKind(file: string): void {
  const stat = statSync(file);
  if (stat.isDirectory()) throw new WhaleidError(`${file}: a folder, not a catalog file`);
  if (stat.size === 0) return; // SQLite's empty database: a new catalog
  const head = Buffer.alloc(SQLITE_HEADER.length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (!head.equals(SQLITE_HEADER)) throw new WhaleidError(`${file}: not a whaleid catalog (not a SQLite database); refusing to open it`);
}

/** Refuses a SQLite database of another program (before anything is written to it: no WAL, no tables). */
function checkIsCatalog(sql: Database.Database, file: string, readonly: boolean): void {
  const tables = (sql.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  const version = sql.pragma('user_version', { simple: true }) as number;
  if (version === 0 && tables.length === 0) {
    if (readonly) throw new WhaleidError(`${file}: an empty database, not a whaleid catalog`);
    return; // empty: a new catalog
  }
  if (CATALOG_TABLES.every((t) => tables.includes(t))) return;
  throw new WhaleidError(`${file}: a SQLite database but not a whaleid catalog (its tables: ${tables.join(', ') || 'none'}); refusing to change it`);
}

/**
 * Opens a catalog's database: foreign keys on, a busy timeout, and when writable WAL mode and the
 * schema's migrations.
 *
 * @param file - the database file
 * @param options - read-only or not, create a missing file or not
 * @returns the connection with its write helper
 * @throws {@link WhaleidError} when the catalog does not exist (read-only, or `create` false), its
 *   folder is missing, the file is not SQLite or another program's database (checked before
 *   anything is written to it), or the schema is newer
 * @example
 * const db = openCatalogDb('whales.db', { readonly: false });
 * db.write(() => db.sql.prepare('DELETE FROM features').run());
 */
export function openCatalogDb(file: string, options: CatalogDbOptions): CatalogDb {
  const { readonly } = options;
  const exists = existsSync(file);
  if (readonly && !exists) throw new WhaleidError(`${file}: no such catalog`);
  if (!exists && !options.create) throw new WhaleidError(`${file}: no such catalog (a new one is made only when asked: whaleid serve --create, or whaleid catalog import)`);
  if (!readonly) {
    const dir = path.dirname(path.resolve(file));
    if (!existsSync(dir)) throw new WhaleidError(`${file}: folder ${dir} does not exist`);
  }
  if (exists) checkFileKind(file);
  const sql = new Database(file, { readonly, fileMustExist: readonly });
  try {
    sql.pragma('foreign_keys = ON');
    sql.pragma('busy_timeout = 5000');
    checkIsCatalog(sql, file, readonly);
    if (!readonly) {
      sql.pragma('journal_mode = WAL');
      migrate(sql);
    }
  } catch (e) {
    sql.close();
    if ((e as { code?: string }).code === 'SQLITE_NOTADB' || (e as { code?: string }).code === 'SQLITE_CORRUPT') throw new WhaleidError(`${file}: damaged or not a SQLite database (${(e as Error).message})`);
    throw e;
  }
  let writes = 0;
  return {
    file,
    sql,
    write<R>(fn: () => R): R {
      const result = sql.transaction(fn)();
      writes++;
      return result;
    },
    revision: () => `${writes}:${sql.pragma('data_version', { simple: true }) as number}`,
    integrityCheck: () => String(sql.pragma('integrity_check', { simple: true })),
    close: () => sql.close(),
  };
}

/** Largest page a listing returns. */
export const MAX_LIMIT = 1000;

/**
 * A listing's `LIMIT` and `OFFSET` from a client's paging: limit within 1..{@link MAX_LIMIT}
 * (default 100), offset at least 0.
 *
 * @param q - the requested limit and offset
 * @returns the two statement arguments
 * @example
 * pageArgs({ limit: 5000 }); // [1000, 0]
 */
export function pageArgs(q: { limit?: number; offset?: number }): [number, number] {
  return [Math.max(1, Math.min(MAX_LIMIT, Math.floor(q.limit ?? 100))), Math.max(0, q.offset ?? 0)];
}

/**
 * `%text%` for `LIKE ? ESCAPE '\'`: the user's %, _ and backslashes match themselves.
 *
 * @param text - what the user searched for
 * @returns the pattern
 * @example
 * likePattern('100%'); // '%100\\%%'
 */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The time a change is recorded with (ISO 8601, UTC). */
export const now = (): string => new Date().toISOString();
