import { existsSync, promises as fs } from 'node:fs';
import { WhaleidError } from '../util/errors.js';
import { claimFile, renameNoReplace } from '../util/atomic-file.js';
import { storageFailure } from '../util/storage-failure.js';
import { wrapCatalogDb, type CatalogDb } from './catalog-db.js';
import { copyPhotoChecked, openPhotoFiles, trackWrittenFiles, type PhotoFiles, type WrittenFiles } from './photo-files.js';
import { openSqliteConnection } from './sqlite-connection.js';

/** Copies of a catalog. */
export interface BackupStore {
  /**
   * Online copy of the database (consistent while the service runs) and of the photos.
   * @returns how many photo files were copied
   */
  backup(dest: string): Promise<{ photos: number }>;
}

/**
 * Claims `<dest>.partial` for one backup or copy to `dest`: refuses an existing `dest` and a
 * `.partial` that another run holds or left behind (a person decides, never us), and removes the
 * journals a killed run left beside a `.partial` that is gone.
 *
 * @param dest - the file to write
 * @param what - `backup` or `copy`, for the messages
 * @returns the claimed temporary file
 * @throws {@link WhaleidError} when `dest` or `<dest>.partial` exists
 * @example
 * const tmp = await claimPartial('b.db', 'backup'); // 'b.db.partial', created empty
 */
export async function claimPartial(dest: string, what: 'backup' | 'copy'): Promise<string> {
  if (existsSync(dest)) throw new WhaleidError(`${dest} exists already: a ${what} never overwrites a file`);
  const tmp = `${dest}.partial`;
  // a backup's photo folder holds what the interrupted one copied: the command line refuses it as an existing output
  const also = what === 'backup' && existsSync(`${dest}.photos`) ? ` and ${dest}.photos` : '';
  if (!(await claimFile(tmp))) throw new WhaleidError(`${tmp} exists: another ${what} to ${dest} is running or was interrupted; remove ${tmp}${also} and run again`);
  // journals of an interrupted run's file (now gone) would be replayed into ours
  for (const f of [`${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) await fs.rm(f, { force: true });
  return tmp;
}

/**
 * Removes a claimed `.partial` SQLite file with its journals.
 *
 * @param tmp - the file from {@link claimPartial}
 * @returns resolves once removed (missing files are no error)
 * @example
 * await removePartial('b.db.partial');
 */
export async function removePartial(tmp: string): Promise<void> {
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) await fs.rm(f, { force: true });
}

/**
 * Moves a finished `.partial` into place, never over a file that appeared meanwhile.
 *
 * @param tmp - the finished file
 * @param dest - its place
 * @returns resolves once `dest` is the finished file
 * @throws {@link WhaleidError} when `dest` exists now
 * @example
 * await finishPartial('b.db.partial', 'b.db');
 */
export async function finishPartial(tmp: string, dest: string): Promise<void> {
  if (!(await renameNoReplace(tmp, dest))) throw new WhaleidError(`${dest} appeared while this ran: never overwritten`);
}

/**
 * A failed backup as one line: what went wrong and that nothing of it was kept; any other error
 * (a bug) as it is.
 *
 * @param e - what was thrown
 * @param dest - the backup file
 * @returns the error to throw
 * @example
 * catch (e) { throw backupFailure(e, 'b.db'); } // whaleid: b.db: no space left on device (ENOSPC); the backup failed ...
 */
export function backupFailure(e: unknown, dest: string): unknown {
  const after = 'the backup failed and nothing of it was kept';
  if (e instanceof WhaleidError) return new WhaleidError(`${e.message}; ${after} (${dest})`, e.exitCode);
  return storageFailure(e, dest, after) ?? e;
}

/** Copies the photos a backup file names into its photo folder, checked; notes each file written. */
async function backupPhotos(tmp: string, files: PhotoFiles, destFiles: PhotoFiles, written: WrittenFiles): Promise<void> {
  // opened writable (it is ours, nothing is written): a read-only open of a WAL database leaves its -wal and -shm behind
  const copy = wrapCatalogDb(openSqliteConnection(tmp, { readonly: false, create: false }));
  try {
    const check = await copy.integrityCheck();
    if (check !== 'ok') throw new WhaleidError(`${tmp}: the database copy fails SQLite's integrity check (${check})`);
    // the photos of the copy itself: those of its moment, whatever the service wrote since
    for (const p of await copy.q().selectFrom('photos').select(['sha256', 'format', 'width', 'height', 'bytes']).orderBy('id').execute()) {
      const r = await copyPhotoChecked(files, destFiles, p, '--photos');
      if (r.copied) written.add(r.file);
    }
  } finally {
    await copy.close();
  }
}

/**
 * The backup store: SQLite's online backup to `<dest>.partial`, checked (integrity check), then
 * the photos it names into `<dest>.photos`, each one's SHA-256 checked, and last the rename to
 * `dest`: a `dest` that exists is complete. A failure removes what the backup wrote (the
 * `.partial`, the photo files it added) and says what happened in one line. A backup never
 * overwrites or deletes another file: an existing `dest` or `<dest>.partial` is refused.
 *
 * @param db - the catalog's database
 * @param files - the catalog's photo folder
 * @returns the store
 * @example
 * await createBackup(db, files).backup('backups/whales-2026-11-28.db');
 */
export function createBackup(db: CatalogDb, files: PhotoFiles): BackupStore {
  return {
    async backup(dest) {
      if (!db.backupTo) throw new WhaleidError(`${db.file}: a PostgreSQL catalog is backed up from its URL (backupCatalog, \`whaleid catalog backup --catalog URL --photos DIR --out ${dest}\`), or with PostgreSQL's tools (pg_dump)`);
      const tmp = await claimPartial(dest, 'backup');
      const written = trackWrittenFiles(`${dest}.photos`);
      try {
        await db.backupTo(tmp);
        await backupPhotos(tmp, files, openPhotoFiles(`${dest}.photos`), written);
        await finishPartial(tmp, dest);
        return { photos: written.count };
      } catch (e) {
        await removePartial(tmp);
        await written.undo();
        throw backupFailure(e, dest);
      }
    },
  };
}
