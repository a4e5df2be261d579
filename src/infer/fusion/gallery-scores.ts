/**
 * Per-individual scores of queries against a gallery from both matchers, and what each matcher
 * (siamese, local, fused) makes of them: the common ground of prediction, the evaluation
 * protocols and the accuracy bench.
 */
import type { CropRequest } from '../../image/crop.js';
import path from 'node:path';
import { createImageCache, type ImageCache } from '../../image/image-cache.js';
import { describePhotos } from '../local/local-feature-store.js';
import { DEFAULT_LOCAL, localCropWidth, type LocalFeatures, type LocalSettings } from '../local/local-features.js';
import { createLocalMatcher, type LocalMatcher, type LocalMatcherOptions } from '../local/local-matcher.js';
import { loadOpenCv } from '../local/opencv.js';
import type { FusionModel, MatchScores } from './fusion-model.js';
import { describedBy, matcherOf, type MatcherKind } from '../matchers/matcher-registry.js';
import { WhaleidError } from '../../util/errors.js';

/** How to compute the local matcher's side. */
export interface LocalSide {
  /** Reduced greyscale copies, decoded at >= the keypoint crop's width. */
  cache: ImageCache;
  settings: LocalSettings;
  /** Folder of cached descriptions (see describePhotos). */
  cacheDir?: string;
  matcher?: LocalMatcherOptions;
  onProgress?: (done: number, total: number) => void;
}

/** Where local descriptions are cached inside a photo cache folder. */
export const LOCAL_CACHE_FOLDER = 'local-features';

/**
 * The local side for a photo cache folder: photos decoded at twice the keypoint crop's width
 * (sharp keypoints on the widest boxes), descriptions cached under `<cacheDir>/local-features`.
 *
 * @param cacheDir - the photo cache folder (none: nothing cached)
 * @param settings - keypoint settings
 * @param onProgress - progress of the descriptions
 * @returns the local side
 */
export function localSideFor(cacheDir: string | undefined, settings: LocalSettings = DEFAULT_LOCAL, onProgress?: (done: number, total: number) => void): LocalSide {
  return {
    cache: createImageCache({ dir: cacheDir, maxSide: 2 * localCropWidth(settings) }),
    settings,
    cacheDir: cacheDir ? path.join(cacheDir, LOCAL_CACHE_FOLDER) : undefined,
    onProgress,
  };
}

/** The score sources a gallery scoring may use. */
export interface MatcherSides {
  siamese?: GalleryScoreInput['siamese'];
  /** The other learned models' score matrices (the second `--model` on). */
  learned?: GalleryScoreInput['learned'];
  local?: LocalSide;
}

/**
 * The sources the matchers need, and only those: the learned embedding's matrix and/or the local
 * side, as the registry says each matcher describes photos.
 *
 * @param kinds - matchers asked for
 * @param sides - what the caller has
 * @returns the sides to score with
 * @throws {@link WhaleidError} naming what a matcher lacks
 */
export function neededSides(kinds: readonly MatcherKind[], sides: MatcherSides): MatcherSides {
  const { embedding: needSiamese, local: needLocal } = describedBy(kinds);
  if (needSiamese && !sides.siamese) throw new WhaleidError(`the matchers ${kinds.join(', ')} need a trained run (--model)`);
  if (needLocal && !sides.local) throw new WhaleidError(`the matchers ${kinds.join(', ')} need the local side (keypoints and descriptors)`);
  return { siamese: needSiamese ? sides.siamese : undefined, learned: needSiamese ? sides.learned : undefined, local: needLocal ? sides.local : undefined };
}

/** A learned model's scores of queries against gallery photos (queries x gallery photos, row-major). */
export type ScoreMatrixFunction = (queries: readonly CropRequest[], gallery: readonly CropRequest[]) => Promise<Float32Array>;

/** Queries scored against a gallery, per individual. */
export interface GalleryScores {
  /** Individual names: the order of every per-individual array. */
  individuals: string[];
  /** Individual number of each gallery photo. */
  individualOf: Int32Array;
  /** One entry per query. */
  scores: MatchScores[];
  /** The local matcher of the gallery, when local scores were computed (best photos, inliers). */
  local?: { matcher: LocalMatcher; matches: { bestPhoto: Int32Array; inliers: Int32Array }[] };
}

