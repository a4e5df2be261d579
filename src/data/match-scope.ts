/**
 * Scoped matching: which gallery photos a query may be matched against. One set of rules for the
 * service (catalog photos), the shard scorers and `whaleid predict --scope` (a dataset's photo
 * details), so a scope means the same everywhere.
 *
 * The rules:
 * - **Species**: a query of a known species is matched only against photos of that species
 *   (never against another, nor against photos whose species nobody recorded: they could be
 *   any). A query of unknown species ('') is matched against every species, unless the request
 *   names one (`species`), which it may only when the query's own is unknown or the same.
 *   Species compare case-insensitively, `_` read as a space (`Megaptera_novaeangliae` is
 *   `megaptera novaeangliae`).
 * - **Viewpoint** (on unless `viewpoint: 'any'`): see {@link viewpointsCompatible}.
 * - **Location** (optional): photos with this location id only (exact text).
 * - **Radius** (optional, km): photos whose GPS position is within `km` of the query's
 *   (haversine on a 6371 km sphere); photos without a position are out. The query needs one.
 * - **Dates** (optional): photos taken from `from` to `to` (inclusive days), or within `days`
 *   days of the query's date (the query needs one); photos without a date are out.
 */
import { invalidParameterError, WhaleidError } from '../util/errors.js';

/** What a person or a program asks for (API querystring, review page, predict's options). */
export interface ScopeRequest {
  /** The species to match when the query's own is unknown (it may not differ from a known one). */
  species?: string;
  /** `compatible` (default): compatible viewpoints only; `any`: every viewpoint. */
  viewpoint?: 'compatible' | 'any';
  /** A location id: photos at that location only. */
  location?: string;
  /** Kilometres around the query's GPS position. */
  km?: number;
  /** Days before and after the query's date. */
  days?: number;
  /** First day (YYYY-MM-DD, inclusive). */
  from?: string;
  /** Last day (YYYY-MM-DD, inclusive). */
  to?: string;
}

/** What a scope reads of a photo (the query, or a gallery photo). */
export interface ScopedPhoto {
  species: string;
  viewpoint: string;
  location: string | null;
  latitude: number | null;
  longitude: number | null;
  /** YYYY-MM-DD, optionally with a time (only the day counts). */
  takenOn: string | null;
}

/** A scope resolved against its query: every value explicit (what the API reports as applied). */
export interface MatchScope {
  /** The species candidates must have (normalised, see {@link normalSpecies}); null: any. */
  species: string | null;
  /** The query's viewpoint candidates must be compatible with (normalised); null: any. */
  viewpoint: string | null;
  location: string | null;
  /** The query's position and the radius. */
  near: { latitude: number; longitude: number; km: number } | null;
  /** Inclusive days, YYYY-MM-DD; null: open. */
  from: string | null;
  to: string | null;
}

/** A scope that admits every photo. */
export const NO_SCOPE: MatchScope = { species: null, viewpoint: null, location: null, near: null, from: null, to: null };

/** True when the scope admits every photo (nothing to filter). */
export const isOpenScope = (s: MatchScope): boolean => s.species === null && s.viewpoint === null && s.location === null && s.near === null && s.from === null && s.to === null;

/**
 * A species as compared: trimmed, lower case, `_` and runs of spaces read as one space.
 *
 * @example
 * normalSpecies(' Megaptera_novaeangliae'); // 'megaptera novaeangliae'
 */
export function normalSpecies(s: string): string {
  return s.trim().toLowerCase().replace(/[_\s]+/g, ' ');
}

/**
 * A viewpoint as compared: lower case without spaces, `-` or `_` (`front left` is `frontleft`).
 *
 * @example
 * normalViewpoint('Front-Left'); // 'frontleft'
 */
export function normalViewpoint(v: string): string {
  return v.trim().toLowerCase().replace(/[\s_-]+/g, '');
}

const PARTS = ['up', 'down', 'front', 'back', 'left', 'right'] as const;
const OPPOSITE: Record<string, string> = { up: 'down', down: 'up', front: 'back', back: 'front', left: 'right', right: 'left' };

/** Wildbook's composite viewpoint as its parts (`upfrontleft` -> up, front, left), or null for another word. */
function partsOf(v: string): Set<string> | null {
  const parts = new Set<string>();
  for (let at = 0; at < v.length; ) {
    const p = PARTS.find((w) => v.startsWith(w, at));
    if (!p || parts.has(p) || parts.has(OPPOSITE[p])) return null;
    parts.add(p);
    at += p.length;
  }
  return parts.size ? parts : null;
}

const sideOf = (parts: Set<string>): string | null => (parts.has('left') ? 'left' : parts.has('right') ? 'right' : null);

