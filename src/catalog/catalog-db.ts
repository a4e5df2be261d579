import { AsyncLocalStorage } from 'node:async_hooks';
import { sql, type Kysely } from 'kysely';
import type { CatalogTables } from './catalog-tables.js';

/** Which database a catalog lives in. */
export type CatalogBackend = 'sqlite' | 'postgres';

/**
 * The catalog's database as its stores see it, whichever database it is: every query is written
 * once with the query layer ({@link CatalogDb.q}) and runs on SQLite and PostgreSQL alike. The
 * Catalog interface never exposes it: every change goes through {@link CatalogDb.write}, so there
 * is one way to make a transaction.
 */
export interface CatalogDb {
  readonly backend: CatalogBackend;
  /** The file it was opened from, or the PostgreSQL URL without its password. */
  readonly file: string;
  /**
   * The query builder: the transaction in progress when called inside {@link CatalogDb.write}
   * (in this async context), else the connection (pool). Stores call it for every query, so a
   * read inside a write sees the write's own changes.
   */
  q(): Kysely<CatalogTables>;
  /**
   * Runs `fn` as one transaction and counts it as a change (see {@link CatalogDb.revision}). The
   * writes of every process on one catalog are serialised (SQLite's one writer; on PostgreSQL the
   * revision row's lock, taken first), so a write sees every write committed before it. A write
   * inside a write joins it as a savepoint: stores compose without knowing who started the
   * transaction, and an inner failure that the outer write catches undoes only the inner part.
   * @throws whatever `fn` throws, after rolling back
   */
  write<R>(fn: () => Promise<R>): Promise<R>;
  /**
   * Runs `fn` in one read transaction: every query of it sees the catalog as it was at its
   * start, whatever other processes write meanwhile (SQLite's WAL snapshot, PostgreSQL's
   * REPEATABLE READ). A copy or backup reads through it.
   */
  snapshot<R>(fn: () => Promise<R>): Promise<R>;
  /**
   * Changes whenever the catalog changed, through this process or any other one (SQLite's
   * data_version with a counter of this connection's writes; PostgreSQL's revision row).
   */
  revision(): Promise<string>;
  /** `ok` for a sound database (SQLite's integrity_check; on PostgreSQL every table read whole). */
  integrityCheck(): Promise<string>;
  /** Copies the database consistently to a new SQLite file (SQLite's online backup). */
  backupTo?(dest: string): Promise<void>;
  /**
   * What the database is, however it was named: a SQLite file's device and inode (a symlink or
   * another path to it reads the same), a PostgreSQL server's system identifier with the
   * database's name. Two opens of one catalog have equal identities.
   */
  identity(): Promise<string>;
  close(): Promise<void>;
}

/** What a backend module gives {@link wrapCatalogDb}. */
export interface BackendConnection {
  backend: CatalogBackend;
  file: string;
  kysely: Kysely<CatalogTables>;
  /** The first statement of every write transaction (PostgreSQL: count the revision, taking its row lock). */
  beginWrite?(trx: Kysely<CatalogTables>): Promise<void>;
  /** Called after each committed write. */
  afterWrite?(): void;
  revision(): Promise<string>;
  integrityCheck(): Promise<string>;
  backupTo?(dest: string): Promise<void>;
  identity(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Adds the one transaction helper to a backend's connection: writes as transactions (nested ones
 * as savepoints), the transaction in progress found through the async context.
 *
 * @param c - the backend's query builder and its own operations
 * @returns the catalog's database
 * @example
 * const db = wrapCatalogDb(await openSqliteConnection('whales.db', { readonly: false, create: true }));
 * await db.write(() => db.q().deleteFrom('features').execute());
 */
export function wrapCatalogDb(c: BackendConnection): CatalogDb {
  const current = new AsyncLocalStorage<{ trx: Kysely<CatalogTables>; savepoints: number }>();
  return {
    backend: c.backend,
    file: c.file,
    q: () => current.getStore()?.trx ?? c.kysely,
    async write<R>(fn: () => Promise<R>): Promise<R> {
      const open = current.getStore();
      if (open) {
        const name = sql.id(`sp${++open.savepoints}`);
        await sql`SAVEPOINT ${name}`.execute(open.trx);
        try {
          const r = await fn();
          await sql`RELEASE SAVEPOINT ${name}`.execute(open.trx);
          return r;
        } catch (e) {
          // a failed rollback (SQLite already rolled the whole transaction back) must not hide the
          // cause; the outer transaction is rolled back as the error leaves it
          await sql`ROLLBACK TO SAVEPOINT ${name}`.execute(open.trx).catch(() => {});
          throw e;
        }
      }
      const r = await c.kysely.transaction().execute(async (trx) => {
        await c.beginWrite?.(trx);
        return current.run({ trx, savepoints: 0 }, fn);
      });
      c.afterWrite?.();
      return r;
    },
    async snapshot<R>(fn: () => Promise<R>): Promise<R> {
      const begin = c.backend === 'postgres' ? c.kysely.transaction().setIsolationLevel('repeatable read') : c.kysely.transaction();
      return begin.execute((trx) => current.run({ trx, savepoints: 0 }, fn));
    },
    revision: () => c.revision(),
    integrityCheck: () => c.integrityCheck(),
    ...(c.backupTo ? { backupTo: c.backupTo } : {}),
    identity: () => c.identity(),
    close: () => c.close(),
  };
}

/**
 * Whether a `--catalog` value names a PostgreSQL database rather than a SQLite file.
 *
 * @param location - a file path or a URL
 * @returns true for `postgres://` and `postgresql://` URLs
 * @example
 * isPostgresUrl('postgres://whaleid@db.lab/whales'); // true
 */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * A PostgreSQL URL fit to print: its password replaced by `***`.
 *
 * @param url - the connection URL
 * @returns the URL without its password
 * @example
 * shownUrl('postgres://ann:secret@db/whales'); // 'postgres://ann:***@db/whales'
 */
export function shownUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]*):[^@]*@/i, '$1:***@');
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
 * `%text%` for a `LIKE` with `\` as its escape character: the user's %, _ and backslashes match
 * themselves. Used through {@link containsText}.
 *
 * @param text - what the user searched for
 * @returns the pattern
 * @example
 * likePattern('100%'); // '%100\\%%'
 */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * A search condition that reads the same on both databases: the column contains the text, ASCII
 * letters compared without case (SQLite's LIKE ignores their case, PostgreSQL's does not, so both
 * sides are lowered), `%`, `_` and `\` matching themselves.
 *
 * @param column - the column (a trusted name from the code, never the user's)
 * @param text - what the user searched for
 * @returns the condition for a `where`
 * @example
 * db.q().selectFrom('photos').selectAll().where(containsText('location', 'Bay'));
 */
export function containsText(column: string, text: string): ReturnType<typeof sql<boolean>> {
  return sql<boolean>`lower(${sql.ref(column)}) LIKE lower(${likePattern(text)}) ESCAPE '\\'`;
}

/** The time a change is recorded with (ISO 8601, UTC). */
export const now = (): string => new Date().toISOString();
