import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
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
}

/**
 * Opens a catalog's database: foreign keys on, a busy timeout, and when writable WAL mode and the
 * schema's migrations.
 *
 * @param file - the database file
 * @param options - read-only or not
 * @returns the connection with its write helper
 * @throws {@link WhaleidError} when a read-only catalog does not exist, its folder is missing or
 *   the schema is newer
 * @example
 * const db = openCatalogDb('whales.db', { readonly: false });
 * db.write(() => db.sql.prepare('DELETE FROM features').run());
 */
export function openCatalogDb(file: string, options: CatalogDbOptions): CatalogDb {
  const { readonly } = options;
  if (readonly && !existsSync(file)) throw new WhaleidError(`${file}: no such catalog`);
  if (!readonly) {
    const dir = path.dirname(path.resolve(file));
    if (!existsSync(dir)) throw new WhaleidError(`${file}: folder ${dir} does not exist`);
  }
  const sql = new Database(file, { readonly, fileMustExist: readonly });
  sql.pragma('foreign_keys = ON');
  sql.pragma('busy_timeout = 5000');
  if (!readonly) {
    sql.pragma('journal_mode = WAL');
    migrate(sql);
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
