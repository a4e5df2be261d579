import { createBackup, type BackupStore } from './catalog-backup.js';
import { openCatalogDb } from './catalog-db.js';
import { createDecisionLog } from './decision-log.js';
import { createDecisions, type DecisionsStore } from './decisions-store.js';
import { createFeatures, type FeaturesStore } from './features-store.js';
import { createIndividuals, type IndividualsStore } from './individuals-store.js';
import { openPhotoFiles, type PhotoFiles } from './photo-files.js';
import { createPhotos, type PhotosStore } from './photos-store.js';
import { createSightings, type SightingsStore } from './sightings-store.js';

export { NotFoundError } from './not-found-error.js';

/** Options of {@link openCatalog}. */
export interface CatalogOptions {
  /** Open without writing (no migration; writes throw). Default false. */
  readonly?: boolean;
  /**
   * Create the catalog when the file does not exist. Default true; the service passes false
   * unless asked, so a mistyped path is refused instead of starting an empty catalog.
   */
  create?: boolean;
  /** Photo folder; default `<file>.photos` beside the database. */
  photoDir?: string;
  /** Largest photo accepted, in pixels. */
  maxPixels?: number;
}

/**
 * An open catalog: SQLite database + content-addressed photo folder, seen through its stores
 * (photos, individuals, decisions, features, backup, sightings). The connection itself stays inside.
 */
export interface Catalog extends PhotosStore, IndividualsStore, DecisionsStore, FeaturesStore, BackupStore, SightingsStore {
  readonly file: string;
  /** The content-addressed photo folder. */
  readonly photoFiles: PhotoFiles;
  readonly maxPixels: number;
  /**
   * Changes whenever the catalog changed: through this connection (a counter) or any other one
   * (SQLite's data_version). Lets a reader keep derived state (the identifier's gallery) until
   * then, without querying the tables.
   */
  revision(): string;
  /** SQLite's integrity check of the database: `ok` when sound. */
  integrityCheck(): string;
  close(): void;
}

/**
 * Opens (creating and migrating) a photo-ID catalog. SQLite in WAL mode: readers never wait for
 * the writer, every change is a transaction, so a crash or kill leaves the catalog as it was
 * before or after a change, never between.
 *
 * @param file - the database file
 * @param options - read-only, create when missing, photo folder, pixel limit
 * @returns the catalog
 * @throws {@link WhaleidError} when the catalog does not exist (read-only or `create: false`), the
 *   file is not a whaleid catalog (left untouched), or the schema is newer
 * @example
 * const cat = openCatalog('whales.db');
 * const ind = cat.createIndividual('Salt', '', 'ann');
 */
export function openCatalog(file: string, options: CatalogOptions = {}): Catalog {
  const db = openCatalogDb(file, { readonly: options.readonly ?? false, create: options.create ?? true });
  const files = openPhotoFiles(options.photoDir ?? `${file}.photos`);
  const maxPixels = options.maxPixels ?? 100_000_000;
  const log = createDecisionLog(db);
  const individuals = createIndividuals(db);
  const features = createFeatures(db);
  const photos = createPhotos(db, files, maxPixels, { individuals, log, features });
  return {
    file,
    photoFiles: files,
    maxPixels,
    ...photos.api,
    ...individuals.api,
    ...createDecisions(db, { photos, individuals, log }),
    ...features.api,
    ...createSightings(db, photos),
    ...createBackup(db, files),
    revision: db.revision,
    integrityCheck: db.integrityCheck,
    close: db.close,
  };
}
