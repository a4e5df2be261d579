import type { DataIssue } from '../issues.js';
import { checkedPosition, rowIssue, unsafeMediaName, type ExchangeAnnotation, type ExchangePhoto, type ExchangeRead } from './exchange.js';

/**
 * Wildbook's bulk-import spreadsheet (its "standard format"): one row per encounter (one animal
 * seen in a photo), columns named `Class.field`. whaleid writes one row per annotation, its photo
 * in `Encounter.mediaAsset0`, and keeps what Wildbook's columns do not hold (the box, rotation,
 * viewpoint, uuids, the exact time) in `Annotation.*`, `MediaAsset.uuid`, `MarkedIndividual.uuid`
 * and `Encounter.verbatimEventDate`, so a round trip loses nothing. The same rows serve the CSV
 * and the .xlsx.
 */

/** The columns whaleid writes, in order. */
export const WILDBOOK_COLUMNS = [
  'Encounter.mediaAsset0', 'MediaAsset.uuid', 'Encounter.individualID', 'MarkedIndividual.uuid', 'Encounter.genus', 'Encounter.specificEpithet',
  'Encounter.year', 'Encounter.month', 'Encounter.day', 'Encounter.hour', 'Encounter.minutes', 'Encounter.verbatimEventDate',
  'Encounter.decimalLatitude', 'Encounter.decimalLongitude', 'Encounter.locationID', 'Occurrence.occurrenceID',
  'Annotation.uuid', 'Annotation.x', 'Annotation.y', 'Annotation.width', 'Annotation.height', 'Annotation.theta', 'Annotation.viewpoint',
] as const;

/** Columns holding numbers (written as numbers in .xlsx, never neutralised as formulas). */
export const NUMERIC_COLUMNS: ReadonlySet<string> = new Set(['Encounter.year', 'Encounter.month', 'Encounter.day', 'Encounter.hour', 'Encounter.minutes',
  'Encounter.decimalLatitude', 'Encounter.decimalLongitude', 'Annotation.x', 'Annotation.y', 'Annotation.width', 'Annotation.height', 'Annotation.theta']);

/** Columns read besides {@link WILDBOOK_COLUMNS}: Wildbook's other name for the individual, and more media assets. */
const ALIASES: Record<string, string> = { 'markedindividual.individualid': 'Encounter.individualID' };
const MORE_MEDIA = /^encounter\.mediaasset([1-9]\d*)$/i;

/** The column of each field of a photo (rows of one photo must agree on them). */
const PHOTO_COLUMN = { uuid: 'MediaAsset.uuid', takenOn: 'Encounter.verbatimEventDate', latitude: 'Encounter.decimalLatitude', longitude: 'Encounter.decimalLongitude', location: 'Encounter.locationID', sighting: 'Occurrence.occurrenceID' } as const;

/** A sheet's row: cells by column, as text ('' for empty). */
export type SheetRow = Record<string, string>;

const num = (v: number | null): string => (v === null ? '' : String(v));

/** `2019-07-04T10:31:05` -> year, month, day, hour, minutes as Wildbook's columns hold them. */
function dateParts(d: string | null): string[] {
  const m = d ? /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/.exec(d) : null;
  return m ? [1, 2, 3, 4, 5].map((k) => (m[k] === undefined ? '' : String(Number(m[k])))) : ['', '', '', '', ''];
}

/**
 * The rows of a sheet: one per annotation (a photo without any, one row).
 *
 * @param photos - the photos with their annotations (uuids filled in)
 * @returns the rows, cells as text, in {@link WILDBOOK_COLUMNS}
 * @example
 * const rows = wildbookRows(photos);
 */
