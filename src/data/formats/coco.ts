import type { DataIssue } from '../issues.js';
import { checkedPosition, EMPTY_ANNOTATION, isEmptyAnnotation, rowIssue, unsafeMediaName, type ExchangeAnnotation, type ExchangePhoto, type ExchangeRead } from './exchange.js';

/**
 * COCO as re-identification tools exchange it: `images`, `annotations` (bbox, category) and
 * `categories`, with Wildbook's export fields (image uuid, capture date and GPS; annotation uuid,
 * viewpoint, theta, individual_ids through `info.individual_id_mapping`, individual_uuid, name)
 * and wildlife-datasets' `identity` ('unknown' when not identified). whaleid adds `location_id`
 * and `occurrence_id` on images and `box_given: false` on an annotation of the whole photo.
 */

/** The category of annotations without a species (COCO needs one), read back as no species. */
export const UNKNOWN_SPECIES = 'unknown';
/** wildlife-datasets' identity of an animal not identified. */
export const UNKNOWN_IDENTITY = 'unknown';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Writes photos as a COCO file in Wildbook's export layout.
 *
 * @param photos - the photos, each with its annotations (uuids filled in)
 * @param description - `info.description`
 * @returns the JSON text
 * @example
 * const json = cocoText(photos, 'whaleid catalog whales.db');
 */
export function cocoText(photos: readonly ExchangePhoto[], description: string): string {
  const species = [...new Set(photos.flatMap((p) => p.annotations.map((a) => a.species || UNKNOWN_SPECIES)))].sort();
  const categoryId = new Map(species.map((s, i) => [s, i + 1]));
  const uuids = [...new Set(photos.flatMap((p) => p.annotations.flatMap((a) => (a.individual?.uuid ? [a.individual.uuid] : []))))].sort();
  const individualId = new Map(uuids.map((u, i) => [u, i]));
  const images: Json[] = [];
  const annotations: Json[] = [];
  for (const [i, p] of photos.entries()) {
    images.push({
      id: i + 1, file_name: p.file, width: p.width, height: p.height, uuid: p.uuid, date_captured: p.takenOn,
      gps_lat_captured: p.latitude, gps_lon_captured: p.longitude, location_id: p.location, occurrence_id: p.sighting,
    });
    for (const a of p.annotations) {
      if (isEmptyAnnotation(a)) continue;
      const b = a.box ?? { x: 0, y: 0, w: p.width ?? 0, h: p.height ?? 0 };
      annotations.push({
        id: annotations.length + 1, image_id: i + 1, category_id: categoryId.get(a.species || UNKNOWN_SPECIES), bbox: [b.x, b.y, b.w, b.h], area: b.w * b.h,
        segmentation: [[b.x, b.y, b.x + b.w, b.y, b.x + b.w, b.y + b.h, b.x, b.y + b.h]], iscrowd: 0, uuid: a.uuid, viewpoint: a.viewpoint, theta: a.theta,
        individual_ids: a.individual?.uuid ? [individualId.get(a.individual.uuid)] : [], individual_uuid: a.individual?.uuid ?? null, name: a.individual?.name ?? null,
        identity: a.individual?.name ?? UNKNOWN_IDENTITY, ...(a.box ? {} : { box_given: false }),
      });
    }
  }
  const info = { description, version: '1.0', date_created: new Date().toISOString().slice(0, 10), individual_id_mapping: Object.fromEntries(individualId) };
  return `${JSON.stringify({ info, licenses: [], categories: species.map((name, i) => ({ id: i + 1, name, supercategory: 'animal' })), images, annotations }, null, 1)}\n`;
}

/** An optional text field: string, or null/absent; anything else is an issue. */
function optText(o: Json, key: string, where: { file: string; path: string }, issues: DataIssue[]): string | null {
  const v = o[key];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && key !== 'file_name') return String(v);
  issues.push(rowIssue(where, key, `expected a text, found ${JSON.stringify(v)}`));
  return null;
}

/** An optional number field. */
function optNumber(o: Json, key: string, where: { file: string; path: string }, issues: DataIssue[]): number | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (finite(v)) return v;
  issues.push(rowIssue(where, key, `expected a number, found ${JSON.stringify(v)}`));
  return null;
}

/** The individual of an annotation: its name, else its uuid, else its integer id through the mapping, else wildlife-datasets' identity. */
function individualOf(a: Json, where: { file: string; path: string }, byInteger: Map<number, string>, issues: DataIssue[]): ExchangeAnnotation['individual'] {
  const name = optText(a, 'name', where, issues);
  let uuid = optText(a, 'individual_uuid', where, issues);
  const ids = a.individual_ids;
  if (ids !== undefined && ids !== null && !(Array.isArray(ids) && ids.length <= 1 && ids.every((k) => Number.isInteger(k)))) {
    issues.push(rowIssue(where, 'individual_ids', `expected [] or [one integer], found ${JSON.stringify(ids)}`));
  } else if (uuid === null && Array.isArray(ids) && ids.length === 1) {
    uuid = byInteger.get(ids[0] as number) ?? null;
    if (uuid === null) issues.push(rowIssue(where, 'individual_ids', `${ids[0]} is not in info.individual_id_mapping`));
  }
  const identity = optText(a, 'identity', where, issues);
  const shown = name ?? uuid ?? (identity !== null && identity !== UNKNOWN_IDENTITY ? identity : null);
  return shown === null ? null : { name: shown, uuid };
}

