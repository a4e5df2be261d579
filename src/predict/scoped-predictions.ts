/**
 * `whaleid predict --scope`: each test photo is matched only against the known photos in its
 * scope (match-scope.ts), read from the dataset's per-photo details (photo-details-csv.ts).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describeScope, photoInScope, resolveScope, type MatchScope, type ScopedPhoto } from '../data/match-scope.js';
import { PHOTO_DETAILS_FILE, readPhotoDetails, type DetailColumn } from '../data/photo-details-csv.js';
import { WhaleidError } from '../util/errors.js';
import type { PhotoCandidate } from './identify.js';
import type { ScopeMatch } from './scope-options.js';

/** predict's scope options. */
export interface PredictScope {
  /** What must match the test photo's (`--scope species,viewpoint`). */
  match: readonly ScopeMatch[];
  /** Known photos within this many km of the test photo's position (`--scope-km`). */
  km?: number;
  /** Known photos within this many days of the test photo's date (`--scope-days`). */
  days?: number;
  /** The details CSV (`--photo-details`); default `<data>/photo_details.csv`. */
  detailsFile?: string;
}

/** Per test photo, the known photos in its scope. */
export interface ScopeMasks {
  /** Per query: 1 for each known photo in its scope, in the known photos' order. */
  masks: Uint8Array[];
  /** Per query: its resolved scope. */
  scopes: MatchScope[];
}

/**
 * The columns a scope reads.
 *
 * @param s - the scope options
 * @returns the details columns needed
 */
export function scopeColumns(s: PredictScope): DetailColumn[] {
  const cols: DetailColumn[] = [...s.match];
  if (s.km !== undefined) cols.push('latitude', 'longitude');
  if (s.days !== undefined) cols.push('date');
  return cols;
}

/**
 * Resolves each test photo's scope and marks the known photos in it. A test photo that lacks
 * what its scope needs (a location, a position, a date) is an error naming it: scoping it to
 * nothing or to everything would both be silent.
 *
 * @param s - the scope options
 * @param root - the dataset's root (where photo_details.csv is by default)
 * @param known - the known photos, by name
 * @param queries - the test photos, by name
 * @returns per query, its scope and mask
 * @throws {@link WhaleidError} for a missing details file or column, a bad cell, or a test photo without what its scope needs
 * @example
 * const { masks } = await scopeMasks({ match: ['species', 'viewpoint'] }, 'data', known, queries);
 */
export async function scopeMasks(s: PredictScope, root: string, known: readonly { image: string }[], queries: readonly { image: string }[]): Promise<ScopeMasks> {
  const file = s.detailsFile ?? path.join(root, PHOTO_DETAILS_FILE);
  if (!existsSync(file)) throw new WhaleidError(`${file}: no such file; --scope reads each photo's details from a CSV with Image and ${scopeColumns(s).join(', ')} columns (--photo-details names another)`);
  const details = await readPhotoDetails(file, scopeColumns(s));
  const knownDetails: ScopedPhoto[] = known.map((k) => details.of(k.image));
  const byKey = new Map<string, Uint8Array>();
  const masks: Uint8Array[] = [];
  const scopes: MatchScope[] = [];
  for (const q of queries) {
    const d = details.of(q.image);
    const name = `test photo ${q.image}`;
    if (s.match.includes('location') && d.location === null) throw new WhaleidError(`${name}: no location in ${file} (--scope location matches each test photo's own)`);
    if (s.km !== undefined && d.latitude === null) throw new WhaleidError(`${name}: no latitude and longitude in ${file} (--scope-km measures from each test photo's position)`);
    if (s.days !== undefined && d.takenOn === null) throw new WhaleidError(`${name}: no date in ${file} (--scope-days counts from each test photo's date)`);
    const resolved = resolveScope({ viewpoint: s.match.includes('viewpoint') ? 'compatible' : 'any', location: s.match.includes('location') ? d.location! : undefined, km: s.km, days: s.days }, d, name);
    const scope = s.match.includes('species') ? resolved : { ...resolved, species: null };
    // queries of one scope share a mask (a species and viewpoint scope has a handful)
    const key = JSON.stringify(scope);
    let mask = byKey.get(key);
    if (!mask) {
      mask = Uint8Array.from(knownDetails, (k) => (photoInScope(scope, k) ? 1 : 0));
      byKey.set(key, mask);
    }
    masks.push(mask);
    scopes.push(scope);
  }
  return { masks, scopes };
}

/**
 * A line for predict's log: how many known photos the scopes leave per test photo.
 *
 * @param m - the masks
 * @returns e.g. `scope: species, viewpoint: 12 to 310 known photos per test photo (median 140)`
 */
export function scopeSummary(m: ScopeMasks): string {
  const counts = m.masks.map((mask) => mask.reduce((a, b) => a + b, 0)).sort((a, b) => a - b);
  const kinds = new Set(m.scopes.map(describeScope));
  const example = kinds.size === 1 ? [...kinds][0] : `${kinds.size} scopes, e.g. ${m.scopes.length ? describeScope(m.scopes[0]) : ''}`;
  return `scope (${example}): ${counts[0] ?? 0} to ${counts[counts.length - 1] ?? 0} known photos per test photo (median ${counts[counts.length >> 1] ?? 0})`;
}

/**
 * The indices of the known photos a mask admits.
 *
 * @param mask - a query's mask
 * @returns the indices, ascending
 */
export function maskIndices(mask: Uint8Array): number[] {
  const out: number[] = [];
  for (let j = 0; j < mask.length; j++) if (mask[j]) out.push(j);
  return out;
}

/**
 * Groups queries by their mask (the same array for the same scope): the matchers that build an
 * index over the known photos build one per group.
 *
 * @param masks - per query
 * @returns groups of query indices with the known photo indices they are matched against
 */
export function groupsByMask(masks: readonly Uint8Array[]): { queries: number[]; known: number[] }[] {
  const groups = new Map<Uint8Array, number[]>();
  masks.forEach((m, qi) => {
    const g = groups.get(m) ?? [];
    g.push(qi);
    groups.set(m, g);
  });
  return [...groups].map(([m, queries]) => ({ queries, known: maskIndices(m) }));
}

/**
 * The top candidates (known photos) of each query among the known photos in its scope, as
 * identify lists them for `<out>.top.json`.
 *
 * @param scores - queries x known photos
 * @param picks - per query, the known photos in its scope
 * @param known - the known photos
 * @param queries - the queries
 * @param topK - candidates per query
 * @returns per query, its best known photos in scope
 */
export function scopedTop(scores: Float32Array, picks: readonly number[][], known: readonly { image: string; id: string }[], queries: readonly { image: string }[], topK: number): { image: string; candidates: PhotoCandidate[] }[] {
  const nk = known.length;
  return queries.map((q, qi) => {
    const at = (j: number): number => scores[qi * nk + j];
    const order = [...picks[qi]].sort((a, b) => at(b) - at(a) || a - b).slice(0, topK);
    return { image: q.image, candidates: order.map((j) => ({ id: known[j].id, image: known[j].image, score: at(j) })) };
  });
}
