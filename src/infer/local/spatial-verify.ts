import { openCvError, type Cv } from './opencv.js';

/** A tentative correspondence: a query keypoint, a catalog keypoint and its LNBNN weight. */
export interface PointMatch {
  qx: number;
  qy: number;
  cx: number;
  cy: number;
  weight: number;
}

/** Settings of {@link verifyMatches}. */
export interface VerifyOptions {
  /** Largest distance (crop pixels) between a mapped query keypoint and its match for an inlier. */
  reprojThreshold: number;
  /** Fewer inliers than this: the photo pair is not verified (all matches rejected). */
  minInliers: number;
  /**
   * Largest scale change the model may have (and its inverse the smallest): crops are already
   * normalised by their box, so a match that needs a 3x zoom is a coincidence.
   */
  maxScale: number;
  /** RANSAC iterations. */
  maxIters: number;
}

/** Default verification settings for a 256 px high keypoint crop. */
export const DEFAULT_VERIFY: Readonly<VerifyOptions> = Object.freeze({ reprojThreshold: 12, minInliers: 4, maxScale: 2, maxIters: 500 });

/** What verification kept. */
export interface Verification {
  /** Per match: consistent with the fitted model. */
  inliers: boolean[];
  /** The fitted affine map (query -> catalog crop), row-major 2x3; null when none was accepted. */
  model: number[] | null;
}

/**
 * Spatial verification of one query/catalog photo pair: fits an affine map from the query's
 * keypoints to their matches with RANSAC (OpenCV's estimateAffine2D, deterministic: OpenCV
 * seeds its RANSAC generator on every call) and keeps the matches it explains. A model that
 * mirrors the pattern or changes its scale beyond `maxScale` is refused, as are fewer than
 * `minInliers` inliers: then every match of the pair is rejected. Matches on scenery (grass,
 * water) rarely agree on one map with the animal's, so this is what removes most of the
 * background votes LNBNN lets through.
 *
 * @param cv - the OpenCV module
 * @param matches - correspondences of one photo pair
 * @param options - thresholds
 * @returns the inlier flags and the model
 * @example
 * const v = verifyMatches(cv, matches, DEFAULT_VERIFY);
 * v.inliers.filter(Boolean).length;
 */
export function verifyMatches(cv: Cv, matches: readonly PointMatch[], options: VerifyOptions = DEFAULT_VERIFY): Verification {
  const none: Verification = { inliers: matches.map(() => false), model: null };
  if (matches.length < Math.max(3, options.minInliers)) return none;
  const from = cv.matFromArray(matches.length, 1, cv.CV_32FC2, matches.flatMap((m) => [m.qx, m.qy]));
  const to = cv.matFromArray(matches.length, 1, cv.CV_32FC2, matches.flatMap((m) => [m.cx, m.cy]));
  const mask = new cv.Mat();
  let model: ReturnType<Cv['estimateAffine2D']> | null = null;
  try {
    model = cv.estimateAffine2D(from, to, mask, cv.RANSAC, options.reprojThreshold, options.maxIters, 0.99, 10);
    if (model.empty() || mask.rows !== matches.length) return none;
    const a = Array.from(model.data64F);
    if (!plausible(a, options.maxScale)) return none;
    const inliers = matches.map((_, i) => mask.data[i] !== 0);
    if (inliers.filter(Boolean).length < options.minInliers) return none;
    return { inliers, model: a };
  } catch (err) {
    throw openCvError(cv, err);
  } finally {
    from.delete();
    to.delete();
    mask.delete();
    model?.delete();
  }
}

/** No mirror image, scale within [1/maxScale, maxScale] along both axes. */
function plausible(a: readonly number[], maxScale: number): boolean {
  const det = a[0] * a[4] - a[1] * a[3];
  if (!(det > 0)) return false;
  // singular values of the 2x2 part
  const p = a[0] * a[0] + a[1] * a[1] + a[3] * a[3] + a[4] * a[4];
  const root = Math.sqrt(Math.max(0, p * p - 4 * det * det));
  const big = Math.sqrt((p + root) / 2);
  const small = Math.sqrt(Math.max(0, (p - root) / 2));
  return big <= maxScale && small >= 1 / maxScale;
}