export function wildbookRows(photos: readonly ExchangePhoto[]): SheetRow[] {
  const rows: SheetRow[] = [];
  for (const p of photos) {
    for (const a of p.annotations) {
      const cut = a.species.indexOf(' ');
      const [year, month, day, hour, minutes] = dateParts(p.takenOn);
      const cells = [
        p.file, p.uuid ?? '', a.individual?.name ?? '', a.individual?.uuid ?? '', cut < 0 ? a.species : a.species.slice(0, cut), cut < 0 ? '' : a.species.slice(cut + 1),
        year, month, day, hour, minutes, p.takenOn ?? '', num(p.latitude), num(p.longitude), p.location ?? '', p.sighting ?? '',
        a.uuid ?? '', num(a.box?.x ?? null), num(a.box?.y ?? null), num(a.box?.w ?? null), num(a.box?.h ?? null), String(a.theta), a.viewpoint,
      ];
      rows.push(Object.fromEntries(WILDBOOK_COLUMNS.map((c, i) => [c, cells[i]])));
    }
  }
  return rows;
}

/** A number cell: '' is null; anything else must be a finite number. */
function numberCell(row: SheetRow, column: string, from: { file: string; line: number }, issues: DataIssue[], integer = false): number | null {
  const v = (row[column] ?? '').trim();
  if (v === '') return null;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    issues.push(rowIssue(from, column, `expected ${integer ? 'a whole number' : 'a number'}, found ${JSON.stringify(v)}`));
    return null;
  }
  return n;
}

