/**
 * The open-set protocol ({@link evaluateOpenSet}) for every matcher from one scoring pass: the
 * Siamese and local scores of the protocol's queries against its gallery are computed once;
 * the fusion is fitted on the calibration part's queries (the same part that calibrates each
 * matcher's new-individual threshold), so the test part's figures never saw their answers.
 */
import type { CropRequest } from '../image/crop.js';
import { fitFusion, type FusionModel } from '../infer/fusion/fusion-model.js';
import { matcherOf, type MatcherKind } from '../infer/matchers/matcher-registry.js';
import { NEW_WHALE } from '../data/labels.js';
import { evaluateOpenSet, planOpenSet, type OpenSetPlanOptions, type OpenSetResult } from './open-set.js';
import { neededSides, photoScoreMatrix, scoreGallery, type MatcherSides } from '../infer/fusion/gallery-scores.js';

/** Results per matcher, and the fusion fitted for `fused`. */
export interface MatchedOpenSetResult {
  results: Partial<Record<MatcherKind, OpenSetResult>>;
  fusion?: FusionModel;
}

/**
 * Runs the open-set protocol with each matcher asked for.
 *
 * @param photos - labelled photos
 * @param requests - the crop of each photo
 * @param kinds - matchers to measure
 * @param sides - the Siamese score matrix and/or the local side
 * @param options - the protocol's shares and seed
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
  options: OpenSetPlanOptions = {},
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
  const fusion = kinds.some((k) => matcherOf(k).calibration.fusion) ? fitFusion(calibration.map(({ q, k }) => ({ scores: g.scores[k], truth: q.truth === NEW_WHALE ? -1 : g.individuals.indexOf(q.truth) }))) : undefined;
  const results: MatchedOpenSetResult['results'] = {};
  for (const kind of kinds) {
    const matrix = photoScoreMatrix(kind, g, fusion);
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
  return { results, fusion };
}
