import path from 'node:path';
import { readCsvFile } from './csv-file.js';
import { WhaleidError } from '../util/errors.js';
import type { ScopedPhoto } from './match-scope.js';

/** The default name of a dataset's per-photo details, in its root folder. */
export const PHOTO_DETAILS_FILE = 'photo_details.csv';

/** Its columns besides `Image` (any subset, any order; names case-insensitive). */
export const DETAIL_COLUMNS = ['species', 'viewpoint', 'location', 'date', 'latitude', 'longitude'] as const;
export type DetailColumn = (typeof DETAIL_COLUMNS)[number];

/** A dataset's per-photo details, looked up by photo name. */
export interface PhotoDetails {
  readonly file: string;
  /** The columns the file has. */
  readonly columns: ReadonlySet<DetailColumn>;
  /** A photo's details (by its dataset name, then its file name); a photo without a row has none known. */
  of(image: string): ScopedPhoto;
}

const DAY = /^\d{4}-\d{2}-\d{2}(?:[T ].*)?$/;

/**
 * Reads a dataset's per-photo details for scoped matching (`whaleid predict --scope`): a CSV with
 * an `Image` column (the photo's name as train.csv or the folder layout names it, or its file
 * name) and any of `species`, `viewpoint`, `location`, `date` (YYYY-MM-DD), `latitude`,
 * `longitude` (decimal degrees). An empty cell is unknown.
 *
 * @param file - the CSV file
 * @param needed - the columns the scope needs (each must be in the header)
 * @returns the lookup
 * @throws {@link WhaleidError} naming the file, line and column: missing file or column, unknown column, a bad date or coordinate, an image listed twice
 * @example
 * const details = await readPhotoDetails('data/photo_details.csv', ['species']);
 * details.of('a.jpg').species;
 */
export async function readPhotoDetails(file: string, needed: readonly DetailColumn[]): Promise<PhotoDetails> {
  const table = await readCsvFile(file);
  const names = table.header.map((h) => h.trim().toLowerCase());
  const imageAt = names.indexOf('image');
  if (imageAt < 0) throw new WhaleidError(`${file}:1: no Image column (expected Image and any of ${DETAIL_COLUMNS.join(', ')})`);
  const at = new Map<DetailColumn, number>();
  names.forEach((n, i) => {
    if (i === imageAt) return;
    if (!(DETAIL_COLUMNS as readonly string[]).includes(n)) throw new WhaleidError(`${file}:1: unknown column '${table.header[i]}' (expected Image and any of ${DETAIL_COLUMNS.join(', ')})`);
    at.set(n as DetailColumn, i);
  });
  for (const c of needed) if (!at.has(c)) throw new WhaleidError(`${file}:1: no ${c} column, which the scope needs (columns: ${table.header.join(',')})`);
  const rows = new Map<string, ScopedPhoto>();
  for (const row of table.rows) {
    const cell = (c: DetailColumn): string => (at.has(c) ? (row.fields[at.get(c)!] ?? '').trim() : '');
    const where = `${file}:${row.line}`;
    const image = (row.fields[imageAt] ?? '').trim();
    if (!image) throw new WhaleidError(`${where}: Image: empty (expected the photo's name)`);
    if (rows.has(image)) throw new WhaleidError(`${where}: Image: ${image} is listed twice`);
    const coordinate = (c: 'latitude' | 'longitude', limit: number): number | null => {
      const text = cell(c);
      if (!text) return null;
      const v = Number(text);
      if (!Number.isFinite(v) || Math.abs(v) > limit) throw new WhaleidError(`${where}: ${c}: expected decimal degrees from -${limit} to ${limit} but found '${text.slice(0, 40)}'`);
      return v;
    };
    const date = cell('date');
    if (date && !DAY.test(date)) throw new WhaleidError(`${where}: date: expected YYYY-MM-DD but found '${date.slice(0, 40)}'`);
    const latitude = coordinate('latitude', 90);
    const longitude = coordinate('longitude', 180);
    if ((latitude === null) !== (longitude === null)) throw new WhaleidError(`${where}: latitude and longitude: give both or neither`);
    rows.set(image, { species: cell('species'), viewpoint: cell('viewpoint'), location: cell('location') || null, latitude, longitude, takenOn: date || null });
  }
  const none: ScopedPhoto = { species: '', viewpoint: '', location: null, latitude: null, longitude: null, takenOn: null };
  return { file, columns: new Set(at.keys()), of: (image) => rows.get(image) ?? rows.get(path.basename(image)) ?? none };
}
