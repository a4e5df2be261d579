import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { Kysely, SqliteDialect, type Dialect, type Driver } from 'kysely';
import { WhaleidError } from '../util/errors.js';
import type { BackendConnection } from './catalog-db.js';
import { migrateSqlite } from './catalog-schema.js';
import type { CatalogTables } from './catalog-tables.js';

/** How a catalog is opened. */
export interface CatalogDbOptions {
  /** Open without writing (no migration; writes throw); the catalog must exist. */
  readonly: boolean;
  /** Create the catalog when it does not exist (writable opens only). */
  create: boolean;
}

/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** The tables of a whaleid catalog (of schema 1, the oldest one opened). */
export const CATALOG_TABLES = ['decisions', 'features', 'individuals', 'photos'];

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
 * Kysely's SQLite dialect, whose ROLLBACK is skipped when SQLite already ended the transaction
 * itself: it does on a full disk or an I/O error (SQLITE_FULL, SQLITE_IOERR), and Kysely's
 * ROLLBACK then fails with "no transaction is active", an error that replaces the one that says
 * what happened.
 */
function catalogSqliteDialect(raw: Database.Database): Dialect {
  const dialect = new SqliteDialect({ database: raw });
  const createDriver = dialect.createDriver.bind(dialect);
  dialect.createDriver = (): Driver => {
    const driver = createDriver();
    const rollback = driver.rollbackTransaction.bind(driver);
    driver.rollbackTransaction = async (...args) => {
      if (raw.inTransaction) await rollback(...args);
    };
    return driver;
  };
  return dialect;
}

/**
 * Opens a catalog's SQLite file: foreign keys on, a busy timeout, and when writable WAL mode and
 * the schema's migrations; queries go through Kysely's SQLite dialect over the one connection.
 *
 * @param file - the database file
 * @param options - read-only or not, create a missing file or not
 * @returns the backend connection
 * @throws {@link WhaleidError} when the catalog does not exist (read-only, or `create` false), its
 *   folder is missing, the file is not SQLite or another program's database (checked before
 *   anything is written to it), or the schema is newer
 * @example
 * const db = wrapCatalogDb(openSqliteConnection('whales.db', { readonly: false, create: true }));
 */
export function openSqliteConnection(file: string, options: CatalogDbOptions): BackendConnection {
  const { readonly } = options;
  const exists = existsSync(file);
  if (readonly && !exists) throw new WhaleidError(`${file}: no such catalog`);
  if (!exists && !options.create) throw new WhaleidError(`${file}: no such catalog (a new one is made only when asked: whaleid serve --create, or whaleid catalog import)`);
  if (!readonly) {
    const dir = path.dirname(path.resolve(file));
    if (!existsSync(dir)) throw new WhaleidError(`${file}: folder ${dir} does not exist`);
  }
  if (exists) checkFileKind(file);
  const raw = new Database(file, { readonly, fileMustExist: readonly });
  try {
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    checkIsCatalog(raw, file, readonly);
    if (!readonly) {
      raw.pragma('journal_mode = WAL');
      migrateSqlite(raw);
    }
  } catch (e) {
    raw.close();
    if ((e as { code?: string }).code === 'SQLITE_NOTADB' || (e as { code?: string }).code === 'SQLITE_CORRUPT') throw new WhaleidError(`${file}: damaged or not a SQLite database (${(e as Error).message})`);
    throw e;
  }
  let writes = 0;
  const st = statSync(file);
  const identity = `sqlite:${st.dev}:${st.ino}`;
  return {
    backend: 'sqlite',
    file,
    kysely: new Kysely<CatalogTables>({ dialect: catalogSqliteDialect(raw) }),
    afterWrite: () => void writes++,
    // data_version changes when another connection commits; the counter when this one does
    revision: async () => `${writes}:${raw.pragma('data_version', { simple: true }) as number}`,
    integrityCheck: async () => String(raw.pragma('integrity_check', { simple: true })),
    backupTo: async (dest) => void (await raw.backup(dest)),
    // taken at open: the file may be renamed later (a copy's `.partial`)
    identity: async () => identity,
    close: async () => {
      if (raw.open) raw.close();
    },
  };
}
