import { WhaleidError } from '../util/errors.js';

/** What `--scope` may name: what must match the test photo's own (species, a compatible viewpoint, the same location id). Here, not in scoped-predictions.ts, so the command line reads it without loading the CSV reader. */
export const SCOPE_MATCHES = ['species', 'viewpoint', 'location'] as const;
export type ScopeMatch = (typeof SCOPE_MATCHES)[number];

/**
 * Checks `--scope`'s names: each of species, viewpoint, location, once.
 *
 * @param names - the comma list as given
 * @returns the names
 * @throws {@link WhaleidError} naming the unknown or repeated one
 * @example
 * checkScopeMatches(['species', 'viewpoint']);
 */
export function checkScopeMatches(names: readonly string[]): ScopeMatch[] {
  const seen = new Set<string>();
  for (const n of names) {
    if (!(SCOPE_MATCHES as readonly string[]).includes(n)) throw new WhaleidError(`--scope: unknown '${n}' (expected any of ${SCOPE_MATCHES.join(', ')}, comma-separated)`);
    if (seen.has(n)) throw new WhaleidError(`--scope: ${n} given twice`);
    seen.add(n);
  }
  return [...seen] as ScopeMatch[];
}
