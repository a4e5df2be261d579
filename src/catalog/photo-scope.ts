import { resolveScope, type MatchScope, type ScopeRequest } from '../data/match-scope.js';
import type { AnnotationsStore } from './annotations-store.js';
import type { AnnotationRecord, PhotoRecord } from './catalog-types.js';
import type { PhotosStore } from './photos-store.js';

/**
 * A catalog photo's scope: the request resolved against the photo's own species and viewpoint
 * (its first annotation's), location, position and date.
 *
 * @param catalog - reads the photo's annotations
 * @param photo - the query photo
 * @param request - what was asked ({}: same species, compatible viewpoint)
 * @param annotation - the photo's annotation asked about, whose species and viewpoint count (default: its first)
 * @returns the scope, every value explicit
 * @throws {@link WhaleidError} for a bad value, another species than the photo's, or a radius or days for a photo without a position or a date
 * @example
 * const scope = await photoScope(catalog, await catalog.photo(42), { km: 50 });
 */
export async function photoScope(catalog: Pick<AnnotationsStore, 'annotations'>, photo: PhotoRecord, request: ScopeRequest, annotation?: AnnotationRecord): Promise<MatchScope> {
  // an annotation asked for (identify one animal of the photo) is judged by its own species and viewpoint
  const [first] = annotation ? [annotation] : await catalog.annotations(photo.id);
  return resolveScope(request, {
    species: first?.species ?? '', viewpoint: first?.viewpoint ?? '', location: photo.location, latitude: photo.latitude, longitude: photo.longitude, takenOn: photo.takenOn,
  }, `photo ${photo.id}`);
}

/** What a scope cache reads of the catalog. */
export type ScopeSource = Pick<PhotosStore, 'inScope'> & { revision(): Promise<string> };

/**
 * The photos in scope, remembered per scope until the catalog changes: a reviewer's queries share
 * a few scopes (a species and a viewpoint), and reading one from a million-photo gallery costs
 * about half a second of CPU (SQLite, 1,000,000 photos), the revision one small query.
 *
 * @param catalog - the catalog (its scope read and revision)
 * @param size - scopes kept (the least recently used goes first)
 * @returns `inScope(scope)`, as the catalog's, cached
 * @example
 * const scopes = scopeCache(catalog);
 * const allowed = await scopes(scope);
 */
export function scopeCache(catalog: ScopeSource, size = 16): (scope: MatchScope) => Promise<Set<number>> {
  let revision = '';
  const held = new Map<string, Set<number>>();
  return async (scope) => {
    const now = await catalog.revision();
    if (now !== revision) {
      held.clear();
      revision = now;
    }
    const key = JSON.stringify(scope);
    const ids = held.get(key) ?? (await catalog.inScope(scope));
    held.delete(key);
    held.set(key, ids); // most recent last
    if (held.size > size) held.delete(held.keys().next().value!);
    return ids;
  };
}
