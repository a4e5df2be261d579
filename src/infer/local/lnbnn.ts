import type { Neighbours } from './descriptor-index.js';

/** One query keypoint's vote for one individual. */
export interface LnbnnMatch {
  /** Query keypoint number. */
  query: number;
  /** Global descriptor number of the catalog keypoint it matched (its nearest of that individual). */
  label: number;
  /** Catalog photo of that keypoint. */
  photo: number;
  /** Individual number of that photo. */
  individual: number;
  /** LNBNN weight: normaliser distance minus match distance (> 0). */
  weight: number;
}

/** Scores of one query against every individual. */
export interface LnbnnResult {
  /** Sum of the votes each individual got, by individual number. */
  scores: Float64Array;
  /** Every vote, in query-keypoint order. */
  matches: LnbnnMatch[];
}

/**
 * HotSpotter's LNBNN scoring (Crall et al. 2013, after McCann & Lowe's local naive Bayes
 * nearest neighbour): each query keypoint looks at its k nearest catalog descriptors and at the
 * (k+1)-th, whose distance is the normaliser: how far an unrelated descriptor lies in this part
 * of descriptor space. A neighbour closer than that votes for its individual with weight
 * `normaliser - distance`; only the nearest neighbour of each individual votes (one vote per
 * individual per query keypoint), so an individual with many photos of the same pattern does not
 * collect several votes from one keypoint. Distinctive keypoints (a clear gap to the normaliser)
 * weigh much; keypoints on common texture (grass, water: all neighbours alike) weigh almost
 * nothing, which is why LNBNN copes with background that a ratio test alone does not.
 *
 * @param neighbours - per query keypoint, its nearest catalog descriptors (k+1 wanted, fewer
 *   when the catalog is small: then the last one found is the normaliser)
 * @param photoOf - catalog photo of each descriptor label
 * @param individualOf - individual number of each catalog photo
 * @param individuals - number of individuals
 * @param k - voting neighbours (HotSpotter: 4)
 * @returns per-individual scores and the votes behind them
 * @example
 * const r = scoreLnbnn([{ labels: [0, 1], distances: [0.1, 0.5] }], Int32Array.of(0, 1), Int32Array.of(0, 1), 2, 1);
 * // r.scores: [0.4, 0]
 */
export function scoreLnbnn(neighbours: readonly Neighbours[], photoOf: Int32Array, individualOf: Int32Array, individuals: number, k: number): LnbnnResult {
  const scores = new Float64Array(individuals);
  const matches: LnbnnMatch[] = [];
  const voted = new Set<number>();
  neighbours.forEach((n, q) => {
    const found = n.labels.length;
    if (found < 2) return; // no normaliser: nothing to compare the match against
    const normAt = Math.min(k, found - 1);
    const norm = n.distances[normAt];
    voted.clear();
    for (let i = 0; i < normAt; i++) {
      const weight = norm - n.distances[i];
      if (!(weight > 0)) break; // ascending distances: no later neighbour can vote either
      const photo = photoOf[n.labels[i]];
      const individual = individualOf[photo];
      if (voted.has(individual)) continue;
      voted.add(individual);
      scores[individual] += weight;
      matches.push({ query: q, label: n.labels[i], photo, individual, weight });
    }
  });
  return { scores, matches };
}
