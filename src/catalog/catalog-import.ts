import { promises as fs } from 'node:fs';
import { loadUsableDataset } from '../data/dataset.js';
import { NEW_WHALE } from '../data/labels.js';
import { loadPhotoExtras } from '../image/photo-extras.js';
import { storageFailure } from '../util/storage-failure.js';
import type { Catalog } from './catalog.js';

/** Options of {@link importDataset}. */
export interface ImportOptions {
  /** Boxes CSV (default `<data>/bounding_boxes.csv` when present). */
  boxes?: string;
  /** Who is recorded as the importer. */
  by?: string;
  onMessage?: (line: string) => void;
  onProgress?: (done: number, total: number) => void;
  /** Called with each photo added (not a duplicate): a PostgreSQL catalog's import enqueues its feature job. */
  onAdded?: (photoId: number) => void | Promise<void>;
}

/** Counts of one import. */
export interface ImportSummary {
  added: number;
  /** Photos whose bytes were in the catalog already. */
  duplicates: number;
  newIndividuals: number;
  /** new_whale and unlabelled photos added to the review queue (a person identifies them). */
  queued: number;
  /** Photos that could not be read (each reported). */
  failed: number;
  /** Dataset rows left out for an error (a bad id, a missing photo; each reported). */
  skipped: number;
}

/**
 * Loads a Kaggle-layout or folder-per-individual dataset into a catalog: one individual per id
 * (found by name, so a second import adds to the same individuals), each labelled photo
 * identified, with its box from the dataset's boxes CSV. Photos without a label (`new_whale`, the
 * test photos, photos directly in a folder layout's root) go into the review queue, as an upload
 * would, rather than being left out. Dates and positions come from the photos' EXIF, and dated
 * photos are grouped into sightings. Unreadable photos are reported and the rest imported;
 * running it again adds only what is new (photos are matched by content). A full or failing disk
 * stops the import at that photo with one line (each photo is added in one transaction, so the
 * ones before it are complete).
 *
 * @param catalog - an open catalog
 * @param data - the dataset folder
 * @param options - boxes, importer name, reporting
 * @returns the counts
 * @throws {@link WhaleidError} when the dataset is unusable, or the catalog's disk is full or failing
 * @example
 * const s = await importDataset(await openCatalog('whales.db'), '../shared/datasets/nyala-train');
 */
export async function importDataset(catalog: Catalog, data: string, options: ImportOptions = {}): Promise<ImportSummary> {
  const say = options.onMessage ?? (() => {});
  const ds = await loadUsableDataset(data, say);
  const extras = await loadPhotoExtras(ds.root, { boxes: options.boxes });
  const by = options.by ?? 'import';
  // labelled photos first, so a queued photo's candidates are there when a person opens it
  const photos = [
    ...ds.train.filter((p) => p.id !== NEW_WHALE),
    ...ds.train.filter((p) => p.id === NEW_WHALE).map((p) => ({ image: p.image, file: p.file })),
    ...ds.test,
  ] as { image: string; file: string; id?: string }[];
  const skipped = ds.issues.filter((i) => i.severity === 'error').length;
  const s: ImportSummary = { added: 0, duplicates: 0, newIndividuals: 0, queued: 0, failed: 0, skipped };
  for (const [i, p] of photos.entries()) {
    try {
      const bytes = await fs.readFile(p.file);
      const box = extras.of(p.image).box;
      // the individual is created with its first photo, in one transaction: an unreadable first
      // photo leaves no individual without photos
      const r = await catalog.addPhoto(bytes, { originalName: p.image, box, boxSource: box ? 'csv' : 'none', uploadedBy: by, ...(p.id ? { individualName: p.id } : {}) });
      if (r.duplicate) s.duplicates++;
      else if (p.id) s.added++;
      else s.queued++;
      if (r.newIndividual) s.newIndividuals++;
      if (!r.duplicate) {
        await catalog.groupIntoEncounters([r.photo.id], { by, sameUpload: false });
        await options.onAdded?.(r.photo.id);
      }
    } catch (e) {
      // a full or failing disk fails every photo after it: one line and a stop, not a line per
      // photo counted as unreadable; each photo is one transaction, so those before it are whole
      const full = storageFailure(e, `${catalog.file} (photos in ${catalog.photoFiles.dir})`, `import stopped at photo ${i + 1} of ${photos.length} (${p.image}); the photos before it are in, whole: make room and run the import again to add the rest`);
      if (full) throw full;
      s.failed++;
      say(`${p.file}: ${(e as Error).message}`);
    }
    options.onProgress?.(i + 1, photos.length);
  }
  return s;
}
