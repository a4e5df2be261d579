import { fitLogistic, predictLogistic, type LogisticFitOptions, type LogisticModel } from './logistic.js';
import { invalidParameterError, WhaleidError } from '../../util/errors.js';

/** One query's scores against every individual of the catalog (same individual order in each). */
export interface MatchScores {
  /** Siamese score per individual: the head's probability for its best photo. */
  siamese: Float64Array;
  /** Local score per individual: the verified LNBNN score (0 when not verified). */
  local: Float64Array;
  /** LNBNN score before verification: orders the individuals the local score leaves tied. */
  localRaw: Float64Array;
}

/** What the fusion model looks at, in order (stored with the model so a reader can check). */
export const FUSION_FEATURES = ['logit(siamese)', 'log1p(local)', '1/rank(siamese)', '1/rank(local)'] as const;

/** A fitted fusion: logistic regression on {@link FUSION_FEATURES}, and where it came from. */
export interface FusionModel extends LogisticModel {
  version: 1;
  features: string[];
  /** Queries, candidate samples and positives it was fitted on, and the mean log loss there. */
  fittedOn: { queries: number; samples: number; positives: number; logLoss: number };
}

/**
 * 1-based rank of each individual by descending `primary`, ties by descending `secondary`, then
 * by number (so a rank is never shared).
 *
 * @param primary - score per individual
 * @param secondary - tie-break per individual (optional)
 * @returns rank per individual
 * @example
 * ranksOf(Float64Array.of(0.2, 0.9, 0.5)); // [3, 1, 2]
 */
export function ranksOf(primary: Float64Array, secondary?: Float64Array): Float64Array {
  const order = Array.from(primary, (_, i) => i).sort((a, b) => primary[b] - primary[a] || (secondary ? secondary[b] - secondary[a] : 0) || a - b);
  const ranks = new Float64Array(primary.length);
  order.forEach((i, r) => (ranks[i] = r + 1));
  return ranks;
}

const logit = (p: number): number => {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  return Math.log(q / (1 - q));
};

/**
 * The fusion features of every individual for one query: the Siamese score as a logit (the
 * head's probabilities crowd near 0 and 1), the local score through log1p (LNBNN sums grow with
 * the number of agreeing keypoints), and both ranks as 1/rank (what matters most is being
 * first; far ranks all look alike).
 *
 * @param s - the query's scores
 * @returns one row of 4 features per individual
 */
export function fusionFeatureRows(s: MatchScores): Float64Array[] {
  const rs = ranksOf(s.siamese);
  const rl = ranksOf(s.local, s.localRaw);
  return Array.from(s.siamese, (v, i) => Float64Array.of(logit(v), Math.log1p(Math.max(0, s.local[i])), 1 / rs[i], 1 / rl[i]));
}

/**
 * The fused score of every individual for one query: the fitted probability that it is the
 * query's individual.
 *
 * @param model - a fitted fusion
 * @param s - the query's scores
 * @returns score per individual, in (0, 1)
 */
export function fusedScores(model: FusionModel, s: MatchScores): Float64Array {
  return Float64Array.from(fusionFeatureRows(s), (x) => predictLogistic(model, x));
}

/** A query of the fit: its scores and the number of its individual (-1: a new individual). */
export interface FusionSample {
  scores: MatchScores;
  truth: number;
}

/** Options of {@link fitFusion}. */
export interface FusionFitOptions extends LogisticFitOptions {
  /** Candidates per query: the union of each matcher's top `candidates`, plus the true individual. Default 20. */
  candidates?: number;
}

/**
 * Fits the fusion on labelled queries (a validation or calibration split, never the queries it
 * will be measured on). Each query gives as samples the union of both matchers' best
 * `candidates` individuals and its own individual: label 1 for its own, 0 for the others. Why
 * candidates and not every individual: the far-ranked ones teach nothing but would dominate the
 * fit on a large catalog; the true individual is always in, even ranked far, so the fit sees
 * where the matchers miss it.
 *
 * @param queries - scores and truth of each calibration query
 * @param options - candidates per query and the logistic fit's settings
 * @returns the fitted model
 * @throws {@link WhaleidError} when the queries give no positive sample
 * @example
 * const model = fitFusion(calibration.map((q) => ({ scores: q.scores, truth: q.individual })));
 */
export function fitFusion(queries: readonly FusionSample[], options: FusionFitOptions = {}): FusionModel {
  const m = options.candidates ?? 20;
  if (!(Number.isInteger(m) && m >= 1)) throw invalidParameterError('candidates', 'a positive integer', m);
  const x: Float64Array[] = [];
  const y: number[] = [];
  for (const q of queries) {
    const rows = fusionFeatureRows(q.scores);
    for (let i = 0; i < rows.length; i++) {
      // features 2 and 3 are 1/rank: within the top m of either matcher
      if (i === q.truth || rows[i][2] >= 1 / m || rows[i][3] >= 1 / m) {
        x.push(rows[i]);
        y.push(i === q.truth ? 1 : 0);
      }
    }
  }
  const positives = y.reduce((s, v) => s + v, 0);
  if (positives === 0) throw new WhaleidError(`cannot fit the fusion: none of the ${queries.length} calibration queries has its individual in the catalog`);
  const fit = fitLogistic(x, y, options);
  return { version: 1, features: [...FUSION_FEATURES], weights: fit.weights, bias: fit.bias, fittedOn: { queries: queries.length, samples: x.length, positives, logLoss: fit.logLoss } };
}

/**
 * Checks a fusion model read from a file: the fields, their types, and the feature list this
 * version computes.
 *
 * @param value - parsed JSON
 * @param name - the file, for messages
 * @returns the model
 * @throws {@link WhaleidError} naming the file and the first bad field
 */
export function parseFusionModel(value: unknown, name: string): FusionModel {
  const o = value as Partial<FusionModel> | null;
  const bad = (field: string, expected: string): WhaleidError => new WhaleidError(`${name}: field ${field}: expected ${expected}`);
  if (!o || typeof o !== 'object') throw bad('(root)', 'an object');
  if (o.version !== 1) throw bad('version', '1');
  if (!Array.isArray(o.features) || o.features.join('|') !== FUSION_FEATURES.join('|')) throw bad('features', JSON.stringify(FUSION_FEATURES));
  if (!Array.isArray(o.weights) || o.weights.length !== FUSION_FEATURES.length || !o.weights.every(Number.isFinite)) throw bad('weights', `${FUSION_FEATURES.length} finite numbers`);
  if (!Number.isFinite(o.bias)) throw bad('bias', 'a finite number');
  const f = o.fittedOn;
  if (!f || ![f.queries, f.samples, f.positives, f.logLoss].every(Number.isFinite)) throw bad('fittedOn', '{ queries, samples, positives, logLoss } numbers');
  return { version: 1, features: o.features, weights: o.weights, bias: o.bias as number, fittedOn: f };
}
