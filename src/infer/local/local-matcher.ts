import { buildDescriptorIndex, type DescriptorIndex, type DescriptorIndexOptions } from './descriptor-index.js';
import { DESCRIPTOR_LENGTH, keypointCount, type LocalFeatures } from './local-features.js';
import { scoreLnbnn, type LnbnnMatch } from './lnbnn.js';
import { DEFAULT_VERIFY, verifyMatches, type PointMatch, type VerifyOptions } from './spatial-verify.js';
import type { Cv } from './opencv.js';
import { invalidParameterError } from '../../util/errors.js';

/** Settings of the local matcher. */
export interface LocalMatcherOptions {
  /** Voting neighbours per query keypoint (the next one is the normaliser). Default 4 (HotSpotter's). */
  k?: number;
  /** Individuals spatially verified, the best by LNBNN score. Default 20. */
  shortlist?: number;
  verify?: VerifyOptions;
  index?: DescriptorIndexOptions;
}

/** One query's local scores against every catalog individual. */
export interface LocalMatch {
  /** LNBNN score per individual (before verification). */
  raw: Float64Array;
  /**
   * Verified score per individual: LNBNN weight of the matches that one affine map explains
   * (one vote per query keypoint); 0 outside the shortlist or when verification failed.
   */
  verified: Float64Array;
  /** Inliers of the individual's best verified photo (0 when none). */
  inliers: Int32Array;
  /** The individual's best verified photo (catalog photo number), -1 when none. */
  bestPhoto: Int32Array;
}

/** The catalog side of local matching: its descriptors in one index, and who is who. */
export interface LocalMatcher {
  /** Individual names, in the order of every per-individual array. */
  readonly individuals: readonly string[];
  /** Individual number of each catalog photo. */
  readonly individualOf: Int32Array;
  readonly index: DescriptorIndex;
  /**
   * Scores a query against the catalog.
   *
   * @param query - the query photo's local features
   * @param skipPhoto - catalog photos to leave out (the query itself, photos outside a gallery)
   */
  match(query: LocalFeatures, skipPhoto?: (photo: number) => boolean): LocalMatch;
}

/**
 * Builds the local matcher of a catalog: every photo's descriptors in one nearest-neighbour
 * index ({@link buildDescriptorIndex}); a query is then scored per individual by LNBNN
 * ({@link scoreLnbnn}) and its shortlist re-scored by spatial verification
 * ({@link verifyMatches}), photo by photo, keeping per query keypoint the best inlier weight of
 * each individual. This is HotSpotter's one-vs-many pipeline, on AKAZE keypoints.
 *
 * @param cv - the OpenCV module (for RANSAC)
 * @param features - local features of each catalog photo
 * @param ids - the individual of each catalog photo
 * @param options - LNBNN k, shortlist, verification and index settings
 * @returns the matcher
 * @throws {@link WhaleidError} when `features` and `ids` differ in length or a setting is out of range
 * @example
 * const m = createLocalMatcher(await loadOpenCv(), catalogFeatures, catalogIds);
 * const r = m.match(queryFeatures);
 * localRanking(r)[0]; // the best individual's number
 */
export function createLocalMatcher(cv: Cv, features: readonly LocalFeatures[], ids: readonly string[], options: LocalMatcherOptions = {}): LocalMatcher {
  if (features.length !== ids.length) throw invalidParameterError('ids', `one per photo (${features.length})`, ids.length);
  const individuals = [...new Set(ids)];
  const number = new Map(individuals.map((id, i) => [id, i]));
  return localMatcherOver(cv, buildDescriptorIndex(features, options.index), features, Int32Array.from(ids, (id) => number.get(id)!), individuals, options);
}

/**
 * A local matcher over an index built already (one that grows with a catalog): photo `p` of the
 * index has the features `features[p]` and belongs to individual `individualOf[p]`; photos with
 * a negative individual (no longer in the gallery, or described again after a box change) are
 * left out of every search. Building the view costs nothing: a catalog whose assignments change
 * gets a new view over the same index.
 *
 * @param cv - the OpenCV module (for RANSAC)
 * @param index - the descriptor index, photo numbers as in `features`
 * @param features - local features of each indexed photo
 * @param individualOf - individual number of each indexed photo (-1: left out)
 * @param individuals - individual names, by number
 * @param options - LNBNN k, shortlist and verification settings
 * @returns the matcher
 * @throws {@link WhaleidError} when the arrays do not fit the index or a setting is out of range
 * @example
 * const m = localMatcherOver(cv, index, features, Int32Array.of(0, 0, 1), ['a', 'b']);
 */