/** What {@link scoreGallery} needs. */
export interface GalleryScoreInput {
  queries: readonly CropRequest[];
  gallery: readonly CropRequest[];
  /** Individual of each gallery photo. */
  galleryIds: readonly string[];
  /** Siamese score matrix (queries x gallery photos, row-major); absent: Siamese scores stay 0. */
  siamese?: ScoreMatrixFunction;
  /** The other learned models' score matrices, each as `siamese` (several models fused); their scores go to `MatchScores.learned`. */
  learned?: readonly ScoreMatrixFunction[];
  /** Local side; absent: local scores stay 0. */
  local?: LocalSide;
  /**
   * Gallery photos a query must not see (leave-one-out: the query itself when it is in the
   * gallery; photos outside its gallery subset). Applied to both matchers.
   */
  skip?: (query: number, galleryPhoto: number) => boolean;
  /** Local features already computed (queries then gallery), to skip describing again. */
  features?: { queries: LocalFeatures[]; gallery: LocalFeatures[] };
}

/**
 * Scores every query against the gallery with the matchers asked for, per individual: the
 * Siamese score of an individual is its best photo's (as the walk takes it), the local score
 * comes from one local matcher over the whole gallery (described once, cached by content).
 *
 * @param input - queries, gallery, ids, matchers, skip rule
 * @returns per-query scores per individual
 * @throws {@link WhaleidError} when a photo cannot be read
 * @example
 * const g = await scoreGallery({ queries, gallery, galleryIds, siamese: scorer.scoreMatrix, local });
 */
export async function scoreGallery(input: GalleryScoreInput): Promise<GalleryScores> {
  const individuals = [...new Set(input.galleryIds)];
  const number = new Map(individuals.map((id, i) => [id, i]));
  const individualOf = Int32Array.from(input.galleryIds, (id) => number.get(id)!);
  const nq = input.queries.length;
  const ng = input.gallery.length;
  const n = individuals.length;
  const scores: MatchScores[] = Array.from({ length: nq }, () => ({ siamese: new Float64Array(n), local: new Float64Array(n), localRaw: new Float64Array(n) }));
  // per individual, its best photo's score, as the walk takes it
  const perIndividual = async (score: ScoreMatrixFunction, into: (q: number) => Float64Array): Promise<void> => {
    const m = await score(input.queries, input.gallery);
    for (let q = 0; q < nq; q++) {
      const s = into(q).fill(-Infinity);
      for (let g = 0; g < ng; g++) if (!input.skip?.(q, g)) s[individualOf[g]] = Math.max(s[individualOf[g]], m[q * ng + g]);
      for (let i = 0; i < n; i++) if (s[i] === -Infinity) s[i] = 0;
    }
  };
  if (input.siamese) await perIndividual(input.siamese, (q) => scores[q].siamese);
  for (const [k, score] of (input.learned ?? []).entries()) {
    await perIndividual(score, (q) => {
      scores[q].learned ??= [];
      return (scores[q].learned![k] = new Float64Array(n));
    });
  }
  let local: GalleryScores['local'];
  if (input.local) {
    const l = input.local;
    const features = input.features ?? {
      gallery: await describePhotos(l.cache, input.gallery, l.settings, { cacheDir: l.cacheDir, onProgress: l.onProgress }),
      queries: await describePhotos(l.cache, input.queries, l.settings, { cacheDir: l.cacheDir, onProgress: l.onProgress }),
    };
    const matcher = createLocalMatcher(await loadOpenCv(), features.gallery, input.galleryIds, l.matcher);
    // the matcher numbers individuals in first-seen order, as above
    const matches = features.queries.map((f, q) => {
      const r = matcher.match(f, input.skip ? (g) => input.skip!(q, g) : undefined);
      scores[q].local.set(r.verified);
      scores[q].localRaw.set(r.raw);
      return { bestPhoto: r.bestPhoto, inliers: r.inliers };
    });
    local = { matcher, matches };
  }
  return { individuals, individualOf, scores, local };
}

/**
 * A matcher's per-photo score matrix (queries x gallery photos): every photo carries its
 * individual's score, so the walk and the threshold sweep, which take each individual's best
 * photo, see exactly the matcher's per-individual scores. Skipped photos score -Infinity.
 *
 * @param kind - which matcher
 * @param g - the gallery scores
 * @param model - the fusion (for `fused`)
 * @param skip - photos a query must not see
 * @returns nq*ng scores
 * @throws {@link WhaleidError} for `fused` without a model
 */
export function photoScoreMatrix(kind: MatcherKind, g: GalleryScores, model?: FusionModel, skip?: (query: number, galleryPhoto: number) => boolean): Float32Array {
  const ng = g.individualOf.length;
  const out = new Float32Array(g.scores.length * ng);
  g.scores.forEach((s, q) => {
    const per = matcherOf(kind).rank(s, model).score;
    for (let p = 0; p < ng; p++) out[q * ng + p] = skip?.(q, p) ? -Infinity : per[g.individualOf[p]];
  });
  return out;
}
