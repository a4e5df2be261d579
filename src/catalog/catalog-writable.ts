import { randomBytes } from 'node:crypto';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { WhaleidError } from '../util/errors.js';
import type { CatalogDb } from './catalog-db.js';

/** SQLite's and PostgreSQL's codes (and the file system's) for "this may be read, not written". */
const READ_ONLY_CODES = new Set([
  'SQLITE_READONLY', 'SQLITE_READONLY_DIRECTORY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_READONLY_RECOVERY', 'SQLITE_READONLY_CANTINIT', 'SQLITE_READONLY_CANTLOCK', 'SQLITE_READONLY_ROLLBACK', 'SQLITE_CANTOPEN',
  '25006', // PostgreSQL read_only_sql_transaction: a standby, or default_transaction_read_only
  '42501', // PostgreSQL insufficient_privilege: a role that may only read
  'EACCES', 'EPERM', 'EROFS',
]);

/**
 * The error of a catalog that this process may read but not write, as one line naming it and
 * what to do; null for any other error.
 *
 * @param location - the catalog's file or (password-free) URL, for the message
 * @param e - the error an open or a write raised
 * @returns the one-line error, or null when `e` is not about writing
 * @example
 * try { await openCatalog(file); } catch (e) { throw catalogWriteError(file, e) ?? e; }
 */
export function catalogWriteError(location: string, e: unknown): WhaleidError | null {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !READ_ONLY_CODES.has(code)) return null;
  const why = (e as Error).message.split('\n')[0];
  return new WhaleidError(`${location}: this process cannot write the catalog (${why}; ${code}): make the database, its folder and the photo folder writable for this user, or serve a writable copy (whaleid catalog copy)`);
}

/** Thrown inside the probe's transaction to roll it back: the write went through. */
class ProbeDone extends Error {}

/**
 * Checks that this process can change the catalog, before a service takes changes: a write
 * transaction that changes no row (rolled back), and a file created and removed in the photo
 * folder. A catalog file or folder the user may only read (or a root-owned file seen by another
 * user, a read-only mount, a PostgreSQL standby or read-only role) used to be served with a token
 * and then answered every change with 500.
 *
 * @param db - the catalog's database
 * @param location - the catalog's file or URL, for the message
 * @param photoDir - the photo folder
 * @throws {@link WhaleidError} naming the catalog and why it cannot be written
 * @example
 * await checkCatalogWritable(db, 'whales.db', 'whales.db.photos');
 */
export async function checkCatalogWritable(db: CatalogDb, location: string, photoDir: string): Promise<void> {
  try {
    await db.write(async () => {
      await db.q().updateTable('individuals').set({ notes: sql<string>`notes` }).where(sql<boolean>`1 = 0`).execute();
      throw new ProbeDone();
    });
  } catch (e) {
    if (!(e instanceof ProbeDone)) throw catalogWriteError(location, e) ?? e;
  }
  const probe = path.join(photoDir, `.whaleid-write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(photoDir, { recursive: true });
    await writeFile(probe, '');
    await unlink(probe);
  } catch (e) {
    const err = catalogWriteError(`${location} (photo folder ${photoDir})`, e);
    throw err ?? e;
  }
}
