import { resolveScope, type MatchScope, type ScopeRequest } from '../data/match-scope.js';
import type { AnnotationsStore } from './annotations-store.js';
import type { PhotoRecord } from './catalog-types.js';

/**
 * A catalog photo's scope: the request resolved against the photo's own species and viewpoint
 * (its first annotation's), location, position and date.
 *
 * @param catalog - reads the photo's annotations
 * @param photo - the query photo
 * @param request - what was asked ({}: same species, compatible viewpoint)
 * @returns the scope, every value explicit
 * @throws {@link WhaleidError} for a bad value, another species than the photo's, or a radius or days for a photo without a position or a date
 * @example
 * const scope = await photoScope(catalog, await catalog.photo(42), { km: 50 });
 */
export async function photoScope(catalog: Pick<AnnotationsStore, 'annotations'>, photo: PhotoRecord, request: ScopeRequest): Promise<MatchScope> {
  const [first] = await catalog.annotations(photo.id);
  return resolveScope(request, {
    species: first?.species ?? '', viewpoint: first?.viewpoint ?? '', location: photo.location, latitude: photo.latitude, longitude: photo.longitude, takenOn: photo.takenOn,
  }, `photo ${photo.id}`);
}
