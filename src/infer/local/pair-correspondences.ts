/**
 * Explained matches: the keypoints of two photos that one affine map explains, the local
 * matcher's evidence for a match, as a reviewer can look at it (lines between the two crops).
 */
import type { PhotoRecord } from '../../catalog/catalog-types.js';
import { applyToPoint } from '../../image/affine.js';
import { invalidParameterError } from '../../util/errors.js';
import type { CatalogLocalFeatures } from './catalog-local-features.js';
import { DESCRIPTOR_LENGTH, keypointCount, localCropMatrix, type LocalFeatures } from './local-features.js';
import { loadOpenCv, type Cv } from './opencv.js';
import { DEFAULT_VERIFY, verifyMatches, type PointMatch, type VerifyOptions } from './spatial-verify.js';

/** One verified correspondence: a query point, its candidate point, and the match's weight. */
export interface Correspondence {
  /** x, y in the query's frame (keypoint crop pixels from {@link pairCorrespondences}, photo pixels from {@link photoCorrespondences}). */
  query: [number, number];
  /** x, y in the candidate's frame (as `query`). */
  candidate: [number, number];
  /** Distance to the second-nearest candidate descriptor minus the match's (> 0): how distinctive the match is. */
  weight: number;
}

/** What {@link pairCorrespondences} found for one photo pair. */
export interface PairCorrespondences {
  /** The matches the affine map explains, in query keypoint order (none when the pair is not verified). */
  inliers: Correspondence[];
  /** Tentative matches (nearest neighbours passing the ratio test) before spatial verification. */
  tentative: number;
  /** The fitted affine map (query -> candidate keypoint crop), row-major 2x3; null when none was accepted. */
  model: number[] | null;
}

/** Settings of {@link pairCorrespondences}. */
export interface PairOptions {
  /**
   * Lowe's ratio test: a query keypoint's nearest candidate descriptor is a tentative match when
   * it is closer than `ratio` times the second nearest. Default 0.8 (Lowe's): on the synthetic
   * flukes of the service tests (10 whales x 4 photos) it kept a median of 23 inliers for 41 pairs
   * of one whale and 0 (at most 20) for 94 pairs of two; 0.9 let more chance agreements through
   * (up to 30).
   */
  ratio?: number;
  /** Spatial verification (default the matcher's, {@link DEFAULT_VERIFY}). */
  verify?: VerifyOptions;
}

/**
 * The spatially verified keypoint correspondences of one photo pair: each query keypoint is
 * matched to its nearest candidate descriptor (exact search, ties to the lower keypoint number,
 * so the result is deterministic), kept when it passes the ratio test, and the tentative matches
 * are verified as the local matcher verifies a catalog photo ({@link verifyMatches}: one RANSAC
 * affine map, no mirror, bounded scale, at least `minInliers`). The matcher itself matches
 * against the whole catalog at once (LNBNN): its `inliers` for an individual's best photo and the
 * count here come from the same verification but not the same tentative matches, so they are
 * close, not equal.
 *
 * @param cv - the OpenCV module (for RANSAC)
 * @param query - the query photo's local features
 * @param candidate - the candidate photo's local features
 * @param options - ratio test and verification settings
 * @returns the inliers (keypoint crop pixels of each photo), the tentative count and the model
 * @throws {@link WhaleidError} when `ratio` is not in (0, 1]
 * @example
 * const r = pairCorrespondences(await loadOpenCv(), queryFeatures, candidateFeatures);
 * r.inliers.length; // verified keypoints; r.inliers[0].query -> r.inliers[0].candidate
 */
export function pairCorrespondences(cv: Cv, query: LocalFeatures, candidate: LocalFeatures, options: PairOptions = {}): PairCorrespondences {
  const ratio = options.ratio ?? 0.8;
  if (!(ratio > 0 && ratio <= 1)) throw invalidParameterError('ratio', 'a number in (0, 1]', ratio);
  const pairs: PointMatch[] = [];
  const n = keypointCount(candidate);
  if (n >= 2) {
    for (let q = 0; q < keypointCount(query); q++) {
      const [best, d1, d2] = nearestTwo(query.descriptors, q, candidate.descriptors, n);
      if (!(d1 < ratio * ratio * d2)) continue; // squared distances
      pairs.push({ qx: query.xy[2 * q], qy: query.xy[2 * q + 1], cx: candidate.xy[2 * best], cy: candidate.xy[2 * best + 1], weight: Math.round(1e4 * (Math.sqrt(d2) - Math.sqrt(d1))) / 1e4 });
    }
  }
  const v = verifyMatches(cv, pairs, options.verify ?? DEFAULT_VERIFY);
  const inliers = pairs.filter((_, i) => v.inliers[i]).map((m) => ({ query: [m.qx, m.qy] as [number, number], candidate: [m.cx, m.cy] as [number, number], weight: m.weight }));
  return { inliers, tentative: pairs.length, model: v.model };
}

/** The nearest and second-nearest candidate descriptors of query descriptor `q`: [index, squared distance, squared distance]. */
function nearestTwo(queries: Float32Array, q: number, candidates: Float32Array, n: number): [number, number, number] {
  let best = -1;
  let d1 = Infinity;
  let d2 = Infinity;
  const qo = q * DESCRIPTOR_LENGTH;
  for (let c = 0; c < n; c++) {
    const co = c * DESCRIPTOR_LENGTH;
    let d = 0;
    for (let j = 0; j < DESCRIPTOR_LENGTH && d < d2; j++) {
      const t = queries[qo + j] - candidates[co + j];
      d += t * t;
    }
    if (d < d1) {
      d2 = d1;
      d1 = d;
      best = c;
    } else if (d < d2) d2 = d;
  }
  return [best, d1, d2];
}

/**
 * The verified correspondences of two catalog photos, in each photo's original (upright) pixels:
 * their stored local features (described in memory when absent: the catalog is only read), matched by
 * {@link pairCorrespondences}, the keypoint crop positions mapped back through the crop
 * ({@link localCropMatrix}, each photo's own box), so they can be drawn on any view of the photo.
 *
 * @param local - the catalog's local features (its settings decide the crops)
 * @param query - the query photo
 * @param candidate - the candidate photo
 * @param options - ratio test and verification settings
 * @returns inliers in photo pixels, tentative count, the model (keypoint crop pixels)
 * @throws {@link WhaleidError} when a photo cannot be read
 * @example
 * const local = createCatalogLocalFeatures(catalog);
 * const r = await photoCorrespondences(local, await catalog.photo(7), await catalog.photo(12));
 */
export async function photoCorrespondences(local: Pick<CatalogLocalFeatures, 'peek' | 'settings'>, query: PhotoRecord, candidate: PhotoRecord, options: PairOptions = {}): Promise<PairCorrespondences> {
  const [qf, cf] = await local.peek([query, candidate]);
  const found = pairCorrespondences(await loadOpenCv(), qf, cf, options);
  const toPhoto = (p: PhotoRecord): ((xy: [number, number]) => [number, number]) => {
    const m = localCropMatrix(p, { box: p.box ?? undefined }, local.settings);
    return ([x, y]) => applyToPoint(m, x, y).map((v) => Math.round(v * 10) / 10) as [number, number];
  };
  const [fromQuery, fromCandidate] = [toPhoto(query), toPhoto(candidate)];
  return { ...found, inliers: found.inliers.map((c) => ({ query: fromQuery(c.query), candidate: fromCandidate(c.candidate), weight: c.weight })) };
}
