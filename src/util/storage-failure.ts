import { WhaleidError } from './errors.js';

/** What a code of the file system, SQLite or PostgreSQL means, for codes of a full or failing disk. */
const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  SQLITE_FULL: 'no space left on device',
  // SQLite could not grow its -shm file: a write that failed for want of room
  SQLITE_IOERR_SHMSIZE: 'no space left on device',
  53100: 'no space left on the database server',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EROFS: 'read-only file system',
  SQLITE_READONLY: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EIO: 'input/output error',
  SQLITE_IOERR: 'input/output error',
  SQLITE_CANTOPEN: 'cannot open a file',
};

/**
 * An error of the storage under a command (a full disk, a quota, a read-only or failing file
 * system) as a user error, one line naming what was written and why it failed; null for any
 * other error (a bug, shown as one). Why: a full disk is expected in the field and is for the
 * person to fix, never an "internal error".
 *
 * @param e - what was thrown (Node's fs errors have `code` and `path`; better-sqlite3's `code`; pg's a SQLSTATE `code`)
 * @param what - what was being written, e.g. `backup.db`
 * @param after - what the command did about it, appended to the line (e.g. `nothing was kept`)
 * @returns the user error, or null when `e` is not a storage failure
 * @example
 * catch (e) { throw storageFailure(e, 'backup.db', 'nothing was kept') ?? e; }
 */
export function storageFailure(e: unknown, what: string, after: string): WhaleidError | null {
  const err = e as { code?: unknown; path?: unknown; message?: unknown } | null;
  const code = typeof err?.code === 'string' ? err.code : '';
  const reason = REASONS[code] ?? (code.startsWith('SQLITE_IOERR') ? REASONS.SQLITE_IOERR : code.startsWith('SQLITE_READONLY') ? REASONS.SQLITE_READONLY : undefined);
  if (!reason) return null;
  const where = typeof err?.path === 'string' ? ` at ${err.path}` : '';
  return new WhaleidError(`${what}: ${reason} (${code}${where}); ${after}`);
}
