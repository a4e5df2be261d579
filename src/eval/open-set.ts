/**
 * The open-set identification protocol on a labelled dataset that was not used in training:
 * per individual one photo goes to the gallery and the others are queries; a share of the
 * individuals keep no gallery photo, so the right answer for their queries is `new_whale`.
 * The individuals are split into a calibration part and a test part: the new_whale threshold is
 * chosen on the calibration queries only and then applied to the test queries, so the figures
 * reported for the test part never saw their own answers.
 */
import { NEW_WHALE } from '../data/labels.js';
import { averagePrecisionAt5, scorePredictions, type Scores } from '../infer/metrics.js';
import { walkPredictions } from '../infer/walk.js';
import { SUBMISSION_K } from '../data/submission.js';
import { createRng } from '../util/random.js';
import { invalidParameterError, WhaleidError } from '../util/errors.js';

/** Which part of the individuals a query belongs to. */
export type OpenSetPart = 'calibration' | 'test';

/** A query photo of the protocol (an index into the photo list) and its right answer. */
export interface OpenSetQuery {
  index: number;
  truth: string;
  part: OpenSetPart;
}

/** Gallery and queries of one protocol draw. */
export interface OpenSetPlan {
  /** Indices of the gallery photos (one per known individual, plus single-photo individuals). */
  gallery: number[];
  /** Queries of both parts, by photo index. */
  queries: OpenSetQuery[];
  /** Individuals with 2+ photos in each part, and how many of those are "new" (no gallery photo). */
  individuals: Record<OpenSetPart, { total: number; new: number }>;
}

/** Options of {@link planOpenSet}. */
export interface OpenSetPlanOptions {
  /** Share of the individuals (with 2+ photos) of each part that keep no gallery photo. Default 0.3. */
  newShare?: number;
  /** Share of the individuals (with 2+ photos) whose queries calibrate the threshold. Default 0.3. */
  calibrationShare?: number;
  /** Seed of the split. Default 0. */
  seed?: number;
}

/**
 * Draws the protocol's gallery and queries by individual. Individuals with a single photo can
 * give no query: their photo joins the gallery as a distractor. Photos labelled `new_whale`
 * (Kaggle layout) are queries whose answer is new_whale, shared between the parts in the same
 * proportion. Deterministic for a seed.
 *
 * @param ids - the id of every labelled photo (`new_whale` allowed)
 * @param options - shares and seed
 * @returns gallery and query indices into `ids`
 * @throws {@link WhaleidError} for shares outside their range, or too few individuals with 2+ photos
 * @example
 * const plan = planOpenSet(['a', 'a', 'b', 'b', 'c', 'c'], { newShare: 0.3, seed: 1 });
 */
export function planOpenSet(ids: readonly string[], options: OpenSetPlanOptions = {}): OpenSetPlan {
  const newShare = options.newShare ?? 0.3;
  const calShare = options.calibrationShare ?? 0.3;
  if (!(newShare >= 0 && newShare < 1)) throw invalidParameterError('newShare', 'a number in [0, 1)', newShare);
  if (!(calShare > 0 && calShare < 1)) throw invalidParameterError('calibrationShare', 'a number in (0, 1)', calShare);
  const rng = createRng(options.seed ?? 0).fork('open-set');
  const byId = new Map<string, number[]>();
  const newWhale: number[] = [];
  ids.forEach((id, i) => {
    if (id === NEW_WHALE) newWhale.push(i);
    else byId.set(id, [...(byId.get(id) ?? []), i]);
  });
  const names = [...byId.keys()].sort();
  const multi = rng.shuffle(names.filter((n) => byId.get(n)!.length >= 2));
  const nCal = Math.round(calShare * multi.length);
  if (nCal < 1 || multi.length - nCal < 1) {
    throw new WhaleidError(`open-set evaluation needs individuals with 2+ photos in both the calibration and the test part; found ${multi.length} such individual(s) (calibration share ${calShare})`);
  }
  const plan: OpenSetPlan = { gallery: [], queries: [], individuals: { calibration: { total: 0, new: 0 }, test: { total: 0, new: 0 } } };
  for (const n of names) if (byId.get(n)!.length === 1) plan.gallery.push(byId.get(n)![0]);
  const parts: [OpenSetPart, string[]][] = [['calibration', multi.slice(0, nCal)], ['test', multi.slice(nCal)]];
  for (const [part, members] of parts) {
    const nNew = Math.round(newShare * members.length);
    plan.individuals[part] = { total: members.length, new: nNew };
    members.forEach((name, k) => {
      const photos = rng.shuffle([...byId.get(name)!]);
      // a "new" individual's photos are all queries: it has nothing in the gallery to be found by
      const isNew = k < nNew;
      if (!isNew) plan.gallery.push(photos[0]);
      for (const index of isNew ? photos : photos.slice(1)) plan.queries.push({ index, truth: isNew ? NEW_WHALE : name, part });
    });
  }
  const nw = rng.shuffle([...newWhale]);
  const nwCal = Math.round(calShare * nw.length);
  nw.forEach((index, k) => plan.queries.push({ index, truth: NEW_WHALE, part: k < nwCal ? 'calibration' : 'test' }));
  plan.gallery.sort((a, b) => a - b);
  plan.queries.sort((a, b) => a.index - b.index);
  return plan;
}

