/**
 * The open-set protocol ({@link evaluateOpenSet}) for every matcher from one scoring pass: the
 * Siamese and local scores of the protocol's queries against its gallery are computed once;
 * the fusion is fitted on the calibration part's queries (the same part that calibrates each
 * matcher's new-individual threshold), so the test part's figures never saw their answers.
 */
import type { CropRequest } from '../image/crop.js';
import { fitFusion, type FusionModel, type FusionSample } from '../infer/fusion/fusion-model.js';
import { matcherOf, type MatcherKind } from '../infer/matchers/matcher-registry.js';
import { NEW_WHALE } from '../data/labels.js';
import { evaluateOpenSet, planOpenSet, type OpenSetPlanOptions, type OpenSetResult } from './open-set.js';
import { neededSides, photoScoreMatrix, scoreGallery, type MatcherSides } from '../infer/fusion/gallery-scores.js';

/** Results per matcher, and the fusion fitted for each matcher that ranks by one. */
export interface MatchedOpenSetResult {
  results: Partial<Record<MatcherKind, OpenSetResult>>;
  /** The first fusion fitted (the matchers' order). */
  fusion?: FusionModel;
  fusions: Partial<Record<MatcherKind, FusionModel>>;
}

/**
 * Fits the fusion of each matcher that ranks by one, on calibration queries: over every learned
 * model the sides score with, and the local score where the matcher describes photos by it.
 *
 * @param kinds - the matchers
 * @param samples - the calibration queries' scores and truths
 * @param models - learned models scored
 * @param modelVersions - their versions, stored with each fusion (optional)
 * @returns the fusion per matcher that needs one
 */
export function fitMatcherFusions(kinds: readonly MatcherKind[], samples: readonly FusionSample[], models: number, modelVersions?: string[]): Partial<Record<MatcherKind, FusionModel>> {
  const fusions: Partial<Record<MatcherKind, FusionModel>> = {};
  for (const kind of kinds) {
    const m = matcherOf(kind);
    if (m.calibration.fusion) fusions[kind] = fitFusion(samples, { shape: { models, local: m.describes.local }, modelVersions });
  }
  return fusions;
}

/**
 * Runs the open-set protocol with each matcher asked for.
 *
 * @param photos - labelled photos
 * @param requests - the crop of each photo
 * @param kinds - matchers to measure
 * @param sides - the Siamese score matrix and/or the local side
 * @param options - the protocol's shares and seed; the learned models' versions (stored with the fusion)
 * @returns the protocol's result per matcher
 * @throws {@link WhaleidError} when a matcher's side is missing or the plan cannot be drawn
 * @example
 * const r = await evaluateOpenSetMatchers(photos, requests, ['local'], { local }, { seed: 1 });
 * r.results.local?.test.map5;
 */
export async function evaluateOpenSetMatchers(
  photos: readonly { image: string; id: string }[],
  requests: readonly CropRequest[],
  kinds: readonly MatcherKind[],
  sides: MatcherSides,
  options: OpenSetPlanOptions & { modelVersions?: string[] } = {},
): Promise<MatchedOpenSetResult> {
  const used = neededSides(kinds, sides);
  const plan = planOpenSet(photos.map((p) => p.id), options);
  // the order evaluateOpenSet asks its score matrix for: calibration queries first
  const ordered = [...plan.queries.filter((q) => q.part === 'calibration'), ...plan.queries.filter((q) => q.part === 'test')];
  const g = await scoreGallery({
    queries: ordered.map((q) => requests[q.index]),
    gallery: plan.gallery.map((i) => requests[i]),
    galleryIds: plan.gallery.map((i) => photos[i].id),
    ...used,
  });
  const calibration = ordered.map((q, k) => ({ q, k })).filter(({ q }) => q.part === 'calibration');
  const models = used.siamese ? 1 + (used.learned?.length ?? 0) : 0;
  const fusions = fitMatcherFusions(kinds, calibration.map(({ q, k }) => ({ scores: g.scores[k], truth: q.truth === NEW_WHALE ? -1 : g.individuals.indexOf(q.truth) })), models, options.modelVersions);
  const results: MatchedOpenSetResult['results'] = {};
  for (const kind of kinds) {
    const matrix = photoScoreMatrix(kind, g, fusions[kind]);
    results[kind] = await evaluateOpenSet(
      photos,
      async (queries, gallery) => {
        if (queries.length !== ordered.length || queries.some((q, k) => q !== ordered[k].index) || gallery.some((p, k) => p !== plan.gallery[k])) {
          throw new Error('open-set plan differs between the scoring pass and the protocol');
        }
        return matrix;
      },
      options,
    );
  }
  return { results, fusion: kinds.map((k) => fusions[k]).find((f) => f !== undefined), fusions };
}
