/**
 * Which scorer a finished run exports: its trained head, or the cosine of its features
 * (`src/model/network/cosine-head.ts`), decided on the run's held-out individuals.
 *
 * Why not on the validation queries alone: they are one photo per held-out individual (20 on
 * Omniglot), too few to tell two scorers 2 points apart. Every photo of a held-out individual
 * that still has another photo in the gallery is asked instead (leave-one-out), a few hundred
 * questions on Omniglot, none of them about a training individual, and every true pair of each
 * is ranked against its false pairs with the other held-out individuals.
 */
import { NEW_WHALE } from '../data/labels.js';
import { fitLogistic } from '../infer/fusion/logistic.js';
import { scoreQueries } from '../infer/score-matrix.js';
import { unitRowsInPlace, type HeadWeights } from '../model/network/head-weights.js';
import type { TrainValidationSplit } from './split.js';
import { gatherRows } from './validation.js';

/** The scorers a run can export. */
export type ScorerName = 'head' | 'cosine';

/** `TrainConfig.scorer`: one scorer, or the better of both on the held-out individuals. */
export type ScorerSetting = ScorerName | 'auto';

/** The values {@link ScorerSetting} may take. */
export const SCORER_SETTINGS: readonly ScorerSetting[] = Object.freeze(['head', 'cosine', 'auto']);

/** What {@link chooseScorer} decided, and on what. */
export interface ScorerChoice {
  /** The scorer to export. */
  scorer: ScorerName;
  /** Why, in a few words. */
  reason: string;
  /** Leave-one-out questions asked (photos of held-out individuals with another gallery photo). */
  questions: number;
  /** Closed-set top-1 over those questions, per scorer. */
  top1: { head: number; cosine: number };
  /**
   * Per scorer, the mean share of false pairs (with other held-out individuals) that outscore a
   * true pair, ties half (1 - AUC): what `auto` decides on, lower is better.
   */
  falseAbove: { head: number; cosine: number };
  /** The cosine scorer's calibration (logit = scale * cos + bias); null when it could not be fitted. */
  calibration: { scale: number; bias: number } | null;
}

/**
 * Scales every row of `features` (n x F) to unit length; an all-zero row stays zero.
 *
 * @param features - n*F values, row-major
 * @param F - features per row
 * @returns a new array
 * @example
 * normalizeRows(Float32Array.of(3, 4), 2); // [0.6, 0.8]
 */
export function normalizeRows(features: Float32Array, F: number): Float32Array {
  return unitRowsInPlace(features.slice(), F);
}

/** Every row of `a` (na x F) against every row of `b` (nb x F): na*nb dot products, row-major. */
function dotProducts(a: Float32Array, b: Float32Array, F: number): Float32Array {
  const na = a.length / F;
  const nb = b.length / F;
  const out = new Float32Array(na * nb);
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) {
      let d = 0;
      for (let f = 0; f < F; f++) d += a[i * F + f] * b[j * F + f];
      out[i * nb + j] = d;
    }
  }
  return out;
}

/** A photo of a held-out individual asked against the gallery; `self` is its own gallery column, or -1. */
interface Question {
  photo: number;
  self: number;
}

/** Photos of held-out individuals with another photo of theirs in the gallery. */
function heldOutQuestions(ids: readonly string[], split: TrainValidationSplit): Question[] {
  const heldOut = new Set(split.queries.map((q) => q.truth).filter((t) => t !== NEW_WHALE));
  const column = new Map(split.gallery.map((p, j) => [p, j]));
  const inGallery = new Map<string, number>();
  for (const p of split.gallery) if (heldOut.has(ids[p])) inGallery.set(ids[p], (inGallery.get(ids[p]) ?? 0) + 1);
  const photos = [...new Set([...split.queries.map((q) => q.index), ...split.gallery])].filter((p) => heldOut.has(ids[p]));
  return photos
    .map((photo) => ({ photo, self: column.get(photo) ?? -1 }))
    .filter(({ photo, self }) => (inGallery.get(ids[photo]) ?? 0) - (self >= 0 ? 1 : 0) >= 1)
    .sort((a, b) => a.photo - b.photo);
}

/**
 * Compares the head and the cosine scorer on the held-out individuals and calibrates the cosine
 * to a probability: a logistic fit of same/different on the cosine, over each question's true
 * pairs and as many of its false pairs, taken at evenly spaced ranks (balanced classes, as the
 * head's training pairs are, so that 0.5 sits where same and different are equally likely).
 * Why not the closest false pairs: under a weak network they outscore most true pairs, and the
 * fit would then fall with the cosine.
 *
 * @param features - features of the evaluated photos, row `rowOf.get(photo)`
 * @param rowOf - dataset photo index -> row in `features`
 * @param ids - the id of every dataset photo
 * @param split - the run's split
 * @param head - the trained head's weights
 * @param setting - `head` or `cosine` forces that scorer (both are still measured); `auto` takes the
 *   cosine only when fewer of its false pairs outscore true ones (see {@link ScorerChoice.falseAbove})
 * @returns the choice; the head when the cosine cannot be calibrated (no true pair among the
 *   questions, or a fit that does not rise with the cosine)
 * @example
 * const choice = chooseScorer(feats, rowOf, ids, split, readHeadWeights(siamese.head), 'auto');
 */
