import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ExchangePhoto, ExchangeRead } from '../data/formats/exchange.js';
import { rowIssue, unsafeMediaName } from '../data/formats/exchange.js';
import type { DataIssue } from '../data/issues.js';
import { storageFailure } from '../util/storage-failure.js';
import { checkAnnotation } from './annotations-store.js';
import type { Catalog } from './catalog.js';
import type { NewAnnotation } from './catalog-types.js';
import { positionFields } from './photo-details.js';
import { inspectPhoto } from './photo-files.js';
import { dateField, textField } from './text-fields.js';

/** Options of {@link importExchange}. */
export interface ExchangeImportOptions {
  /** The folder of the photos the file names. */
  media: string;
  /** Who is recorded as the importer. */
  by?: string;
  /** Called as photos are checked (first pass) and added (second pass). */
  onCheck?: (done: number, total: number) => void;
  onProgress?: (done: number, total: number) => void;
  /** Called with each photo added: a PostgreSQL catalog's import enqueues its feature job. */
  onAdded?: (photoId: number) => void | Promise<void>;
}

/** Counts of one import. */
export interface ExchangeImportSummary {
  added: number;
  annotations: number;
  /** Photos whose bytes were in the catalog already (left as they are). */
  duplicates: number;
  newIndividuals: number;
}

/** The annotations of a photo as the photos store takes them. */
const newAnnotations = (p: ExchangePhoto): NewAnnotation[] => p.annotations.map((a) => ({
  box: a.box, theta: a.theta, species: a.species, viewpoint: a.viewpoint, individualName: a.individual?.name ?? null, individualUuid: a.individual?.uuid ?? null, uuid: a.uuid,
}));

/** Runs a check, turning its one-line error into an issue of the record. */
function check(issues: DataIssue[], from: ExchangePhoto['from'], field: string, run: () => unknown): void {
  try {
    run();
  } catch (e) {
    issues.push(rowIssue(from, field, (e as Error).message));
  }
}

/**
 * Checks every photo of a file before anything is written: its file is in the media folder and
 * a readable photo of the size the file states, it is not another row's photo, and each
 * annotation (box within the photo, rotation, species, viewpoint, individual name), date,
 * position and place name is one the catalog takes. Uuids must not be another photo's.
 *
 * @param catalog - the catalog (its pixel limit and stored uuids)
 * @param photos - what the format's reader found
 * @param options - the media folder, progress
 * @returns every problem found
 * @example
 * const issues = await checkExchange(cat, readCoco(text, 'annotations.json').photos, { media: 'images' });
 */
export async function checkExchange(catalog: Pick<Catalog, 'maxPixels' | 'storedUuids' | 'photo'>, photos: readonly ExchangePhoto[], options: Pick<ExchangeImportOptions, 'media' | 'onCheck'>): Promise<DataIssue[]> {
  const issues: DataIssue[] = [];
  const seen = new Map<string, ExchangePhoto>();
  const uuids = new Map<string, ExchangePhoto['from']>();
  const stored = new Map([...(await catalog.storedUuids()).photos].map(([id, uuid]) => [uuid, id]));
  for (const [i, p] of photos.entries()) {
    options.onCheck?.(i, photos.length);
    const file = path.join(options.media, p.file);
    // a name that leaves the folder was reported by the reader: not read
    const bytes = unsafeMediaName(p.file) !== null ? null : await fs.readFile(file).catch((e: NodeJS.ErrnoException) => {
      issues.push(rowIssue(p.from, 'file', `${file}: ${e.code === 'ENOENT' ? 'no such photo in the media folder (--media)' : e.message}`));
      return null;
    });
    const facts = bytes ? await inspectPhoto(bytes, file, catalog.maxPixels).catch((e: Error) => {
      issues.push(rowIssue(p.from, 'file', e.message));
      return null;
    }) : null;
    if (facts) {
      if ((p.width !== null && p.width !== facts.width) || (p.height !== null && p.height !== facts.height)) issues.push(rowIssue(p.from, 'width', `the file says ${p.width}x${p.height}, the photo is ${facts.width}x${facts.height} (boxes are in the photo's pixels)`));
      const twin = seen.get(facts.sha256);
      if (twin) issues.push(rowIssue(p.from, 'file', `the same photo (bytes) as ${twin.file}${twin.from.line !== undefined ? ` in row ${twin.from.line}` : twin.from.path ? ` at ${twin.from.path}` : ''}; give each photo once, with all its annotations`));
      seen.set(facts.sha256, p);
      const from = (k: number): ExchangePhoto['from'] => p.annotations[k].from ?? p.from;
      for (const [k, a] of newAnnotations(p).entries()) check(issues, from(k), p.annotations[k].from ? 'annotation' : `annotation ${k + 1}`, () => checkAnnotation(a, facts.width, facts.height));
      // the uuid of a photo in the catalog already is refused, unless it is this photo (a second import)
      const owner = p.uuid === null ? undefined : stored.get(p.uuid);
      if (owner !== undefined && (await catalog.photo(owner)).sha256 !== facts.sha256) issues.push(rowIssue(p.from, 'uuid', `${p.uuid} is the uuid of another photo in the catalog already (photo ${owner})`));
    }
    if (p.takenOn !== null) check(issues, p.from, 'date', () => dateField('date', p.takenOn));
    check(issues, p.from, 'position', () => positionFields(p.latitude, p.longitude));
    if (p.location !== null) check(issues, p.from, 'location', () => textField('location', p.location, 500));
    if (p.uuid !== null) {
      const other = uuids.get(p.uuid);
      if (other) issues.push(rowIssue(p.from, 'uuid', `${p.uuid} is the uuid of another photo of the file too (${other.line ?? other.path})`));
      uuids.set(p.uuid, p.from);
    }
  }
  options.onCheck?.(photos.length, photos.length);
  return issues;
}