/** A query's best gallery individuals (at most 5 distinct ids, best first) and its answer. */
export interface RankedQuery {
  ids: string[];
  /** Best score of each of `ids` (descending). */
  scores: number[];
  truth: string;
}

/**
 * The best 5 distinct ids of one query row (the best photo of each id counts), as the walk uses.
 *
 * @param row - the query's score against every gallery photo
 * @param galleryIds - the id of every gallery photo
 * @param truth - the query's right answer
 * @returns the ranked ids and their scores
 * @example
 * rankQuery(Float32Array.from([0.2, 0.9, 0.5]), ['a', 'b', 'a'], 'a'); // ids ['b', 'a'], scores [0.9, 0.5]
 */
export function rankQuery(row: ArrayLike<number>, galleryIds: readonly string[], truth: string): RankedQuery {
  const best = new Map<string, number>();
  for (let j = 0; j < row.length; j++) {
    const prev = best.get(galleryIds[j]);
    if (prev === undefined || row[j] > row[prev]) best.set(galleryIds[j], j);
  }
  const order = [...best.values()].sort((a, b) => row[b] - row[a] || a - b).slice(0, SUBMISSION_K);
  return { ids: order.map((j) => galleryIds[j]), scores: order.map((j) => row[j]), truth };
}

/** AP@5 of a query given how many of its ranked ids score at or above the threshold. */
function apWithAbove(q: RankedQuery, above: number): number {
  if (q.truth === NEW_WHALE) return above < SUBMISSION_K ? 1 / (above + 1) : 0;
  const p = q.ids.indexOf(q.truth);
  if (p < 0) return 0;
  // new_whale is listed right after the ids scoring at or above the threshold
  const rank = p < above ? p + 1 : p + 2;
  return rank <= SUBMISSION_K ? 1 / rank : 0;
}

/**
 * AP@5 the walk gives a ranked query at a threshold, without redoing the walk: equals
 * `averagePrecisionAt5(truth, walkPredictions(row, ids, threshold))`.
 *
 * @param q - the ranked query
 * @param threshold - new_whale threshold
 * @returns 1, 1/2, ..., 1/5 or 0
 * @example
 * apAtThreshold({ ids: ['a', 'b'], scores: [0.9, 0.4], truth: 'b' }, 0.5); // 1/3
 */
export function apAtThreshold(q: RankedQuery, threshold: number): number {
  let above = 0;
  while (above < q.scores.length && q.scores[above] >= threshold) above++;
  return apWithAbove(q, above);
}

/** A calibrated threshold and the MAP@5 it gives on the calibration queries. */
export interface Calibration {
  threshold: number;
  map5: number;
}

/**
 * The new_whale threshold that maximises MAP@5 on the given queries. Exact: a query's AP only
 * changes when the threshold crosses one of its 5 ranked scores, so one sweep over those scores,
 * from the top down, visits every distinct outcome (O(n log n) for n queries). Of equal MAP@5
 * the highest threshold wins; the value returned lies midway between the last score kept above
 * it and the next lower score, so it does not sit on a calibration score.
 *
 * @param queries - ranked calibration queries
 * @returns the threshold and its MAP@5 on `queries`
 * @throws {@link WhaleidError} when there are no queries
 * @example
 * calibrateThreshold([{ ids: ['a'], scores: [0.9], truth: 'a' }, { ids: ['a'], scores: [0.3], truth: 'new_whale' }]);
 * // { threshold: 0.6, map5: 1 }
 */
export function calibrateThreshold(queries: readonly RankedQuery[]): Calibration {
  if (queries.length === 0) throw new WhaleidError('cannot calibrate a threshold without calibration queries');
  const events: { q: number; s: number }[] = [];
  queries.forEach((q, qi) => q.scores.forEach((s) => events.push({ q: qi, s })));
  events.sort((a, b) => b.s - a.s);
  const above = new Int32Array(queries.length);
  let total = queries.reduce((sum, q) => sum + apWithAbove(q, 0), 0);
  let best = total;
  let bestAt = -1; // index of the last event kept above the threshold; -1: none (all new_whale first)
  for (let e = 0; e < events.length; ) {
    const s = events[e].s;
    for (; e < events.length && events[e].s === s; e++) {
      const q = events[e].q;
      total += apWithAbove(queries[q], above[q] + 1) - apWithAbove(queries[q], above[q]);
      above[q]++;
    }
    if (total > best + 1e-12) {
      best = total;
      bestAt = e - 1;
    }
  }
  let threshold: number;
  if (events.length === 0) threshold = Infinity;
  else if (bestAt < 0) threshold = events[0].s + 1e-6 * Math.max(1, Math.abs(events[0].s));
  else threshold = bestAt + 1 < events.length ? (events[bestAt].s + events[bestAt + 1].s) / 2 : events[bestAt].s;
  return { threshold, map5: best / queries.length };
}

