import { readPhotoExif } from '../image/photo-exif.js';
import { invalidParameterError } from '../util/errors.js';
import type { DetailSource } from './catalog-types.js';

/** A GPS position in decimal degrees. */
export interface Position {
  latitude: number;
  longitude: number;
}

/** A detail of a photo with where it came from (null value: unknown, null source). */
export interface Sourced<T> {
  value: T | null;
  source: DetailSource | null;
}

/**
 * Checks a position a person gave: both coordinates or neither, finite, within -90..90 and
 * -180..180.
 *
 * @param latitude - decimal degrees north, or null
 * @param longitude - decimal degrees east, or null
 * @returns the position, or null when neither was given
 * @throws {@link WhaleidError} naming the field and what was expected
 * @example
 * positionFields(-33.86, 151.21); // { latitude: -33.86, longitude: 151.21 }
 */
export function positionFields(latitude: unknown, longitude: unknown): Position | null {
  if (latitude === null && longitude === null) return null;
  const check = (field: string, v: unknown, limit: number): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > limit) throw invalidParameterError(field, `a number of degrees between -${limit} and ${limit} (given with ${field === 'latitude' ? 'longitude' : 'latitude'})`, v);
    return v;
  };
  return { latitude: check('latitude', latitude, 90), longitude: check('longitude', longitude, 180) };
}

/**
 * Completes what a person gave about a photo with its camera's EXIF: the date taken and the GPS
 * position, each marked with its source. A person's value always wins (a camera's clock is often
 * wrong, and a person correcting it must not be overruled).
 *
 * @param bytes - the photo's bytes
 * @param given - the date and position a person gave (null: not given)
 * @returns date and position with their sources
 * @example
 * const { takenOn, position } = await withExif(bytes, { takenOn: null, position: null });
 * // takenOn: { value: '2021-07-03T09:15:30', source: 'exif' }
 */
export async function withExif(bytes: Buffer, given: { takenOn: string | null; position: Position | null }): Promise<{ takenOn: Sourced<string>; position: Sourced<Position> }> {
  const exif = given.takenOn !== null && given.position !== null ? null : await readPhotoExif(bytes);
  const exifPosition = exif?.latitude != null && exif.longitude != null ? { latitude: exif.latitude, longitude: exif.longitude } : null;
  const pick = <T>(mine: T | null, camera: T | null): Sourced<T> => (mine !== null ? { value: mine, source: 'user' } : camera !== null ? { value: camera, source: 'exif' } : { value: null, source: null });
  return { takenOn: pick(given.takenOn, exif?.takenAt ?? null), position: pick(given.position, exifPosition) };
}