/**
 * Imports what a COCO or Wildbook file holds into a catalog, all or nothing as far as the file
 * can say: every problem of the file (`read.issues`) and of its photos (see the checks) is
 * returned, and then nothing is written. Otherwise each photo is added with its annotations in
 * one transaction (individuals found by name or created with their uuid), photos that share a
 * sighting id grouped into one sighting, the others by the catalog's sighting rule. A photo
 * whose bytes are in the catalog already is left as it is.
 *
 * @param catalog - an open catalog
 * @param read - what the format's reader found
 * @param options - the media folder, importer, reporting
 * @returns the issues (errors: nothing was written) and, when it imported, the counts
 * @throws {@link WhaleidError} when the disk is full or failing mid-import (the photos before are in, whole)
 * @example
 * const r = await importExchange(cat, readCoco(text, 'annotations.json'), { media: 'images' });
 */
export async function importExchange(catalog: Catalog, read: ExchangeRead, options: ExchangeImportOptions): Promise<{ issues: DataIssue[]; summary: ExchangeImportSummary | null }> {
  if (read.issues.some((i) => i.severity === 'fatal')) return { issues: read.issues, summary: null };
  const issues = [...read.issues, ...await checkExchange(catalog, read.photos, options)];
  if (issues.some((i) => i.severity !== 'warning')) return { issues, summary: null };
  const by = options.by ?? 'import';
  const s: ExchangeImportSummary = { added: 0, annotations: 0, duplicates: 0, newIndividuals: 0 };
  const sightings = new Map<string, number>();
  // the individuals the file names that the catalog does not know yet: the import creates them
  const names = new Set(read.photos.flatMap((p) => p.annotations.flatMap((a) => (a.individual ? [a.individual.name.trim()] : []))));
  for (const name of names) if (!await catalog.individualByName(name)) s.newIndividuals++;
  for (const [i, p] of read.photos.entries()) {
    try {
      const bytes = await fs.readFile(path.join(options.media, p.file));
      const r = await catalog.addPhoto(bytes, {
        originalName: path.basename(p.file), takenOn: p.takenOn, latitude: p.latitude, longitude: p.longitude, location: p.location,
        uploadedBy: by, boxSource: 'csv', uuid: p.uuid, annotations: newAnnotations(p),
      });
      if (r.duplicate) {
        s.duplicates++;
      } else {
        s.added++;
        s.annotations += p.annotations.length;
        if (p.sighting === null) {
          await catalog.groupIntoEncounters([r.photo.id], { by, sameUpload: false });
        } else {
          const into = await catalog.moveToEncounter(r.photo.id, sightings.get(p.sighting) ?? null, by);
          sightings.set(p.sighting, into.id);
        }
        await options.onAdded?.(r.photo.id);
      }
    } catch (e) {
      const full = storageFailure(e, `${catalog.file} (photos in ${catalog.photoFiles.dir})`, `import stopped at photo ${i + 1} of ${read.photos.length} (${p.file}); the photos before it are in, whole: make room and run the import again to add the rest`);
      throw full ?? e;
    }
    options.onProgress?.(i + 1, read.photos.length);
  }
  return { issues, summary: s };
}