export function localMatcherOver(cv: Cv, index: DescriptorIndex, features: readonly LocalFeatures[], individualOf: Int32Array, individuals: readonly string[], options: LocalMatcherOptions = {}): LocalMatcher {
  if (features.length !== index.photos || individualOf.length !== index.photos) throw invalidParameterError('individualOf', `one per indexed photo (${index.photos})`, individualOf.length);
  const k = options.k ?? 4;
  const shortlist = options.shortlist ?? 20;
  if (!(Number.isInteger(k) && k >= 1 && k <= 50)) throw invalidParameterError('k', 'an integer between 1 and 50', k);
  if (!(Number.isInteger(shortlist) && shortlist >= 1)) throw invalidParameterError('shortlist', 'a positive integer', shortlist);
  const verify = options.verify ?? DEFAULT_VERIFY;
  const left = individualOf.some((i) => i < 0);
  return {
    individuals,
    individualOf,
    index,
    match(query, skipPhoto) {
      const n = keypointCount(query);
      const skip = left ? (p: number): boolean => individualOf[p] < 0 || (skipPhoto?.(p) ?? false) : skipPhoto;
      const neighbours = Array.from({ length: n }, (_, q) => index.search(query.descriptors.subarray(q * DESCRIPTOR_LENGTH, (q + 1) * DESCRIPTOR_LENGTH), k + 1, skip));
      const lnbnn = scoreLnbnn(neighbours, index.photoOf, individualOf, individuals.length, k);
      const out: LocalMatch = {
        raw: lnbnn.scores,
        verified: new Float64Array(individuals.length),
        inliers: new Int32Array(individuals.length),
        bestPhoto: new Int32Array(individuals.length).fill(-1),
      };
      const top = rankBy(lnbnn.scores, new Float64Array(individuals.length)).slice(0, shortlist).filter((i) => lnbnn.scores[i] > 0);
      const byIndividual = new Map<number, LnbnnMatch[]>(top.map((i) => [i, []]));
      for (const m of lnbnn.matches) byIndividual.get(m.individual)?.push(m);
      const keypointOf = index.keypointOf;
      for (const [individual, matches] of byIndividual) verifyIndividual(cv, query, features, keypointOf, matches, verify, individual, out);
      return out;
    },
  };
}

/** Verifies an individual's matches photo by photo and records its verified score and best photo. */
function verifyIndividual(cv: Cv, query: LocalFeatures, features: readonly LocalFeatures[], keypointOf: Int32Array, matches: readonly LnbnnMatch[], verify: VerifyOptions, individual: number, out: LocalMatch): void {
  const byPhoto = new Map<number, LnbnnMatch[]>();
  for (const m of matches) byPhoto.set(m.photo, [...(byPhoto.get(m.photo) ?? []), m]);
  const bestPerKeypoint = new Map<number, number>();
  let bestWeight = 0;
  for (const [photo, ms] of byPhoto) {
    const xy = features[photo].xy;
    const pairs: PointMatch[] = ms.map((m) => {
      const c = keypointOf[m.label];
      return { qx: query.xy[2 * m.query], qy: query.xy[2 * m.query + 1], cx: xy[2 * c], cy: xy[2 * c + 1], weight: m.weight };
    });
    const { inliers } = verifyMatches(cv, pairs, verify);
    let weight = 0;
    let count = 0;
    ms.forEach((m, i) => {
      if (!inliers[i]) return;
      weight += m.weight;
      count++;
      bestPerKeypoint.set(m.query, Math.max(bestPerKeypoint.get(m.query) ?? 0, m.weight));
    });
    if (weight > bestWeight) {
      bestWeight = weight;
      out.bestPhoto[individual] = photo;
      out.inliers[individual] = count;
    }
  }
  let sum = 0;
  for (const w of bestPerKeypoint.values()) sum += w;
  out.verified[individual] = sum;
}

/** Individual numbers by descending `primary`, then descending `secondary`, then number. */
function rankBy(primary: Float64Array, secondary: Float64Array): number[] {
  return Array.from(primary, (_, i) => i).sort((a, b) => primary[b] - primary[a] || secondary[b] - secondary[a] || a - b);
}

/**
 * The individuals of a local match, best first: by verified score, then (for those verification
 * did not reach or rejected) by LNBNN score.
 *
 * @param m - a query's local match
 * @returns individual numbers, best first
 * @example
 * const best = matcher.individuals[localRanking(matcher.match(q))[0]];
 */
export function localRanking(m: LocalMatch): number[] {
  return rankBy(m.verified, m.raw);
}

/**
 * One number per individual that orders them as {@link localRanking} does: the verified score,
 * plus the LNBNN score scaled far below any verified difference (1e-9), which only breaks ties
 * among individuals that verification did not score. This is what the walk and the threshold use.
 *
 * @param m - a query's local match
 * @returns a score per individual
 */
export function localScores(m: LocalMatch): Float64Array {
  return Float64Array.from(m.verified, (v, i) => v + 1e-9 * m.raw[i]);
}
