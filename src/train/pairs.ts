import type { Rng } from '../util/random.js';
import { solveLap } from './lap.js';

/** Cost of a forbidden cell (same whale, or a pair already mined in this group). */
export const FORBIDDEN_COST = 1e6;

/**
 * A random derangement of `items` (no element stays in its place), by rejection as the kernel
 * does; for 2+ items the expected number of shuffles is below 3.
 *
 * @param items - 2 or more items
 * @param rng - seeded generator
 * @returns a new array
 * @example
 * derangement([1, 2, 3], createRng(0)); // e.g. [3, 1, 2]
 */
export function derangement<T>(items: readonly T[], rng: Rng): T[] {
  if (items.length < 2) throw new Error('a derangement needs at least 2 items');
  for (;;) {
    const d = rng.shuffle([...items]);
    if (d.every((x, i) => x !== items[i])) return d;
  }
}

/** One epoch's pairs, as indices into the training photos. */
export interface EpochPairs {
  matches: [number, number][];
  unmatches: [number, number][];
}

/**
 * Mines training pairs for the epochs of one schedule group, exactly as the method:
 * - matching pairs: per whale, its photos paired with a random derangement of them;
 * - non-matching pairs: linear assignment on cost = -(S + K * U[0,1)) with same-whale cells
 *   forbidden; after each epoch the chosen cells (and their mirrors) are forbidden too, so later
 *   epochs of the group pick other hard pairs.
 *
 * With `viewOf`, matching pairs are drawn within each (whale, view) group only: animals whose
 * two sides carry different marks (left and right flanks) are never shown as "same" from photos
 * of different sides; non-matching pairs still never pair two photos of one whale.
 *
 * @param score - n*n score matrix of the training photos (not modified)
 * @param whaleOf - whale index of each training photo
 * @param K - noise amplitude
 * @param rng - seeded generator (noise, derangements, shuffles)
 * @param viewOf - optional view index of each training photo (e.g. 0 left flank, 1 right)
 * @returns a function giving the next epoch's pairs (both lists shuffled, n pairs each)
 * @example
 * const next = createPairMiner(S, whaleOf, 1.0, rng);
 * const { matches, unmatches } = next();
 */
export function createPairMiner(score: Float32Array, whaleOf: Int32Array, K: number, rng: Rng, viewOf?: Int32Array): () => EpochPairs {
  const n = whaleOf.length;
  const cost = new Float32Array(n * n);
  for (let i = 0; i < n * n; i++) cost[i] = -(score[i] + K * rng.next());
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) members.set(whaleOf[i], [...(members.get(whaleOf[i]) ?? []), i]);
  for (const idx of members.values()) for (const i of idx) for (const j of idx) cost[i * n + j] = FORBIDDEN_COST;
  // groups that matching pairs are drawn from: whales, or (whale, view) when views are given
  const matchGroups = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const key = viewOf ? `${whaleOf[i]}/${viewOf[i]}` : String(whaleOf[i]);
    matchGroups.set(key, [...(matchGroups.get(key) ?? []), i]);
  }
  return () => {
    const matches: [number, number][] = [];
    for (const idx of matchGroups.values()) {
      if (idx.length < 2) continue;
      const d = derangement(idx, rng);
      idx.forEach((i, k) => matches.push([i, d[k]]));
    }
    const { rowToCol } = solveLap(cost, n);
    const unmatches: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const j = rowToCol[i];
      // Only possible when one whale holds over half the photos: such a pair is no negative.
      if (whaleOf[i] !== whaleOf[j]) unmatches.push([i, j]);
      cost[i * n + j] = FORBIDDEN_COST;
      cost[j * n + i] = FORBIDDEN_COST;
    }
    rng.shuffle(matches);
    rng.shuffle(unmatches);
    return { matches, unmatches };
  };
}