/**
 * Whether a candidate's viewpoint may be matched with a query's. The table:
 *
 * | query \ candidate | rule |
 * |---|---|
 * | unknown ('') on either side | compatible (nothing to go by) |
 * | the same word | compatible (`fluke` with `fluke`, `dorsal` with `dorsal`) |
 * | both with a side (Wildbook's `left`, `frontleft`, `backleft`, `upleft`...) | compatible when the side is the same: `left` with `frontleft` and `backleft`, never `left` with `right` |
 * | otherwise Wildbook composites (`front`, `up`, `upfront`, `frontleft`...) | compatible when one's parts include the other's (`front` with `frontleft` and `upfront`), never `front` with `back` |
 * | any other word (`fluke`, `dorsal`, `ventral`...) | only the same word: `fluke` never with `left` |
 *
 * @param query - the query's viewpoint (any spelling {@link normalViewpoint} reads)
 * @param candidate - the candidate's
 * @returns whether they are compatible (symmetric)
 * @example
 * viewpointsCompatible('left', 'backleft'); // true
 * viewpointsCompatible('left', 'right'); // false
 */
export function viewpointsCompatible(query: string, candidate: string): boolean {
  const a = normalViewpoint(query);
  const b = normalViewpoint(candidate);
  if (a === '' || b === '' || a === b) return true;
  const pa = partsOf(a);
  const pb = partsOf(b);
  if (!pa || !pb) return false;
  const sa = sideOf(pa);
  const sb = sideOf(pb);
  if (sa && sb) return sa === sb;
  const within = (x: Set<string>, y: Set<string>): boolean => [...x].every((p) => y.has(p));
  return within(pa, pb) || within(pb, pa);
}

/**
 * Whether a candidate's species is in scope: the same species when the scope names one.
 *
 * @param scope - the resolved scope
 * @param species - the candidate's species ('' unknown)
 * @returns true when admitted
 */
export function speciesInScope(scope: MatchScope, species: string): boolean {
  return scope.species === null || normalSpecies(species) === scope.species;
}

/**
 * Great-circle distance in km (haversine, mean Earth radius 6371 km).
 *
 * @example
 * haversineKm(0, 0, 0, 1); // 111.19...
 */
export function haversineKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * The latitude and longitude box around a scope's circle: a database narrows by it (an index
 * range), {@link haversineKm} decides. The longitude span is the whole circle near the poles or
 * across the antimeridian (then null: no longitude bound).
 */
export function boundingBox(near: NonNullable<MatchScope['near']>): { minLat: number; maxLat: number; lon: { min: number; max: number } | null } {
  const dLat = near.km / 111.19; // a hair more than 1 degree of latitude per 111.2 km: the box only narrows
  const minLat = near.latitude - dLat;
  const maxLat = near.latitude + dLat;
  const cos = Math.cos((Math.max(Math.abs(minLat), Math.abs(maxLat)) * Math.PI) / 180);
  const dLon = cos > 1e-6 ? dLat / cos : 360;
  const lon = minLat <= -90 || maxLat >= 90 || dLon >= 180 || near.longitude - dLon < -180 || near.longitude + dLon > 180 ? null : { min: near.longitude - dLon, max: near.longitude + dLon };
  return { minLat, maxLat, lon };
}

/** The day of a date text (its first 10 characters), or null. */
const dayOf = (d: string | null): string | null => (d && /^\d{4}-\d{2}-\d{2}/.test(d) ? d.slice(0, 10) : null);

/**
 * Whether a gallery photo is in a query's scope (the rules of this module, in one place: the
 * catalog's SQL reads the same rules, see `gallery-read.ts`).
 *
 * @param scope - the resolved scope
 * @param p - the candidate photo
 * @returns true when admitted
 * @example
 * photoInScope(resolveScope({}, query), galleryPhoto);
 */
export function photoInScope(scope: MatchScope, p: ScopedPhoto): boolean {
  if (!speciesInScope(scope, p.species)) return false;
  if (scope.viewpoint !== null && !viewpointsCompatible(scope.viewpoint, p.viewpoint)) return false;
  if (scope.location !== null && p.location !== scope.location) return false;
  if (scope.near) {
    if (p.latitude === null || p.longitude === null) return false;
    if (haversineKm(scope.near.latitude, scope.near.longitude, p.latitude, p.longitude) > scope.near.km) return false;
  }
  if (scope.from !== null || scope.to !== null) {
    const day = dayOf(p.takenOn);
    if (day === null || (scope.from !== null && day < scope.from) || (scope.to !== null && day > scope.to)) return false;
  }
  return true;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A checked calendar day YYYY-MM-DD. */
function dayField(field: string, v: unknown): string {
  const m = typeof v === 'string' ? DAY.exec(v) : null;
  if (!m || new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).toISOString().slice(0, 10) !== v) throw invalidParameterError(`scope ${field}`, 'a day YYYY-MM-DD', v);
  return v as string;
}