/** The date of a row: `Encounter.verbatimEventDate` when it is ISO 8601, else composed from year, month, day, hour and minutes. */
function dateOf(row: SheetRow, from: { file: string; line: number }, issues: DataIssue[]): string | null {
  const verbatim = (row['Encounter.verbatimEventDate'] ?? '').trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(verbatim)) return verbatim;
  const before = issues.length;
  const [y, mo, d, h, mi] = ['year', 'month', 'day', 'hour', 'minutes'].map((f) => numberCell(row, `Encounter.${f}`, from, issues, true));
  // a cell reported already is not reported again as missing
  if ((y === null && mo === null && d === null) || issues.length > before) return null;
  if (y === null || mo === null || d === null) {
    issues.push(rowIssue(from, y === null ? 'Encounter.year' : mo === null ? 'Encounter.month' : 'Encounter.day', 'expected Encounter.year, Encounter.month and Encounter.day together (whaleid keeps whole dates)'));
    return null;
  }
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${String(y).padStart(4, '0')}-${p2(mo)}-${p2(d)}${h !== null ? `T${p2(h)}:${p2(mi ?? 0)}` : ''}`;
}

/** The annotation a row describes. */
function annotationOf(row: SheetRow, from: { file: string; line: number }, issues: DataIssue[]): ExchangeAnnotation {
  const [x, y, w, h] = ['x', 'y', 'width', 'height'].map((f) => numberCell(row, `Annotation.${f}`, from, issues));
  const given = [x, y, w, h].filter((v) => v !== null).length;
  if (given !== 0 && given !== 4) issues.push(rowIssue(from, 'Annotation.x', 'expected Annotation.x, .y, .width and .height together, or none (the whole photo)'));
  const name = (row['Encounter.individualID'] ?? '').trim();
  const uuid = (row['MarkedIndividual.uuid'] ?? '').trim();
  return {
    uuid: (row['Annotation.uuid'] ?? '').trim() || null, box: given === 4 ? { x: x!, y: y!, w: w!, h: h! } : null,
    theta: numberCell(row, 'Annotation.theta', from, issues) ?? 0,
    species: [row['Encounter.genus'] ?? '', row['Encounter.specificEpithet'] ?? ''].map((s) => s.trim()).filter((s) => s !== '').join(' '),
    viewpoint: (row['Annotation.viewpoint'] ?? '').trim(), individual: name || uuid ? { name: name || uuid, uuid: uuid || null } : null, from,
  };
}

/** The header as whaleid names its columns (Wildbook's are matched whatever their case), with what it does not read. */
function canonicalHeader(header: readonly string[], file: string, issues: DataIssue[]): string[] {
  const known = new Map(WILDBOOK_COLUMNS.map((c) => [c.toLowerCase(), c as string]));
  return header.map((h) => {
    const key = h.trim().toLowerCase();
    const name = known.get(key) ?? ALIASES[key] ?? (MORE_MEDIA.test(key) ? `Encounter.mediaAsset${MORE_MEDIA.exec(key)![1]}` : null);
    if (name === null && h.trim() !== '') issues.push({ severity: 'warning', file, field: h, message: 'column not read by whaleid (left out)' });
    return name ?? '';
  });
}

/**
 * Reads a sheet's rows into photos: rows naming the same `Encounter.mediaAsset0` are one photo's
 * annotations (their date, position, place and sighting must agree); `Encounter.mediaAsset1`...
 * are further photos of the encounter's animal, whole. Every bad cell is reported (row, column,
 * what was expected); rows are numbered as a spreadsheet shows them (the header is row 1).
 *
 * @param header - the header row as in the file
 * @param cells - the data rows, cells as text
 * @param file - the file's name, for messages
 * @returns the photos and the issues
 * @example
 * const { photos, issues } = readWildbookRows(['Encounter.mediaAsset0'], [['a.jpg']], 'import.csv');
 */
export function readWildbookRows(header: readonly string[], cells: readonly (readonly string[])[], file: string): ExchangeRead {
  const issues: DataIssue[] = [];
  const columns = canonicalHeader(header, file, issues);
  if (!columns.includes('Encounter.mediaAsset0')) return { photos: [], issues: [...issues, { severity: 'fatal', file, line: 1, message: 'expected an Encounter.mediaAsset0 column (the photo of each row)' }] };
  const photos = new Map<string, ExchangePhoto>();
  for (const [i, raw] of cells.entries()) {
    const from = { file, line: i + 2 };
    const row: SheetRow = {};
    columns.forEach((c, k) => { if (c) row[c] = raw[k] ?? ''; });
    if (Object.values(row).every((v) => v.trim() === '')) continue;
    const { latitude: lat, longitude: lon } = checkedPosition(numberCell(row, 'Encounter.decimalLatitude', from, issues), numberCell(row, 'Encounter.decimalLongitude', from, issues),
      (field, why) => issues.push(rowIssue(from, field === 'latitude' ? 'Encounter.decimalLatitude' : 'Encounter.decimalLongitude', why)));
    const takenOn = dateOf(row, from, issues);
    const annotation = annotationOf(row, from, issues);
    const media = Object.keys(row).filter((c) => /^Encounter\.mediaAsset\d+$/.test(c) && row[c].trim() !== '').sort((a, b) => Number(a.slice(20)) - Number(b.slice(20)));
    if (!media.includes('Encounter.mediaAsset0')) issues.push(rowIssue(from, 'Encounter.mediaAsset0', 'expected the file name of the photo'));
    for (const column of media) {
      const name = row[column].trim();
      const unsafe = unsafeMediaName(name);
      if (unsafe) issues.push(rowIssue(from, column, unsafe));
      const fields = { uuid: column === 'Encounter.mediaAsset0' ? (row['MediaAsset.uuid'] ?? '').trim() || null : null, takenOn, latitude: lat, longitude: lon, location: (row['Encounter.locationID'] ?? '').trim() || null, sighting: (row['Occurrence.occurrenceID'] ?? '').trim() || null };
      const a = column === 'Encounter.mediaAsset0' ? annotation : { ...annotation, uuid: null, box: null, theta: 0 };
      const known = photos.get(name);
      if (!known) {
        photos.set(name, { file: name, width: null, height: null, ...fields, annotations: [a], from });
        continue;
      }
      for (const [k, v] of Object.entries(fields) as [keyof typeof fields, string | number | null][]) {
        if (v !== null && known[k] !== null && known[k] !== v) issues.push(rowIssue(from, PHOTO_COLUMN[k], `the photo ${name} has ${JSON.stringify(known[k])} in row ${known.from.line} (rows of one photo must agree)`));
        if (v !== null && known[k] === null) (known as unknown as Record<string, unknown>)[k] = v;
      }
      known.annotations.push(a);
    }
  }
  return { photos: [...photos.values()], issues };
}
