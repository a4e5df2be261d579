import { fitLogistic, predictLogistic, type LogisticFitOptions, type LogisticModel } from './logistic.js';
import { invalidParameterError, WhaleidError } from '../../util/errors.js';

/** One query's scores against every individual of the catalog (same individual order in each). */
export interface MatchScores {
  /** The first learned model's score per individual: its head's probability for the best photo. */
  siamese: Float64Array;
  /** Local score per individual: the verified LNBNN score (0 when not verified). */
  local: Float64Array;
  /** LNBNN score before verification: orders the individuals the local score leaves tied. */
  localRaw: Float64Array;
  /**
   * The other learned models' scores (the second `--model` on, in order), when several runs or
   * imported models are fused; absent with one.
   */
  learned?: Float64Array[];
}

/** What a fusion combines: how many learned models (runs or imported models) and whether the local matcher. */
export interface FusionShape {
  /** Learned models, at least 1. */
  models: number;
  local: boolean;
}

/** The features of the first fusion (one learned model and local): files written before several models keep them. */
export const FUSION_FEATURES = ['logit(siamese)', 'log1p(local)', '1/rank(siamese)', '1/rank(local)'] as const;

/** The one learned model and local: the fusion's shape before several models were fused. */
const CLASSIC: FusionShape = Object.freeze({ models: 1, local: true });

/**
 * What a fusion of this shape looks at, in order: each learned model's score as a logit, the
 * local score, then each learned model's 1/rank and the local 1/rank. One learned model with
 * local gives exactly {@link FUSION_FEATURES}, so a fusion fitted before several models were
 * fused reads and scores as it did.
 *
 * @param shape - learned models and local
 * @returns the feature names
 * @example
 * fusionFeatureNames({ models: 2, local: true }); // ['logit(siamese)', 'logit(model2)', 'log1p(local)', '1/rank(siamese)', '1/rank(model2)', '1/rank(local)']
 */
export function fusionFeatureNames(shape: FusionShape): string[] {
  const names = Array.from({ length: shape.models }, (_, k) => (k === 0 ? 'siamese' : `model${k + 1}`));
  return [...names.map((n) => `logit(${n})`), ...(shape.local ? ['log1p(local)'] : []), ...names.map((n) => `1/rank(${n})`), ...(shape.local ? ['1/rank(local)'] : [])];
}

/** A fitted fusion: logistic regression on {@link fusionFeatureNames} of its shape, and where it came from. */
export interface FusionModel extends LogisticModel {
  /** 1: one learned model and local (files of before several models); 2: any shape, stated. */
  version: 1 | 2;
  features: string[];
  /** Learned models fused (version 2; version 1: one). */
  models?: number;
  /** Whether the local matcher's score is fused (version 2; version 1: yes). */
  local?: boolean;
  /**
   * The learned models' versions it was fitted on, in `--model` order (a reader checks that the
   * models given are these); absent in files written before several models.
   */
  modelVersions?: string[];
  /** Queries, candidate samples and positives it was fitted on, and the mean log loss there. */
  fittedOn: { queries: number; samples: number; positives: number; logLoss: number };
}

/**
 * A fusion's shape (a version 1 file: one learned model and local).
 *
 * @param model - the fusion
 * @returns its learned models and whether it fuses local
 */
export function fusionShapeOf(model: Pick<FusionModel, 'version' | 'models' | 'local'>): FusionShape {
  return model.version === 1 ? CLASSIC : { models: model.models ?? 1, local: model.local ?? true };
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
 * The fusion features of every individual for one query: each learned score as a logit (the
 * heads' probabilities crowd near 0 and 1), the local score through log1p (LNBNN sums grow with
 * the number of agreeing keypoints), and every matcher's rank as 1/rank (what matters most is
 * being first; far ranks all look alike), in the order of {@link fusionFeatureNames}.
 *
 * @param s - the query's scores
 * @param shape - learned models and local (default: one learned model and local)
 * @returns one row of features per individual
 * @throws {@link WhaleidError} when the scores hold fewer learned models than the shape fuses
 */
export function fusionFeatureRows(s: MatchScores, shape: FusionShape = CLASSIC): Float64Array[] {
  const learned = [s.siamese, ...(s.learned ?? [])];
  if (learned.length < shape.models) throw new WhaleidError(`the fusion combines ${shape.models} learned models, the scores hold ${learned.length}: give as many --model as the fusion was fitted with`);
  const used = learned.slice(0, shape.models);
  const ranks = used.map((v) => ranksOf(v));
  const rl = shape.local ? ranksOf(s.local, s.localRaw) : null;
  const width = 2 * (shape.models + (shape.local ? 1 : 0));
  return Array.from(s.siamese, (_, i) => {
    const row = new Float64Array(width);
    let j = 0;
    for (const v of used) row[j++] = logit(v[i]);
    if (shape.local) row[j++] = Math.log1p(Math.max(0, s.local[i]));
    for (const r of ranks) row[j++] = 1 / r[i];
    if (rl) row[j] = 1 / rl[i];
    return row;
  });
}

/**
 * The fused score of every individual for one query: the fitted probability that it is the
 * query's individual.
 *
 * @param model - a fitted fusion
 * @param s - the query's scores
 * @returns score per individual, in (0, 1)
 * @throws {@link WhaleidError} when the scores hold fewer learned models than the fusion's
 */
export function fusedScores(model: FusionModel, s: MatchScores): Float64Array {
  return Float64Array.from(fusionFeatureRows(s, fusionShapeOf(model)), (x) => predictLogistic(model, x));
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
  /** What is fused; default one learned model and local. */
  shape?: FusionShape;
  /** The learned models' versions, in order (stored with the fusion, checked by its readers). */
  modelVersions?: string[];
}

