import { checkCatalogWritable } from './catalog-writable.js';
import { createBackup, type BackupStore } from './catalog-backup.js';
import { WhaleidError } from '../util/errors.js';
import { isPostgresUrl, shownUrl, wrapCatalogDb, type CatalogBackend, type CatalogDb } from './catalog-db.js';
import { createDecisionLog } from './decision-log.js';
import { createDecisions, type DecisionsStore } from './decisions-store.js';
import { createFeatures, type FeaturesStore } from './features-store.js';
import { createIndividuals, type IndividualsStore } from './individuals-store.js';
import { openPhotoFiles, type PhotoFiles } from './photo-files.js';
import { createPhotos, type PhotosStore } from './photos-store.js';
import { createAnnotations, type AnnotationsStore } from './annotations-store.js';
import { readAnnotationGallery } from './gallery-ids.js';
import { createSightings, type SightingsStore } from './sightings-store.js';
import { createUsers, type UsersStore } from './users-store.js';
import { openPostgresConnection } from './postgres-connection.js';
import { openSqliteConnection, type CatalogDbOptions } from './sqlite-connection.js';

export { NotFoundError } from './not-found-error.js';

/** Options of {@link openCatalog}. */
export interface CatalogOptions {
  /** Open without writing (no migration; writes throw). Default false. */
  readonly?: boolean;
  /**
   * Create the catalog when the file does not exist (or the PostgreSQL database is empty).
   * Default true; the service passes false unless asked, so a mistyped path is refused instead
   * of starting an empty catalog.
   */
  create?: boolean;
  /**
   * Photo folder; default `<file>.photos` beside a SQLite file. A PostgreSQL catalog needs one:
   * a folder every service process of the catalog shares (a network file system or a mounted
   * object store).
   */
  photoDir?: string;
  /** Largest photo accepted, in pixels. */
  maxPixels?: number;
}

/**
 * An open catalog: a database (SQLite file or PostgreSQL) + content-addressed photo folder, seen
 * through its stores (photos, annotations, individuals, decisions, features, backup, sightings,
 * users). The
 * connection itself stays inside.
 */
export interface Catalog extends PhotosStore, AnnotationsStore, IndividualsStore, DecisionsStore, FeaturesStore, BackupStore, SightingsStore, UsersStore {
  /** The SQLite file, or the PostgreSQL URL without its password. */
  readonly file: string;
  readonly backend: CatalogBackend;
  /** The content-addressed photo folder. */
  readonly photoFiles: PhotoFiles;
  readonly maxPixels: number;
  /**
   * Changes whenever the catalog changed, through this process or any other one. Lets a reader
   * keep derived state (the identifier's gallery) until then, with one small query.
   */
  revision(): Promise<string>;
  /** The database's integrity check: `ok` when sound. */
  integrityCheck(): Promise<string>;
  /**
   * Throws a one-line {@link WhaleidError} when this process cannot change the catalog (its
   * database or photo folder is read-only for it); see {@link checkCatalogWritable}.
   */
  checkWritable(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where a catalog's photos are: the folder given, else `<file>.photos` beside a SQLite file.
 *
 * @param location - the SQLite file or PostgreSQL URL
 * @param photoDir - the folder given, if any
 * @returns the folder
 * @throws {@link WhaleidError} for a PostgreSQL catalog without a folder
 * @example
 * photoDirOf('whales.db'); // 'whales.db.photos'
 */
export function photoDirOf(location: string, photoDir?: string): string {
  if (photoDir) return photoDir;
  if (isPostgresUrl(location)) throw new WhaleidError(`${shownUrl(location)}: a PostgreSQL catalog keeps its photos in a folder every service process shares; give it with --photos DIR (or WHALEID_PHOTOS)`);
  return `${location}.photos`;
}

/**
 * Opens the database of a catalog: a SQLite file or a `postgres://` URL, migrated when writable.
 *
 * @param location - the SQLite file or PostgreSQL URL
 * @param options - read-only or not, create when missing or not
 * @returns the database with its transaction helper
 * @throws {@link WhaleidError} as {@link openCatalog}
 * @example
 * const db = await openCatalogDb('whales.db', { readonly: true, create: false });
 */
export async function openCatalogDb(location: string, options: CatalogDbOptions): Promise<CatalogDb> {
  return wrapCatalogDb(isPostgresUrl(location) ? await openPostgresConnection(location, options) : openSqliteConnection(location, options));
}

/**
 * Opens (creating and migrating) a photo-ID catalog in a SQLite file or a PostgreSQL database.
 * Every change is a transaction, so a crash or kill leaves the catalog as it was before or after
 * a change, never between; SQLite runs in WAL mode (readers never wait for the writer). Nothing is
 * kept in memory between calls: several processes can serve one catalog.
 *
 * @param location - the database file, or `postgres://user@host/database`
 * @param options - read-only, create when missing, photo folder, pixel limit
 * @returns the catalog
 * @throws {@link WhaleidError} when the catalog does not exist (read-only or `create: false`), the
 *   file or database is not a whaleid catalog (left untouched), the schema is newer, or a
 *   PostgreSQL catalog comes without its photo folder
 * @example
 * const cat = await openCatalog('whales.db');
 * const ind = await cat.createIndividual('Salt', '', 'ann');
 */
export async function openCatalog(location: string, options: CatalogOptions = {}): Promise<Catalog> {
  const photoDir = photoDirOf(location, options.photoDir);
  const db = await openCatalogDb(location, { readonly: options.readonly ?? false, create: options.create ?? true });
  const files = openPhotoFiles(photoDir);
  const maxPixels = options.maxPixels ?? 100_000_000;
  const log = createDecisionLog(db);
  const individuals = createIndividuals(db);
  const features = createFeatures(db);
  const annotations = createAnnotations(db, individuals);
  const photos = createPhotos(db, files, maxPixels, { individuals, log, features, annotations });
  return {
    file: db.file,
    backend: db.backend,
    photoFiles: files,
    maxPixels,
    ...photos.api,
    // the gallery holds every annotation with an individual: a photo's first as the photo, the others under their gallery ids (gallery-ids.ts)
    gallery: async () => [...(await photos.api.gallery()), ...(await readAnnotationGallery(db))],
    ...annotations.api,
    ...individuals.api,
    ...createDecisions(db, { photos, individuals, log, annotations }),
    ...features.api,
    ...createSightings(db, photos),
    ...createBackup(db, files),
    ...createUsers(db),
    revision: db.revision,
    integrityCheck: db.integrityCheck,
    checkWritable: () => checkCatalogWritable(db, db.file, photoDir),
    close: db.close,
  };
}