/** One annotation of the file, checked field by field. */
function annotationOf(a: Json, where: { file: string; path: string }, categories: Map<unknown, string>, byInteger: Map<number, string>, issues: DataIssue[]): ExchangeAnnotation {
  const bbox = a.bbox;
  let box: ExchangeAnnotation['box'] = null;
  if (Array.isArray(bbox) && bbox.length === 4 && bbox.every(finite)) box = { x: bbox[0], y: bbox[1], w: bbox[2], h: bbox[3] };
  else if (bbox !== undefined) issues.push(rowIssue(where, 'bbox', `expected [x, y, width, height] in pixels, found ${JSON.stringify(bbox)}`));
  if (a.box_given === false) box = null;
  let species = '';
  if (a.category_id !== undefined && a.category_id !== null) {
    const name = categories.get(a.category_id);
    if (name === undefined) issues.push(rowIssue(where, 'category_id', `${JSON.stringify(a.category_id)} is not one of the categories' ids`));
    else species = name === UNKNOWN_SPECIES ? '' : name;
  }
  return {
    uuid: optText(a, 'uuid', where, issues), box, theta: optNumber(a, 'theta', where, issues) ?? 0, species,
    viewpoint: optText(a, 'viewpoint', where, issues) ?? '', individual: individualOf(a, where, byInteger, issues), from: where,
  };
}

/**
 * Reads a COCO file (Wildbook's export layout or whaleid's): every photo with its annotations,
 * and every problem found (a field of the wrong type, an annotation of no image, an unknown
 * category, an unsafe file name), each with its JSON path.
 *
 * @param text - the JSON text
 * @param file - its name, for messages
 * @returns the photos and the issues
 * @example
 * const { photos, issues } = readCoco(readFileSync('annotations.json', 'utf8'), 'annotations.json');
 */
export function readCoco(text: string, file: string): ExchangeRead {
  const issues: DataIssue[] = [];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { photos: [], issues: [{ severity: 'fatal', file, message: `not JSON: ${(e as Error).message}` }] };
  }
  if (!isObject(doc) || !Array.isArray(doc.images)) return { photos: [], issues: [{ severity: 'fatal', file, message: 'expected a COCO object with an "images" array' }] };
  const annotations = doc.annotations ?? [];
  if (!Array.isArray(annotations)) return { photos: [], issues: [{ severity: 'fatal', file, field: 'annotations', message: 'expected an array' }] };
  const categories = new Map<unknown, string>();
  for (const [i, c] of (Array.isArray(doc.categories) ? doc.categories : []).entries()) {
    if (isObject(c) && typeof c.name === 'string' && c.id !== undefined) categories.set(c.id, c.name);
    else issues.push(rowIssue({ file, path: `categories[${i}]` }, 'name', 'expected {id, name}'));
  }
  const mapping = isObject(doc.info) && isObject(doc.info.individual_id_mapping) ? doc.info.individual_id_mapping : {};
  const byInteger = new Map(Object.entries(mapping).filter(([, k]) => Number.isInteger(k)).map(([u, k]) => [k as number, u]));
  const photos: ExchangePhoto[] = [];
  const byId = new Map<unknown, ExchangePhoto>();
  for (const [i, im] of doc.images.entries()) {
    const where = { file, path: `images[${i}]` };
    if (!isObject(im)) {
      issues.push(rowIssue(where, 'id', 'expected an image object'));
      continue;
    }
    const name = optText(im, 'file_name', where, issues);
    const unsafe = name === null ? 'expected the photo\'s file name' : unsafeMediaName(name);
    if (unsafe) issues.push(rowIssue(where, 'file_name', unsafe));
    if (byId.has(im.id) || im.id === undefined) issues.push(rowIssue(where, 'id', im.id === undefined ? 'expected an id' : `${JSON.stringify(im.id)} is the id of an earlier image too`));
    const position = checkedPosition(optNumber(im, 'gps_lat_captured', where, issues), optNumber(im, 'gps_lon_captured', where, issues), (field, why) => issues.push(rowIssue(where, field === 'latitude' ? 'gps_lat_captured' : 'gps_lon_captured', why)));
    const p: ExchangePhoto = {
      file: name ?? '', uuid: optText(im, 'uuid', where, issues), width: optNumber(im, 'width', where, issues), height: optNumber(im, 'height', where, issues),
      takenOn: optText(im, 'date_captured', where, issues), latitude: position.latitude, longitude: position.longitude,
      location: optText(im, 'location_id', where, issues), sighting: optText(im, 'occurrence_id', where, issues), annotations: [], from: where,
    };
    byId.set(im.id, p);
    photos.push(p);
  }
  for (const [i, a] of annotations.entries()) {
    const where = { file, path: `annotations[${i}]` };
    const p = isObject(a) ? byId.get(a.image_id) : undefined;
    if (!isObject(a) || !p) {
      issues.push(rowIssue(where, 'image_id', `expected the id of one of the images, found ${JSON.stringify(isObject(a) ? a.image_id : a)}`));
      continue;
    }
    p.annotations.push(annotationOf(a, where, categories, byInteger, issues));
  }
  for (const p of photos) if (p.annotations.length === 0) p.annotations.push({ ...EMPTY_ANNOTATION });
  return { photos, issues };
}
