import { promises as fs } from 'node:fs';
import path from 'node:path';
import { derivedUuid, isEmptyAnnotation, unsafeMediaName, type ExchangeAnnotation, type ExchangePhoto } from '../data/formats/exchange.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { WhaleidError } from '../util/errors.js';
import type { Catalog } from './catalog.js';
import type { AnnotationRecord, PhotoRecord } from './catalog-types.js';

/** A catalog read for an export: its photos as exchange records, and each one's stored file. */
export interface CatalogExchange {
  photos: ExchangePhoto[];
  /** The stored file of each exported photo, by its exchange file name. */
  stored: Map<string, string>;
}

const extensionOf = (format: string): string => (format === 'jpeg' ? 'jpg' : format === 'tiff' ? 'tif' : format);

/** The first annotation from the photo's own columns, for a photo the annotations table lacks (rows written without the store). */
const fromColumns = (p: PhotoRecord): AnnotationRecord => ({
  id: 0, photoId: p.id, ordinal: 0, box: p.box ? { x: p.box.x0, y: p.box.y0, w: p.box.x1 - p.box.x0, h: p.box.y1 - p.box.y0 } : null,
  theta: 0, species: '', viewpoint: '', individualId: p.individualId, uuid: null,
});

/**
 * The whole catalog as exchange records, every uuid filled in (the stored one, else one derived
 * from the photo's SHA-256, the annotation's place in it, the individual's name): each photo
 * with its annotations, date, position, place name and sighting. A photo's file name in the
 * export is the name it came with when no other exported photo has it (and it is a plain name),
 * else `<sha256>.<ext>` as in the photo folder.
 *
 * @param catalog - an open catalog
 * @returns the records and the stored file of each
 * @example
 * const { photos } = await catalogExchange(await openCatalog('whales.db', { readonly: true }));
 */
export async function catalogExchange(catalog: Catalog): Promise<CatalogExchange> {
  const all: PhotoRecord[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await catalog.listPhotos({ limit: 1000, offset });
    all.push(...page.items);
    if (page.items.length < 1000) break;
  }
  const uuids = await catalog.storedUuids();
  const annotations = await catalog.annotationsOf(all.map((p) => p.id));
  const individuals = new Map<number, { name: string; uuid: string }>();
  const individualOf = async (id: number | null): Promise<ExchangeAnnotation['individual']> => {
    if (id === null) return null;
    if (!individuals.has(id)) {
      const ind = await catalog.individual(id);
      individuals.set(id, { name: ind.name, uuid: uuids.individuals.get(id) ?? derivedUuid('individual', ind.name) });
    }
    return individuals.get(id)!;
  };
  const taken = new Map<string, number>();
  for (const p of all) taken.set(p.originalName, (taken.get(p.originalName) ?? 0) + 1);
  const photos: ExchangePhoto[] = [];
  const stored = new Map<string, string>();
  for (const p of all) {
    const plain = p.originalName !== '' && !p.originalName.includes('/') && unsafeMediaName(p.originalName) === null && taken.get(p.originalName) === 1;
    const file = plain ? p.originalName : `${p.sha256}.${extensionOf(p.format)}`;
    const uuid = uuids.photos.get(p.id) ?? derivedUuid('photo', p.sha256);
    const list = annotations.get(p.id)?.length ? annotations.get(p.id)! : [fromColumns(p)];
    const notes: ExchangeAnnotation[] = [];
    for (const a of list) {
      const note: ExchangeAnnotation = { uuid: a.uuid, box: a.box, theta: a.theta, species: a.species, viewpoint: a.viewpoint, individual: await individualOf(a.individualId) };
      // a placeholder (the whole photo, nothing known) keeps no uuid: formats may leave it out
      notes.push(isEmptyAnnotation(note) ? note : { ...note, uuid: a.uuid ?? derivedUuid('annotation', `${p.sha256}:${a.ordinal}`) });
    }
    photos.push({
      file, uuid, width: p.width, height: p.height, takenOn: p.takenOn, latitude: p.latitude, longitude: p.longitude, location: p.location,
      sighting: p.encounterId === null ? null : String(p.encounterId), annotations: notes, from: { file: catalog.file },
    });
    stored.set(file, catalog.photoFile(p));
  }
  return { photos, stored };
}

/**
 * Copies the exported photos into a folder under their exchange names (the `images/` beside a
 * COCO file, the photo folder of a Wildbook import): each written to a temporary file and
 * renamed; a file there already is kept when it holds the same bytes and refused otherwise,
 * unless `force`.
 *
 * @param exchange - what {@link catalogExchange} read
 * @param dir - the folder (created)
 * @param force - replace files that differ
 * @param onProgress - called after each photo
 * @returns how many photos were written (the others were there already)
 * @throws {@link WhaleidError} naming a file that differs, before anything is written
 * @example
 * await writeExchangePhotos(await catalogExchange(cat), 'export/images', false);
 */
export async function writeExchangePhotos(exchange: CatalogExchange, dir: string, force: boolean, onProgress?: (done: number, total: number) => void): Promise<number> {
  const plan: { target: string; bytes: Buffer | null; source: string }[] = [];
  for (const [name, source] of exchange.stored) {
    const target = path.join(dir, name);
    const there = await fs.readFile(target).catch(() => null);
    if (there === null) {
      plan.push({ target, bytes: null, source });
      continue;
    }
    const bytes = await fs.readFile(source);
    if (bytes.equals(there)) continue;
    if (!force) throw new WhaleidError(`${target}: exists with other bytes; remove it or give another folder`);
    plan.push({ target, bytes, source });
  }
  for (const [i, p] of plan.entries()) {
    await writeFileAtomic(p.target, p.bytes ?? await fs.readFile(p.source));
    onProgress?.(i + 1, plan.length);
  }
  return plan.length;
}
