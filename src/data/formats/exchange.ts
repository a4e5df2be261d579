import { createHash } from 'node:crypto';
import type { DataIssue } from '../issues.js';

/**
 * The data model the photo-ID field shares (../shared/reference/formats.md), as whaleid's
 * exchange formats read and write it: media assets (photos) holding annotations (one animal
 * each), with the individual, date, position, place and sighting. Every format of this folder
 * converts between its file and these records; the catalog converts between them and its tables.
 */

/** One animal in a photo. */
export interface ExchangeAnnotation {
  uuid: string | null;
  /** Pixels: top-left corner, width, height; null: the whole photo. */
  box: { x: number; y: number; w: number; h: number } | null;
  /** Rotation in radians. */
  theta: number;
  /** Species or IA class; '' when unknown. */
  species: string;
  viewpoint: string;
  /** The individual by display name (and uuid when known); null: not identified. */
  individual: { name: string; uuid: string | null } | null;
  /** Where a reader found it (its row or JSON path), for messages. */
  from?: { file: string; line?: number; path?: string };
}

/** One photo (a media asset) with its annotations. */
export interface ExchangePhoto {
  /** Its file, relative to the folder of photos that comes with the file (a plain name). */
  file: string;
  uuid: string | null;
  /** As the file states them (checked against the photo itself on import), else null. */
  width: number | null;
  height: number | null;
  /** ISO 8601 date, optionally with a time. */
  takenOn: string | null;
  latitude: number | null;
  longitude: number | null;
  /** Location id or place name. */
  location: string | null;
  /** The sighting (Wildbook occurrence) it belongs to; photos sharing one were one sighting. */
  sighting: string | null;
  annotations: ExchangeAnnotation[];
  /** Where it was read from, for messages: the file and its row (1-based, counting the header) or JSON path. */
  from: { file: string; line?: number; path?: string };
}

/** What a format read: the photos, and every problem found (nothing is written when there is one). */
export interface ExchangeRead {
  photos: ExchangePhoto[];
  issues: DataIssue[];
}

/** The catalog's dataset metadata an archive carries (Darwin Core's eml.xml). */
export interface ExchangeMeta {
  title: string;
  creator: string;
  /** A licence GBIF accepts: CC0-1.0, CC-BY-4.0 or CC-BY-NC-4.0. */
  license: string;
}

/**
 * A stable uuid for a record that has none stored: a name-based uuid (version 5 layout) from a
 * SHA-256 of its key, so an export names the same photo, annotation or individual alike every
 * time and an import into another catalog keeps it.
 *
 * @param kind - what it names (`photo`, `annotation`, `individual`)
 * @param key - what identifies it (a photo's SHA-256, an individual's name)
 * @returns a lower-case uuid
 * @example
 * derivedUuid('individual', 'Salt'); // 'xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx'
 */
export function derivedUuid(kind: string, key: string): string {
  const h = createHash('sha256').update(`whaleid:${kind}:${key}`).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** An annotation that says nothing (no box, individual, species, viewpoint, rotation or uuid): a photo's placeholder. */
export function isEmptyAnnotation(a: ExchangeAnnotation): boolean {
  return a.box === null && a.individual === null && a.species === '' && a.viewpoint === '' && a.theta === 0 && a.uuid === null;
}

/** The placeholder annotation of a photo that has none in the file. */
export const EMPTY_ANNOTATION: ExchangeAnnotation = { uuid: null, box: null, theta: 0, species: '', viewpoint: '', individual: null };

/**
 * A file name read from a file is used inside the folder of photos only: a plain relative path,
 * no `..`, no absolute path, no backslash.
 *
 * @param name - the name as the file gives it
 * @returns why it is refused, or null when it is fine
 * @example
 * unsafeMediaName('../etc/passwd'); // 'expected a file name inside the photo folder (no .., no absolute path)'
 */
export function unsafeMediaName(name: string): string | null {
  if (name === '' || name.startsWith('/') || name.includes('\\') || /^[a-z]:/i.test(name) || name.split('/').some((p) => p === '..' || p === '' || p === '.')) return 'expected a file name inside the photo folder (no .., no absolute path)';
  return null;
}

/**
 * One problem of a row or field, as `whaleid validate` reports it.
 *
 * @param from - where the record was read
 * @param field - the column or JSON field
 * @param message - what was expected
 * @returns an error issue
 * @example
 * rowIssue({ file: 'a.csv', line: 3 }, 'Encounter.year', 'expected a year');
 */
export function rowIssue(from: { file: string; line?: number; path?: string }, field: string, message: string): DataIssue {
  return { severity: 'error', file: from.file, ...(from.line !== undefined ? { line: from.line } : {}), field: from.path ? `${from.path}.${field}` : field, message };
}

/**
 * A position as a file gives it: both coordinates within range, or neither. A bad one is
 * reported (through `report`, with the field at fault) and dropped, so it is reported once, at
 * its row.
 *
 * @param latitude - decimal degrees north, or null
 * @param longitude - decimal degrees east, or null
 * @param report - called with the field and why, for a bad position
 * @returns the position, or nulls
 * @example
 * checkedPosition(95, 10, (f, why) => console.log(f, why)); // latitude expected -90..90, found 95
 */
export function checkedPosition(latitude: number | null, longitude: number | null, report: (field: 'latitude' | 'longitude', why: string) => void): { latitude: number | null; longitude: number | null } {
  const none = { latitude: null, longitude: null };
  if (latitude === null && longitude === null) return none;
  if (latitude === null || longitude === null) {
    report(latitude === null ? 'latitude' : 'longitude', 'expected the latitude and the longitude together, or neither');
    return none;
  }
  if (Math.abs(latitude) > 90) report('latitude', `expected decimal degrees between -90 and 90, found ${latitude}`);
  if (Math.abs(longitude) > 180) report('longitude', `expected decimal degrees between -180 and 180, found ${longitude}`);
  return Math.abs(latitude) > 90 || Math.abs(longitude) > 180 ? none : { latitude, longitude };
}