/**
 * Fits the fusion on labelled queries (a validation or calibration split, never the queries it
 * will be measured on), over the shape given (each learned model, and local or not). Each query
 * gives as samples the union of every fused matcher's best `candidates` individuals and its own individual: label 1 for its own, 0 for the others. Why
 * candidates and not every individual: the far-ranked ones teach nothing but would dominate the
 * fit on a large catalog; the true individual is always in, even ranked far, so the fit sees
 * where the matchers miss it.
 *
 * @param queries - scores and truth of each calibration query
 * @param options - candidates per query, the shape and the models' versions, the logistic fit's settings
 * @returns the fitted model (version 2: its shape stated)
 * @throws {@link WhaleidError} when the queries give no positive sample, or the shape is not one a fusion has
 * @example
 * const model = fitFusion(calibration.map((q) => ({ scores: q.scores, truth: q.individual })));
 */
export function fitFusion(queries: readonly FusionSample[], options: FusionFitOptions = {}): FusionModel {
  const m = options.candidates ?? 20;
  if (!(Number.isInteger(m) && m >= 1)) throw invalidParameterError('candidates', 'a positive integer', m);
  const shape = options.shape ?? CLASSIC;
  if (!(Number.isInteger(shape.models) && shape.models >= (shape.local ? 1 : 2))) throw invalidParameterError('models', shape.local ? 'at least 1 learned model' : 'at least 2 learned models (one alone needs no fusion)', shape.models);
  if (options.modelVersions && options.modelVersions.length !== shape.models) throw invalidParameterError('modelVersions', `${shape.models} model versions`, options.modelVersions.length);
  // the 1/rank features are the second half of each row
  const ranksFrom = shape.models + (shape.local ? 1 : 0);
  const x: Float64Array[] = [];
  const y: number[] = [];
  for (const q of queries) {
    const rows = fusionFeatureRows(q.scores, shape);
    for (let i = 0; i < rows.length; i++) {
      // within the top m of any matcher, or the truth
      let near = i === q.truth;
      for (let j = ranksFrom; j < rows[i].length && !near; j++) near = rows[i][j] >= 1 / m;
      if (near) {
        x.push(rows[i]);
        y.push(i === q.truth ? 1 : 0);
      }
    }
  }
  const positives = y.reduce((s, v) => s + v, 0);
  if (positives === 0) throw new WhaleidError(`cannot fit the fusion: none of the ${queries.length} calibration queries has its individual in the catalog`);
  const fit = fitLogistic(x, y, options);
  const fittedOn = { queries: queries.length, samples: x.length, positives, logLoss: fit.logLoss };
  return { version: 2, features: fusionFeatureNames(shape), models: shape.models, local: shape.local, ...(options.modelVersions ? { modelVersions: [...options.modelVersions] } : {}), weights: fit.weights, bias: fit.bias, fittedOn };
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
  if (o.version !== 1 && o.version !== 2) throw bad('version', '1 or 2');
  if (o.version === 2) {
    if (!Number.isInteger(o.models) || (o.models as number) < 1) throw bad('models', 'the number of learned models fused (1 or more)');
    if (typeof o.local !== 'boolean') throw bad('local', 'true or false (whether the local score is fused)');
  }
  const shape = fusionShapeOf(o as FusionModel);
  const names = fusionFeatureNames(shape);
  if (!Array.isArray(o.features) || o.features.join('|') !== names.join('|')) throw bad('features', JSON.stringify(names));
  if (!Array.isArray(o.weights) || o.weights.length !== names.length || !o.weights.every(Number.isFinite)) throw bad('weights', `${names.length} finite numbers`);
  if (!Number.isFinite(o.bias)) throw bad('bias', 'a finite number');
  if (o.modelVersions !== undefined && (!Array.isArray(o.modelVersions) || o.modelVersions.length !== shape.models || !o.modelVersions.every((v) => typeof v === 'string'))) throw bad('modelVersions', `${shape.models} model version strings`);
  const f = o.fittedOn;
  if (!f || ![f.queries, f.samples, f.positives, f.logLoss].every(Number.isFinite)) throw bad('fittedOn', '{ queries, samples, positives, logLoss } numbers');
  const stated = o.version === 2 ? { models: shape.models, local: shape.local } : {};
  return { version: o.version, features: o.features, ...stated, ...(o.modelVersions ? { modelVersions: o.modelVersions } : {}), weights: o.weights, bias: o.bias as number, fittedOn: f };
}

/**
 * Refuses a fusion fitted on other learned models than those given: another count, or (when
 * the fusion names them) other model versions in another order.
 *
 * @param model - the fusion
 * @param modelVersions - the versions of the models given, in `--model` order
 * @param name - where the fusion came from, for the message
 * @throws {@link WhaleidError} naming what differs
 * @example
 * checkFusionModels(calibration.fusion, [run.inference.modelVersion], 'eval.csv.matcher.json');
 */
export function checkFusionModels(model: FusionModel, modelVersions: readonly string[], name: string): void {
  const { models } = fusionShapeOf(model);
  if (models !== modelVersions.length) throw new WhaleidError(`${name}: the fusion was fitted on ${models} learned model(s), ${modelVersions.length} given by --model; give the models of the evaluate-open that wrote it, in its order`);
  const fitted = model.modelVersions;
  if (fitted && fitted.join('|') !== modelVersions.join('|')) throw new WhaleidError(`${name}: the fusion was fitted on the models ${fitted.join(', ')}; --model gives ${modelVersions.join(', ')} (same models in the same order, or fit it again with evaluate-open)`);
}
