import { describe, it, expect } from 'vitest';
import { fitLogistic, predictLogistic, sigmoid } from '../../../src/infer/fusion/logistic.js';
import { fitFusion, fusedScores, parseFusionModel, ranksOf, type FusionModel, type FusionSample, type MatchScores } from '../../../src/infer/fusion/fusion-model.js';
import { matcherOf, type MatcherKind } from '../../../src/infer/matchers/matcher-registry.js';

const matcherScores = (kind: MatcherKind, s: MatchScores, fusion?: FusionModel): Float64Array => matcherOf(kind).rank(s, fusion).score;
import { createRng } from '../../../src/util/random.js';

describe('fitLogistic', () => {
  it('recovers the coefficients that generated the labels', () => {
    const rng = createRng('logistic');
    const w = [1.5, -2, 0.7, 0];
    const b = -0.5;
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 40000; i++) {
      const row = [rng.uniform(-2, 2), rng.uniform(-1, 1), rng.uniform(0, 3), rng.uniform(-1, 1)];
      x.push(row);
      y.push(rng.uniform(0, 1) < sigmoid(b + row.reduce((s, v, j) => s + v * w[j], 0)) ? 1 : 0);
    }
    const fit = fitLogistic(x, y, { l2: 0 });
    fit.weights.forEach((v, j) => expect(v).toBeCloseTo(w[j], 1));
    expect(fit.bias).toBeCloseTo(b, 1);
    expect(fit.iterations).toBeLessThan(15);
    expect(predictLogistic(fit, [0, 0, 0, 0])).toBeCloseTo(sigmoid(fit.bias), 12);
  });

  it('stays finite on separable data and refuses one-class or ragged input', () => {
    const fit = fitLogistic([[0], [1], [2], [3]], [0, 0, 1, 1]);
    expect(Number.isFinite(fit.weights[0]) && fit.weights[0] > 0).toBe(true);
    expect(() => fitLogistic([[0], [1]], [1, 1])).toThrow(/both classes present/);
    expect(() => fitLogistic([[0], [1, 2]], [0, 1])).toThrow(/1 features each/);
    expect(() => fitLogistic([[0], [1]], [0, 2])).toThrow(/0 or 1/);
  });
});

describe('ranks and matcher scores', () => {
  it('ranks by score, ties by the second score then by number', () => {
    expect(Array.from(ranksOf(Float64Array.of(0.2, 0.9, 0.5)))).toEqual([3, 1, 2]);
    expect(Array.from(ranksOf(Float64Array.of(0, 0, 1), Float64Array.of(1, 5, 0)))).toEqual([3, 2, 1]);
    expect(Array.from(ranksOf(Float64Array.of(0, 0)))).toEqual([1, 2]);
  });

  it('orders the local matcher by verified score, then by LNBNN score', () => {
    const s = { siamese: Float64Array.of(0.1, 0.2, 0.3), local: Float64Array.of(0, 2, 0), localRaw: Float64Array.of(5, 1, 7) };
    expect(Array.from(ranksOf(matcherScores('local', s)))).toEqual([3, 1, 2]);
    expect(matcherScores('siamese', s)).toEqual(s.siamese);
    expect(() => matcherScores('fused', s)).toThrow(/needs a fitted fusion/);
  });
});

/** Queries over 30 individuals where each matcher alone finds the truth first only some of the time. */
function noisyQueries(n: number, seed: string): FusionSample[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const truth = Math.floor(rng.uniform(0, 30));
    const siamese = Float64Array.from({ length: 30 }, (_, i) => sigmoid(rng.normal() + (i === truth ? 1.2 : 0)));
    const localRaw = Float64Array.from({ length: 30 }, (_, i) => Math.exp(rng.normal() + (i === truth ? 1.5 : 0)));
    const local = Float64Array.from(localRaw, (v) => (v > 2 ? v : 0));
    return { scores: { siamese, local, localRaw }, truth };
  });
}

const top1 = (qs: FusionSample[], score: (q: FusionSample) => Float64Array): number => qs.filter((q) => ranksOf(score(q))[q.truth] === 1).length / qs.length;

describe('fitFusion', () => {
  it('fuses two noisy matchers into a better one, fitted on other queries than it is measured on', () => {
    const model = fitFusion(noisyQueries(400, 'fit'));
    expect(model.weights[0]).toBeGreaterThan(0);
    expect(model.weights[1]).toBeGreaterThan(0);
    const test = noisyQueries(400, 'test');
    const fused = top1(test, (q) => fusedScores(model, q.scores));
    const siamese = top1(test, (q) => matcherScores('siamese', q.scores));
    const local = top1(test, (q) => matcherScores('local', q.scores));
    expect(fused).toBeGreaterThan(Math.max(siamese, local) + 0.05);
  });

  it('samples each query\'s candidates and its own individual, and round-trips through JSON', () => {
    const qs = noisyQueries(10, 'few');
    const model = fitFusion(qs, { candidates: 3 });
    expect(model.fittedOn.queries).toBe(10);
    expect(model.fittedOn.positives).toBe(10);
    expect(model.fittedOn.samples).toBeGreaterThanOrEqual(10 * 3);
    expect(model.fittedOn.samples).toBeLessThanOrEqual(10 * 7);
    expect(parseFusionModel(JSON.parse(JSON.stringify(model)), 'f.json')).toEqual(model);
    expect(() => parseFusionModel({ ...model, weights: [1, 2] }, 'f.json')).toThrow(/f\.json: field weights: expected 4 finite numbers/);
    expect(() => parseFusionModel({ ...model, features: ['a'] }, 'f.json')).toThrow(/f\.json: field features/);
    expect(() => fitFusion(qs.map((q) => ({ ...q, truth: -1 })))).toThrow(/none of the 10 calibration queries/);
  });
});
