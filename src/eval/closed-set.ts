/**
 * Closed-set identification, leave one out, with every matcher from one scoring pass: each
 * photo whose individual has another photo in the gallery is a query against all the other
 * photos. The individuals are split into a calibration part (where the fusion is fitted) and a
 * test part (where the figures come from), so the fused matcher is never measured on the
 * queries it was fitted on. With a view pattern (nyala's left|right flanks) a query only sees
 * gallery photos of its own view: the honest figure where photos of one sighting share their
 * background.
 */
import type { CropRequest } from '../image/crop.js';
import { ranksOf, type FusionModel } from '../infer/fusion/fusion-model.js';
import { fitMatcherFusions } from './matched-open-set.js';
import { matcherOf, type MatcherKind } from '../infer/matchers/matcher-registry.js';
import { createRng } from '../util/random.js';
import { WhaleidError } from '../util/errors.js';
import { neededSides, scoreGallery, type MatcherSides } from '../infer/fusion/gallery-scores.js';

/** Options of {@link evaluateClosedSet}. */
export interface ClosedSetOptions {
  /** Share of the individuals whose queries fit the fusion. Default 0.3. */
  calibrationShare?: number;
  /** Seed of the individuals' split. Default 0. */
  seed?: number;
  /** The view of a photo from its name (first match); queries then only see their own view. */
  view?: RegExp;
  /** Only these photos are queries (default: every photo with another of its individual in view). */
  queries?: readonly number[];
}

/** Figures of one matcher on the test queries. */
export interface ClosedSetFigures {
  top1: number;
  top5: number;
  map5: number;
  queries: number;
}

/** What {@link evaluateClosedSet} measured. */
export interface ClosedSetResult {
  /** Per matcher asked for. */
  figures: Partial<Record<MatcherKind, ClosedSetFigures>>;
  /** The fusion fitted on the calibration queries (when `fused` was asked for). */
  fusion?: FusionModel;
  calibrationQueries: number;
  individuals: { calibration: number; test: number };
}

/**
 * Runs the closed-set protocol on labelled photos.
 *
 * @param photos - labelled photos (`image` for the view pattern)
 * @param requests - the crop of each photo
 * @param kinds - matchers to measure
 * @param sides - the Siamese score matrix and/or the local side (what the kinds need)
 * @param options - calibration share, seed, view pattern
 * @returns figures per matcher
 * @throws {@link WhaleidError} when a matcher's side is missing or no query is left in a part
 * @example
 * const r = await evaluateClosedSet(photos, requests, ['siamese', 'local', 'fused'], { siamese, local }, { view: /left|right/ });
 */
export async function evaluateClosedSet(
  photos: readonly { image: string; id: string }[],
  requests: readonly CropRequest[],
  kinds: readonly MatcherKind[],
  sides: MatcherSides,
  options: ClosedSetOptions = {},
): Promise<ClosedSetResult> {
  const used = neededSides(kinds, sides);
  const viewOf = photos.map((p) => (options.view ? (options.view.exec(p.image)?.[0] ?? '') : ''));
  const skipFor = (q: number, g: number): boolean => q === g || viewOf[q] !== viewOf[g];
  const candidates = options.queries ?? photos.map((_, i) => i);
  const queries = candidates.filter((i) => photos.some((p, j) => !skipFor(i, j) && p.id === photos[i].id));
  const names = createRng(options.seed ?? 0).fork('closed-set').shuffle([...new Set(photos.map((p) => p.id))].sort());
  const calibration = new Set(names.slice(0, Math.round((options.calibrationShare ?? 0.3) * names.length)));
  const g = await scoreGallery({
    queries: queries.map((i) => requests[i]),
    gallery: requests,
    galleryIds: photos.map((p) => p.id),
    ...used,
    skip: (q, p) => skipFor(queries[q], p),
  });
  const truthOf = (q: number): number => g.individuals.indexOf(photos[queries[q]].id);
  const calQ = queries.map((_, q) => q).filter((q) => calibration.has(photos[queries[q]].id));
  const testQ = queries.map((_, q) => q).filter((q) => !calibration.has(photos[queries[q]].id));
  const fits = kinds.some((k) => matcherOf(k).calibration.fusion);
  if (testQ.length === 0 || (fits && calQ.length === 0)) throw new WhaleidError(`closed-set evaluation needs queries in both parts; found ${calQ.length} calibration and ${testQ.length} test queries`);
  const fusions = fitMatcherFusions(kinds, calQ.map((q) => ({ scores: g.scores[q], truth: truthOf(q) })), used.siamese ? 1 + (used.learned?.length ?? 0) : 0);
  const fusion = kinds.map((k) => fusions[k]).find((f) => f !== undefined);
  const figures: ClosedSetResult['figures'] = {};
  for (const kind of kinds) {
    let top1 = 0;
    let top5 = 0;
    let ap = 0;
    for (const q of testQ) {
      // individuals the query cannot see (all their photos skipped) never rank
      const seen = visibleIndividuals(g.individualOf, g.individuals.length, (p) => skipFor(queries[q], p));
      const per = Float64Array.from(matcherOf(kind).rank(g.scores[q], fusions[kind]).score, (v, i) => (seen[i] ? v : -Infinity));
      const rank = ranksOf(per)[truthOf(q)];
      if (rank === 1) top1++;
      if (rank <= 5) {
        top5++;
        ap += 1 / rank;
      }
    }
    figures[kind] = { top1: top1 / testQ.length, top5: top5 / testQ.length, map5: ap / testQ.length, queries: testQ.length };
  }
  return { figures, fusion, calibrationQueries: calQ.length, individuals: { calibration: calibration.size, test: names.length - calibration.size } };
}

/** 1 for each individual with a photo the query may see. */
function visibleIndividuals(individualOf: Int32Array, n: number, skip: (p: number) => boolean): Uint8Array {
  const seen = new Uint8Array(n);
  for (let p = 0; p < individualOf.length; p++) if (!skip(p)) seen[individualOf[p]] = 1;
  return seen;
}