const addDays = (day: string, n: number): string => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/**
 * Checks a request's values alone (before any query is read): one-line errors naming the field.
 *
 * @param r - the request
 * @returns the request
 * @throws {@link WhaleidError} naming the field and what was expected
 * @example
 * checkScopeRequest({ km: -1 }); // throws: Expected a positive number of km for scope km but received -1
 */
export function checkScopeRequest(r: ScopeRequest): ScopeRequest {
  if (r.viewpoint !== undefined && r.viewpoint !== 'compatible' && r.viewpoint !== 'any') throw invalidParameterError('scope viewpoint', "'compatible' or 'any'", r.viewpoint);
  if (r.km !== undefined && !(typeof r.km === 'number' && Number.isFinite(r.km) && r.km > 0)) throw invalidParameterError('scope km', 'a positive number of km', r.km);
  if (r.days !== undefined && !(Number.isSafeInteger(r.days) && r.days >= 0)) throw invalidParameterError('scope days', 'a whole number of days, 0 or more', r.days);
  if (r.from !== undefined) dayField('from', r.from);
  if (r.to !== undefined) dayField('to', r.to);
  if (r.from !== undefined && r.to !== undefined && r.from > r.to) throw new WhaleidError(`scope from (${r.from}) is after to (${r.to})`);
  if (r.days !== undefined && (r.from !== undefined || r.to !== undefined)) throw new WhaleidError('scope: give days (around the photo\'s date) or from/to, not both');
  for (const f of ['species', 'location'] as const) if (r[f] !== undefined && (typeof r[f] !== 'string' || r[f].trim() === '' || r[f].length > 500)) throw invalidParameterError(`scope ${f}`, 'a non-empty text of at most 500 characters', r[f]);
  return r;
}

/**
 * Resolves a request against its query photo: the query's species and viewpoint, its position
 * for a radius, its date for `days`.
 *
 * @param r - the request ({} : species and compatible viewpoint only)
 * @param query - the query photo's details
 * @param name - how errors name the query (e.g. `photo 42`)
 * @returns the scope, every value explicit
 * @throws {@link WhaleidError} for a bad value, a species other than the query's known one, or a radius or days for a query without a position or a date
 * @example
 * resolveScope({ km: 50 }, { species: 'humpback', viewpoint: 'fluke', location: null, latitude: 64.1, longitude: -21.9, takenOn: '2019-07-04' }, 'photo 42');
 */
export function resolveScope(r: ScopeRequest, query: ScopedPhoto, name: string): MatchScope {
  checkScopeRequest(r);
  const own = normalSpecies(query.species);
  const asked = r.species === undefined ? '' : normalSpecies(r.species);
  if (own && asked && asked !== own) throw new WhaleidError(`scope species: ${name} is ${query.species}; it is never matched against another species (${r.species})`);
  const species = own || asked || null;
  const viewpoint = r.viewpoint === 'any' || normalViewpoint(query.viewpoint) === '' ? null : normalViewpoint(query.viewpoint);
  let near: MatchScope['near'] = null;
  if (r.km !== undefined) {
    if (query.latitude === null || query.longitude === null) throw new WhaleidError(`scope km: ${name} has no GPS position to measure ${r.km} km from`);
    near = { latitude: query.latitude, longitude: query.longitude, km: r.km };
  }
  let from = r.from ?? null;
  let to = r.to ?? null;
  if (r.days !== undefined) {
    const day = dayOf(query.takenOn);
    if (day === null) throw new WhaleidError(`scope days: ${name} has no date to count ${r.days} days from`);
    from = addDays(day, -r.days);
    to = addDays(day, r.days);
  }
  return { species, viewpoint, location: r.location ?? null, near, from, to };
}

/**
 * The scope as one line for people (predict's messages, logs).
 *
 * @example
 * describeScope({ ...NO_SCOPE, species: 'humpback' }); // 'species humpback'
 */
export function describeScope(s: MatchScope): string {
  const parts: string[] = [];
  if (s.species !== null) parts.push(`species ${s.species}`);
  if (s.viewpoint !== null) parts.push(`viewpoint compatible with ${s.viewpoint}`);
  if (s.location !== null) parts.push(`location ${s.location}`);
  if (s.near) parts.push(`within ${s.near.km} km of ${s.near.latitude},${s.near.longitude}`);
  if (s.from !== null || s.to !== null) parts.push(`taken ${s.from ?? '...'} to ${s.to ?? '...'}`);
  return parts.length ? parts.join(', ') : 'every photo';
}