export function chooseScorer(features: Float32Array, rowOf: ReadonlyMap<number, number>, ids: readonly string[], split: TrainValidationSplit, head: HeadWeights, setting: ScorerSetting): ScorerChoice {
  const F = head.features;
  const questions = heldOutQuestions(ids, split);
  const galleryIds = split.gallery.map((p) => ids[p]);
  const photos = questions.map((q) => q.photo);
  const unit = normalizeRows(features, F);
  const cosines = dotProducts(gatherRows(unit, rowOf, photos, F), gatherRows(unit, rowOf, split.gallery, F), F);
  const headScores = scoreQueries(gatherRows(features, rowOf, photos, F), gatherRows(features, rowOf, split.gallery, F), head);
  const heldOut = new Set(questions.map((q) => ids[q.photo]));
  const top1 = { head: top1Of(questions, headScores, galleryIds, ids), cosine: top1Of(questions, cosines, galleryIds, ids) };
  const falseAbove = { head: falseAboveOf(questions, headScores, galleryIds, ids, heldOut), cosine: falseAboveOf(questions, cosines, galleryIds, ids, heldOut) };
  const calibration = calibrateCosine(questions, cosines, galleryIds, ids);
  const base = { questions: questions.length, top1, falseAbove, calibration };
  if (setting === 'head') return { ...base, scorer: 'head', reason: 'asked for' };
  if (calibration === null) return { ...base, scorer: 'head', reason: 'the cosine could not be calibrated (no true held-out pair, or false pairs score higher)' };
  if (setting === 'cosine') return { ...base, scorer: 'cosine', reason: 'asked for' };
  return falseAbove.cosine < falseAbove.head
    ? { ...base, scorer: 'cosine', reason: 'fewer false pairs above true ones on the held-out individuals' }
    : { ...base, scorer: 'head', reason: 'the cosine does not rank the held-out individuals better' };
}

/** Closed-set top-1: the best-scoring gallery photo (the question's own left out) is of its individual. */
function top1Of(questions: readonly Question[], scores: Float32Array, galleryIds: readonly string[], ids: readonly string[]): number {
  const G = galleryIds.length;
  let right = 0;
  questions.forEach(({ photo, self }, k) => {
    let best = -1;
    for (let j = 0; j < G; j++) if (j !== self && (best < 0 || scores[k * G + j] > scores[k * G + best])) best = j;
    if (galleryIds[best] === ids[photo]) right++;
  });
  return questions.length ? right / questions.length : 0;
}

/**
 * Mean over the true pairs (question, gallery photo of its individual) of the share of the
 * question's false pairs with other held-out individuals that score above it (ties count half):
 * 1 - AUC. Why this and not top-1: with all its other photos in the gallery a question is easy
 * (one of 19 needs to come first), while a one-shot trial or a whale seen once asks whether one
 * given true pair beats every false one; and a share moves with every pair, where top-1 ties.
 */
function falseAboveOf(questions: readonly Question[], scores: Float32Array, galleryIds: readonly string[], ids: readonly string[], heldOut: ReadonlySet<string>): number {
  const G = galleryIds.length;
  let sum = 0;
  let pairs = 0;
  questions.forEach(({ photo, self }, k) => {
    const row = scores.subarray(k * G, (k + 1) * G);
    const wrong: number[] = [];
    const right: number[] = [];
    for (let j = 0; j < G; j++) {
      if (j === self) continue;
      if (galleryIds[j] === ids[photo]) right.push(row[j]);
      else if (heldOut.has(galleryIds[j])) wrong.push(row[j]);
    }
    if (wrong.length === 0) return;
    wrong.sort((a, b) => a - b);
    for (const r of right) {
      sum += (wrong.length - upperBound(wrong, r) + (wrong.length - lowerBound(wrong, r))) / 2 / wrong.length;
      pairs++;
    }
  });
  return pairs ? sum / pairs : 0;
}

/** First index of a sorted array whose value is >= x. */
function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index of a sorted array whose value is > x. */
function upperBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Logistic fit of same (1) / different (0) on the cosine: each question's true pairs and as many false ones. */
function calibrateCosine(questions: readonly Question[], cosines: Float32Array, galleryIds: readonly string[], ids: readonly string[]): ScorerChoice['calibration'] {
  const G = galleryIds.length;
  const x: number[][] = [];
  const y: number[] = [];
  questions.forEach(({ photo, self }, k) => {
    const row = cosines.subarray(k * G, (k + 1) * G);
    const wrong: number[] = [];
    let positives = 0;
    for (let j = 0; j < G; j++) {
      if (j === self) continue;
      if (galleryIds[j] === ids[photo]) {
        x.push([row[j]]);
        y.push(1);
        positives++;
      } else wrong.push(row[j]);
    }
    // as many false pairs as true ones, at evenly spaced ranks: a balanced, unbiased sample
    wrong.sort((a, b) => b - a);
    for (let i = 0; i < positives && wrong.length > 0; i++) {
      x.push([wrong[Math.floor(((i + 0.5) * wrong.length) / positives)]]);
      y.push(0);
    }
  });
  if (!y.includes(1) || !y.includes(0)) return null;
  // fitted on the standardised cosine: a trained branch's cosines can crowd within 0.02 of 1, where
  // the fit's small ridge penalty would hold back the steep slope they need
  const mean = x.reduce((t, r) => t + r[0], 0) / x.length;
  const sd = Math.sqrt(x.reduce((t, r) => t + (r[0] - mean) ** 2, 0) / x.length);
  if (!(sd > 0)) return null;
  const fit = fitLogistic(x.map((r) => [(r[0] - mean) / sd]), y);
  const scale = fit.weights[0] / sd;
  const bias = fit.bias - (fit.weights[0] * mean) / sd;
  return scale > 0 && Number.isFinite(scale) && Number.isFinite(bias) ? { scale, bias } : null;
}
