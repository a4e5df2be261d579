/**
 * When two photos belong to one sighting (an encounter, in Wildbook's words): the rule the
 * catalog groups photos by at upload and import. A person can always move a photo to another
 * sighting; the rule only spares them doing it for every photo.
 */

/** Photos farther apart than this (km, on the same day) are different sightings. */
export const SIGHTING_RADIUS_KM = 5;

/** What the rule looks at of a photo. */
export interface SightingFacts {
  takenOn: string | null;
  latitude: number | null;
  longitude: number | null;
  location: string | null;
}

/**
 * Great-circle distance (haversine) between two positions.
 *
 * @param a - first position in decimal degrees
 * @param b - second position
 * @returns kilometres
 * @example
 * distanceKm({ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 1 }); // 111.19...
 */
export function distanceKm(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(h)));
}

const day = (p: SightingFacts): string | null => p.takenOn?.slice(0, 10) ?? null;
const place = (p: SightingFacts): string => (p.location ?? '').trim().toLowerCase();
const positionOf = (p: SightingFacts): { latitude: number; longitude: number } | null => (p.latitude !== null && p.longitude !== null ? { latitude: p.latitude, longitude: p.longitude } : null);

/**
 * Whether two photos show one sighting. Taken on different days: never. With both positions
 * known: when within {@link SIGHTING_RADIUS_KM}. Otherwise photos of one upload (a day's card
 * from one boat) are one sighting, and photos of different uploads only when taken the same day
 * at the same named place.
 *
 * @param a - one photo's date, position and place name
 * @param b - the other's
 * @param sameUpload - whether they came in one upload
 * @returns true when they belong together
 * @example
 * sameSighting({ takenOn: '2021-07-03', latitude: null, longitude: null, location: 'Bay' },
 *              { takenOn: '2021-07-03T10:00', latitude: null, longitude: null, location: 'bay' }, false); // true
 */
export function sameSighting(a: SightingFacts, b: SightingFacts, sameUpload: boolean): boolean {
  const [da, db] = [day(a), day(b)];
  if (da !== null && db !== null && da !== db) return false;
  if ((da === null || db === null) && !sameUpload) return false;
  const [pa, pb] = [positionOf(a), positionOf(b)];
  if (pa && pb) return distanceKm(pa, pb) <= SIGHTING_RADIUS_KM;
  if (sameUpload) return true;
  return place(a) !== '' && place(a) === place(b);
}
