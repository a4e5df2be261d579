import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { WhaleidError } from '../util/errors.js';
import { shownUrl, type BackendConnection } from './catalog-db.js';
import { migratePostgres } from './catalog-schema.js';
import type { CatalogTables } from './catalog-tables.js';
import { CATALOG_TABLES, type CatalogDbOptions } from './sqlite-connection.js';

/** PostgreSQL's type id of BIGINT (ids, counts): read as a JavaScript number, as SQLite's integers are. */
const INT8_OID = 20;

/** The catalog's tables in the current schema (whaleid_state included). */
async function tablesOf(client: pg.PoolClient): Promise<string[]> {
  const r = await client.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name");
  return r.rows.map((row) => row.table_name);
}

/**
 * Refreshes the planner's statistics of the catalog's tables that grew or changed much since they
 * were last analysed. Why: a catalog filled in bulk (an import, a copy,
 * rows written straight in) is read by a service seconds later, before autovacuum's analyse
 * (every minute at best): with a new table's default estimates the gallery's join of 100,000
 * photos ran as a nested loop over a bitmap AND in 70 s, against 0.3 s once analysed. Growth is
 * judged from the table's size against the pages of its last statistics, which a bulk load
 * changes at once (the modification counters can lag by seconds).
 */
async function analyzeStaleTables(client: pg.PoolClient): Promise<void> {
  const r = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE n.nspname = current_schema() AND c.relname = ANY($1)
       AND (pg_relation_size(c.oid) / current_setting('block_size')::int > 2 * GREATEST(c.relpages, 0) + 8
            OR coalesce(s.n_mod_since_analyze, 0) > 50 + coalesce(s.n_live_tup, 0) / 10)
     ORDER BY c.relname`,
    [[...CATALOG_TABLES, 'encounters']],
  );
  for (const { relname } of r.rows) await client.query(`ANALYZE ${client.escapeIdentifier(relname)}`);
}

/**
 * The database's identity: the server's system identifier (fixed at initdb) and the database's
 * name and oid, whatever host alias, socket or user the URL named. pg_control_system() may be
 * kept from unprivileged roles: then the postmaster's start time stands in for the server.
 */
async function serverIdentity(kysely: Kysely<CatalogTables>): Promise<string> {
  const db = (await sql<{ name: string; oid: string }>`SELECT current_database() AS name, oid::text AS oid FROM pg_database WHERE datname = current_database()`.execute(kysely)).rows[0];
  let server: string;
  try {
    server = (await sql<{ id: string }>`SELECT system_identifier::text AS id FROM pg_control_system()`.execute(kysely)).rows[0].id;
  } catch {
    server = `started ${(await sql<{ t: string }>`SELECT pg_postmaster_start_time()::text AS t`.execute(kysely)).rows[0].t}`;
  }
  return `postgres:${server}:${db.oid}:${db.name}`;
}

/** A connection failure as one line naming the database and what to do. */
function connectError(shown: string, e: unknown): Error {
  const err = e as Error & { code?: string };
  if (err.code === '3D000') return new WhaleidError(`${shown}: no such database (${err.message}); create it first, e.g. createdb whales`);
  if (err.code === '28P01' || err.code === '28000') return new WhaleidError(`${shown}: login refused (${err.message})`);
  if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT' || err.code === 'ENOTFOUND' || err.code === 'ETIMEDOUT') return new WhaleidError(`${shown}: cannot connect to PostgreSQL (${err.message})`);
  return err;
}

/**
 * Opens a catalog in a PostgreSQL database: a pool of connections (one service process serves
 * requests in parallel), BIGINT read as numbers, and when writable the schema's migrations.
 * Every write transaction first counts the revision row, whose lock then serialises the writes of
 * every process, as SQLite's one writer does. A database with no tables is a new catalog; one
 * with other tables is refused and left untouched. Tables whose planner statistics are stale are
 * analysed first (see analyzeStaleTables).
 *
 * @param url - `postgres://user:password@host:port/database` (`?host=/socket/dir` for a Unix socket)
 * @param options - read-only or not, create the catalog in an empty database or not
 * @returns the backend connection
 * @throws {@link WhaleidError} when the server cannot be reached, the database does not exist,
 *   is empty (read-only or `create` false), is another program's, or has a newer schema
 * @example
 * const db = wrapCatalogDb(await openPostgresConnection('postgres://whaleid@localhost/whales', { readonly: false, create: true }));
 */
export async function openPostgresConnection(url: string, options: CatalogDbOptions): Promise<BackendConnection> {
  const shown = shownUrl(url);
  const { readonly } = options;
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    // PostgreSQL refuses every write of a read-only open
    ...(readonly ? { options: '-c default_transaction_read_only=on' } : {}),
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser },
  });
  // a server that goes away breaks idle connections: the next query reports it, not a crash
  pool.on('error', () => {});
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    await pool.end();
    throw connectError(shown, e);
  }
  try {
    const tables = await tablesOf(client);
    // only the state row's table: another process is creating the catalog (its migrations wait on that row)
    if (tables.length === 0 || (tables.length === 1 && tables[0] === 'whaleid_state')) {
      if (readonly) throw new WhaleidError(`${shown}: an empty database, not a whaleid catalog`);
      if (!options.create) throw new WhaleidError(`${shown}: an empty database, no catalog yet (a new one is made only when asked: whaleid serve --create, or whaleid catalog import)`);
    } else if (!tables.includes('whaleid_state') || !CATALOG_TABLES.every((t) => tables.includes(t))) {
      throw new WhaleidError(`${shown}: a PostgreSQL database but not a whaleid catalog (its tables: ${tables.join(', ')}); refusing to change it`);
    }
    await migratePostgres(client, shown, readonly);
    if (!readonly) await analyzeStaleTables(client);
  } catch (e) {
    client.release();
    await pool.end();
    throw e;
  }
  client.release();
  const kysely = new Kysely<CatalogTables>({ dialect: new PostgresDialect({ pool }) });
  return {
    backend: 'postgres',
    file: shown,
    kysely,
    beginWrite: async (trx) => void (await sql`UPDATE whaleid_state SET revision = revision + 1 WHERE id = 1`.execute(trx)),
    revision: async () => String((await sql<{ revision: number }>`SELECT revision FROM whaleid_state WHERE id = 1`.execute(kysely)).rows[0].revision),
    async integrityCheck() {
      // every row of every table read: a damaged page fails the scan
      for (const t of [...CATALOG_TABLES, 'encounters']) await sql`SELECT count(*) FROM ${sql.table(t)}`.execute(kysely);
      return 'ok';
    },
    identity: () => serverIdentity(kysely),
    close: () => kysely.destroy(),
  };
}