/** One query's outcome. */
export interface OpenSetQueryResult {
  image: string;
  part: OpenSetPart;
  truth: string;
  predicted: string[];
  ap: number;
  /** The query's best gallery score. */
  bestScore: number;
}

/** New-whale detection on the test queries ("new_whale first" counts as predicting new). */
export interface NewWhaleStats {
  /** Test queries answered new_whale first. */
  predicted: number;
  /** Test queries whose answer is new_whale. */
  actual: number;
  /** Of those, answered new_whale first. */
  correct: number;
  /** correct / predicted (NaN when nothing was predicted new). */
  precision: number;
  /** correct / actual (NaN when no query is new). */
  recall: number;
}

/** Everything the protocol measured. */
export interface OpenSetResult {
  plan: OpenSetPlan;
  calibration: Calibration & { queries: number };
  /** MAP@5, top-1, top-5 of the test queries at the calibrated threshold. */
  test: Scores;
  newWhale: NewWhaleStats;
  /** Both parts, calibration first. */
  queries: OpenSetQueryResult[];
}

/** Scores of query photos against gallery photos, nq x ng row-major (a model, or any similarity). */
export type ScoreMatrixFunction = (queries: readonly number[], gallery: readonly number[]) => Promise<Float32Array>;

/**
 * Runs the open-set protocol: {@link planOpenSet}, one score matrix of every query against the
 * gallery, the threshold from {@link calibrateThreshold} on the calibration queries, then the
 * walk at that threshold for every query.
 *
 * @param photos - labelled photos (`image` names the photo in the results)
 * @param scoreMatrix - scores of photo indices against photo indices
 * @param options - see {@link OpenSetPlanOptions}
 * @returns threshold, test scores, new-whale precision/recall and per-query results
 * @throws {@link WhaleidError} when the plan cannot be drawn or the score matrix has the wrong size
 * @example
 * const res = await evaluateOpenSet(photos, (q, g) => scorer.scoreMatrix(q.map(req), g.map(req)), { seed: 1 });
 * res.test.map5;
 */
export async function evaluateOpenSet(photos: readonly { image: string; id: string }[], scoreMatrix: ScoreMatrixFunction, options: OpenSetPlanOptions = {}): Promise<OpenSetResult> {
  const plan = planOpenSet(photos.map((p) => p.id), options);
  const ordered = [...plan.queries.filter((q) => q.part === 'calibration'), ...plan.queries.filter((q) => q.part === 'test')];
  const ng = plan.gallery.length;
  const scores = await scoreMatrix(ordered.map((q) => q.index), plan.gallery);
  if (scores.length !== ordered.length * ng) throw invalidParameterError('score matrix length', `${ordered.length} x ${ng}`, scores.length);
  const galleryIds = plan.gallery.map((i) => photos[i].id);
  const rows = ordered.map((_, qi) => scores.subarray(qi * ng, (qi + 1) * ng));
  const ranked = ordered.map((q, qi) => rankQuery(rows[qi], galleryIds, q.truth));
  const nCal = ordered.filter((q) => q.part === 'calibration').length;
  const cal = calibrateThreshold(ranked.slice(0, nCal));
  const queries = ordered.map((q, qi): OpenSetQueryResult => {
    const predicted = walkPredictions(rows[qi], galleryIds, cal.threshold);
    return { image: photos[q.index].image, part: q.part, truth: q.truth, predicted, ap: averagePrecisionAt5(q.truth, predicted), bestScore: ranked[qi].scores[0] ?? NaN };
  });
  const test = queries.filter((q) => q.part === 'test');
  const scored = scorePredictions(new Map(test.map((q) => [q.image, q.truth])), new Map(test.map((q) => [q.image, q.predicted])));
  const predictedNew = test.filter((q) => q.predicted[0] === NEW_WHALE);
  const actual = test.filter((q) => q.truth === NEW_WHALE).length;
  const correct = predictedNew.filter((q) => q.truth === NEW_WHALE).length;
  return {
    plan,
    calibration: { ...cal, queries: nCal },
    test: scored,
    newWhale: { predicted: predictedNew.length, actual, correct, precision: predictedNew.length ? correct / predictedNew.length : NaN, recall: actual ? correct / actual : NaN },
    queries,
  };
}
