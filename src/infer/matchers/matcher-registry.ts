/**
 * The matchers, each declared once: how it describes a photo, how it turns a query's scores
 * into a ranking of individuals, how it is calibrated, and where it can run. Every other module
 * asks the registry what a matcher needs (`matcherOf(kind).describes.local`) instead of
 * switching on its name, so a new matcher is one entry here (the way onnxruntime registers
 * backends and wildlife-tools composes extractor -> similarity -> calibration -> fusion);
 * test/architecture.test.ts fails when a matcher's name is compared outside this folder.
 */
import { fusedScores, type FusionModel, type MatchScores } from '../fusion/fusion-model.js';
import { invalidParameterError, WhaleidError } from '../../util/errors.js';

/**
 * Which score identifies: the learned embedding's, the local-feature matcher's, learned models
 * and local fused, or several learned models fused without local.
 */
export type MatcherKind = 'siamese' | 'local' | 'fused' | 'fused-learned';

/** How a matcher is calibrated. */
export interface MatcherCalibrationNeeds {
  /**
   * The run's own validation calibrates it (its threshold is the run's): true for the learned
   * score; a matcher without one needs the calibration `evaluate-open --matcher` writes.
   */
  readonly byRun: boolean;
  /** Its ranking needs a fusion fitted on labelled queries (the calibration file holds it). */
  readonly fusion: boolean;
}

/** A matcher: extractor parts, similarity and calibration, and where it can run. */
export interface MatcherDefinition {
  readonly kind: MatcherKind;
  /** One line for help texts. */
  readonly about: string;
  /**
   * What describes a photo for it: the learned embedding (the run's features, stored per model
   * in the catalog) and/or the local features (keypoints and descriptors). The score it shows
   * beside its own always includes the learned one, so a run is needed either way.
   */
  readonly describes: { readonly embedding: boolean; readonly local: boolean };
  readonly calibration: MatcherCalibrationNeeds;
  /**
   * How many learned models (runs or imported model folders, `--model` repeated) it ranks with:
   * one, or several fused (the fusion fitted on all of them).
   */
  readonly models: { readonly min: number; readonly max: number };
  /** Its gallery can be split into shards scored by `whaleid worker` processes. */
  readonly sharded: boolean;
  /** It can answer the one-shot task (pairs, no calibration part to fit a fusion on). */
  readonly oneShot: boolean;
  /**
   * The score it ranks individuals by (a copy, free to change), from one query's per-individual
   * scores; with a fusion at hand, the fused score too (shown beside the others).
   */
  rank(s: MatchScores, fusion?: FusionModel): { score: Float64Array; fused?: Float64Array };
}

const withFused = (score: Float64Array, s: MatchScores, fusion?: FusionModel): { score: Float64Array; fused?: Float64Array } =>
  fusion ? { score, fused: fusedScores(fusion, s) } : { score };

const MATCHERS: Readonly<Record<MatcherKind, MatcherDefinition>> = Object.freeze({
  siamese: {
    kind: 'siamese',
    about: "the trained run's network (or an imported embedding model)",
    describes: { embedding: true, local: false },
    calibration: { byRun: true, fusion: false },
    models: { min: 1, max: 1 },
    sharded: true,
    oneShot: true,
    rank: (s, fusion) => withFused(Float64Array.from(s.siamese), s, fusion),
  },
  local: {
    kind: 'local',
    about: 'keypoints matched one-vs-many against the whole gallery (LNBNN, RANSAC-verified); no training',
    describes: { embedding: false, local: true },
    calibration: { byRun: false, fusion: false },
    models: { min: 1, max: 1 },
    sharded: false,
    oneShot: true,
    // the LNBNN score before verification, scaled far below any verified difference, only
    // orders the individuals verification left at 0
    rank: (s, fusion) => withFused(Float64Array.from(s.local, (v, i) => v + 1e-9 * s.localRaw[i]), s, fusion),
  },
  fused: {
    kind: 'fused',
    about: 'the learned model(s) (repeat --model to fuse several) and local, combined by a logistic regression fitted on held-out queries',
    describes: { embedding: true, local: true },
    calibration: { byRun: false, fusion: true },
    models: { min: 1, max: Infinity },
    sharded: false,
    oneShot: false,
    rank: (s, fusion) => byFusion('fused', s, fusion),
  },
  'fused-learned': {
    kind: 'fused-learned',
    about: 'several learned models (--model repeated: runs and/or imported models) without local, combined by a logistic regression fitted on held-out queries',
    describes: { embedding: true, local: false },
    calibration: { byRun: false, fusion: true },
    models: { min: 2, max: Infinity },
    sharded: false,
    oneShot: false,
    rank: (s, fusion) => byFusion('fused-learned', s, fusion),
  },
});

function byFusion(kind: MatcherKind, s: MatchScores, fusion?: FusionModel): { score: Float64Array; fused: Float64Array } {
  if (!fusion) throw new WhaleidError(`the ${kind} matcher needs a fitted fusion: the .matcher.json of evaluate-open --matcher ${kind}`);
  const fused = fusedScores(fusion, s);
  return { score: Float64Array.from(fused), fused };
}

/**
 * Refuses a number of learned models a matcher does not rank with, in one line.
 *
 * @param kind - the matcher
 * @param count - learned models given (`--model` repeated)
 * @throws {@link WhaleidError} naming the matchers that take that many
 * @example
 * checkModelCount('siamese', 2); // throws: --matcher siamese takes 1 --model; ...
 */
export function checkModelCount(kind: MatcherKind, count: number): void {
  const { min, max } = matcherOf(kind).models;
  if (count >= min && count <= max) return;
  const fits = MATCHER_KINDS.filter((k) => count >= MATCHERS[k].models.min && count <= MATCHERS[k].models.max);
  throw new WhaleidError(`--matcher ${kind} takes ${min === max ? min : `${min} or more`} --model, got ${count}${fits.length ? `; ${count} models are ranked by --matcher ${fits.join(' or ')}` : ''}`);
}

/** The matchers' names, for option checks, help texts and the API's schema. */
export const MATCHER_KINDS: readonly MatcherKind[] = Object.freeze(Object.keys(MATCHERS) as MatcherKind[]);

/**
 * A matcher's definition.
 *
 * @param kind - its name
 * @returns the definition
 * @throws {@link WhaleidError} for a name that is not a matcher
 * @example
 * matcherOf('fused').describes.local; // true: its photos need keypoints
 */
export function matcherOf(kind: string): MatcherDefinition {
  if (!Object.hasOwn(MATCHERS, kind)) throw invalidParameterError('--matcher', `one of ${MATCHER_KINDS.join(', ')}`, kind);
  return MATCHERS[kind as MatcherKind];
}

/**
 * The score sources a set of matchers needs, together.
 *
 * @param kinds - the matchers
 * @returns whether the learned embedding and the local features are needed
 * @example
 * describedBy(['siamese']); // { embedding: true, local: false }
 */
export function describedBy(kinds: readonly MatcherKind[]): { embedding: boolean; local: boolean } {
  return { embedding: kinds.some((k) => matcherOf(k).describes.embedding), local: kinds.some((k) => matcherOf(k).describes.local) };
}
