import { existsSync, promises as fs } from 'node:fs';
import { WhaleidError } from '../util/errors.js';
import type { CatalogDb } from './catalog-db.js';
import { openPhotoFiles, type PhotoFiles } from './photo-files.js';

/** Copies of a catalog. */
export interface BackupStore {
  /**
   * Online copy of the database (consistent while the service runs) and of the photos.
   * @returns how many photo files were copied
   */
  backup(dest: string): Promise<{ photos: number }>;
}

/**
 * The backup store: SQLite's online backup to `<dest>.partial`, renamed to `dest` once complete,
 * then the photos the copy lacks into `<dest>.photos`. A backup never overwrites or deletes a
 * file: an existing `dest` or `<dest>.partial` is refused.
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
      if (existsSync(dest)) throw new WhaleidError(`${dest} exists already: a backup never overwrites a file`);
      const tmp = `${dest}.partial`;
      // another backup may be writing it, or one was interrupted: a person decides, never us
      if (existsSync(tmp)) throw new WhaleidError(`${tmp} exists: another backup to ${dest} is running or was interrupted; remove ${tmp} and run again`);
      await db.backupTo(tmp);
      await fs.rename(tmp, dest);
      // photos: content-addressed, so copying the missing ones is enough (and safe to repeat)
      let copied = 0;
      const destFiles = openPhotoFiles(`${dest}.photos`);
      for (const p of await db.q().selectFrom('photos').select(['sha256', 'format', 'width', 'height', 'bytes']).orderBy('id').execute()) {
        const target = destFiles.pathOf(p.sha256, p.format);
        if (existsSync(target)) continue;
        await destFiles.put(await fs.readFile(files.pathOf(p.sha256, p.format)), p);
        copied++;
      }
      return { photos: copied };
    },
  };
}
