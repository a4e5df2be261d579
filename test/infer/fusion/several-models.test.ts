/**
 * The fusion of several learned models (runs and/or imported models) with or without local: its
 * features per model, the fit, the one-model file written before several models were fused
 * (test/fixtures/fusion: written by the code of commit e5aaedf) reading and scoring as it did,
 * and the checks that a fusion meets the models it was fitted on.
 */
import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { sigmoid } from '../../../src/infer/fusion/logistic.js';
import { checkFusionModels, fitFusion, FUSION_FEATURES, fusedScores, fusionFeatureNames, parseFusionModel, ranksOf, type FusionSample } from '../../../src/infer/fusion/fusion-model.js';
import { checkModelCount, matcherOf } from '../../../src/infer/matchers/matcher-registry.js';
import { readMatcherCalibration } from '../../../src/infer/matchers/matcher-calibration.js';
import { createRng } from '../../../src/util/random.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/fusion');

/** Queries over 30 individuals: two learned models and local, each finding the truth first only some of the time. */
function noisyQueries(n: number, seed: string): FusionSample[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    const truth = Math.floor(rng.uniform(0, 30));
    const siamese = Float64Array.from({ length: 30 }, (_, i) => sigmoid(rng.normal() + (i === truth ? 1.2 : 0)));
    const second = Float64Array.from({ length: 30 }, (_, i) => sigmoid(2 * rng.normal() + (i === truth ? 2.4 : 0)));
    const localRaw = Float64Array.from({ length: 30 }, (_, i) => Math.exp(rng.normal() + (i === truth ? 1.5 : 0)));
    const local = Float64Array.from(localRaw, (v) => (v > 2 ? v : 0));
    return { scores: { siamese, learned: [second], local, localRaw }, truth };
  });
}

const top1 = (qs: FusionSample[], score: (q: FusionSample) => Float64Array): number => qs.filter((q) => ranksOf(score(q))[q.truth] === 1).length / qs.length;

/** 1-based ranks by descending score, ties by descending `tie`, then by number: written apart from the module. */
function handRanks(v: ArrayLike<number>, tie?: ArrayLike<number>): number[] {
  const order = Array.from(v, (_, i) => i).sort((a, b) => v[b] - v[a] || (tie ? tie[b] - tie[a] : 0) || a - b);
  const r: number[] = [];
  order.forEach((i, k) => (r[i] = k + 1));
  return r;
}
const handLogit = (p: number): number => {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  return Math.log(q / (1 - q));
};

describe('a fusion of several learned models', () => {
  it('names its features per model; one model with local keeps the first fusion\'s features', () => {
    expect(fusionFeatureNames({ models: 1, local: true })).toEqual([...FUSION_FEATURES]);
    expect(fusionFeatureNames({ models: 2, local: true })).toEqual(['logit(siamese)', 'logit(model2)', 'log1p(local)', '1/rank(siamese)', '1/rank(model2)', '1/rank(local)']);
    expect(fusionFeatureNames({ models: 3, local: false })).toEqual(['logit(siamese)', 'logit(model2)', 'logit(model3)', '1/rank(siamese)', '1/rank(model2)', '1/rank(model3)']);
  });

  it('two learned models and local fused rank the truth first more often than any of them, and score as computed by hand', () => {
    const shape = { models: 2, local: true };
    const model = fitFusion(noisyQueries(400, 'fit-2'), { shape, modelVersions: ['a@1', 'b@2'] });
    expect(model).toMatchObject({ version: 2, models: 2, local: true, modelVersions: ['a@1', 'b@2'] });
    expect(model.weights).toHaveLength(6);
    const test = noisyQueries(400, 'test-2');
    const fused = top1(test, (q) => matcherOf('fused').rank(q.scores, model).score);
    const parts = [top1(test, (q) => q.scores.siamese), top1(test, (q) => q.scores.learned![0]), top1(test, (q) => matcherOf('local').rank(q.scores).score)];
    expect(fused).toBeGreaterThan(Math.max(...parts) + 0.05);
    const s = test[0].scores;
    const [rs, r2, rl] = [handRanks(s.siamese), handRanks(s.learned![0]), handRanks(s.local, s.localRaw)];
    const hand = Array.from(s.siamese, (_, i) => {
      const x = [handLogit(s.siamese[i]), handLogit(s.learned![0][i]), Math.log1p(s.local[i]), 1 / rs[i], 1 / r2[i], 1 / rl[i]];
      return 1 / (1 + Math.exp(-(model.bias + x.reduce((t, v, j) => t + v * model.weights[j], 0))));
    });
    const got = fusedScores(model, s);
    hand.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 12));
  });

  it('fuses learned models without local (fused-learned), and refuses one model alone there', () => {
    const qs = noisyQueries(300, 'fit-learned');
    const model = fitFusion(qs, { shape: { models: 2, local: false } });
    expect(model.features).toEqual(fusionFeatureNames({ models: 2, local: false }));
    const test = noisyQueries(300, 'test-learned');
    expect(top1(test, (q) => matcherOf('fused-learned').rank(q.scores, model).score)).toBeGreaterThan(Math.max(top1(test, (q) => q.scores.siamese), top1(test, (q) => q.scores.learned![0])));
    // the local scores play no part: changing them leaves every fused score as it was
    const s = test[1].scores;
    expect(fusedScores(model, { ...s, local: s.local.map(() => 99), localRaw: s.localRaw.map(() => 0) })).toEqual(fusedScores(model, s));
    expect(() => fitFusion(qs, { shape: { models: 1, local: false } })).toThrow(/at least 2 learned models/);
  });

  it('reads back what it writes, and refuses a file whose shape and features disagree', () => {
    const model = fitFusion(noisyQueries(100, 'rw'), { shape: { models: 2, local: true } });
    expect(parseFusionModel(JSON.parse(JSON.stringify(model)), 'f.json')).toEqual(model);
    expect(() => parseFusionModel({ ...model, models: 3 }, 'f.json')).toThrow(/^f\.json: field features: expected \["logit\(siamese\)","logit\(model2\)","logit\(model3\)"/);
    expect(() => parseFusionModel({ ...model, local: 'yes' }, 'f.json')).toThrow(/f\.json: field local: expected true or false/);
    expect(() => parseFusionModel({ ...model, weights: model.weights.slice(1) }, 'f.json')).toThrow(/field weights: expected 6 finite numbers/);
    expect(() => parseFusionModel({ ...model, version: 3 }, 'f.json')).toThrow(/field version: expected 1 or 2/);
    // scores of fewer learned models than it fuses are refused, not read as zeros
    const s = noisyQueries(1, 'few')[0].scores;
    expect(() => fusedScores(model, { ...s, learned: undefined })).toThrow(/combines 2 learned models, the scores hold 1/);
  });

  it('refuses models other than those it was fitted on', () => {
    const model = fitFusion(noisyQueries(100, 'models'), { shape: { models: 2, local: true }, modelVersions: ['run@aa', 'resnet@bb'] });
    expect(() => checkFusionModels(model, ['run@aa', 'resnet@bb'], 'e.json')).not.toThrow();
    expect(() => checkFusionModels(model, ['run@aa'], 'e.json')).toThrow(/^e\.json: the fusion was fitted on 2 learned model\(s\), 1 given by --model/);
    expect(() => checkFusionModels(model, ['resnet@bb', 'run@aa'], 'e.json')).toThrow(/fitted on the models run@aa, resnet@bb; --model gives resnet@bb, run@aa/);
  });

  it('a matcher takes the number of models the registry declares', () => {
    expect(() => checkModelCount('fused', 3)).not.toThrow();
    expect(() => checkModelCount('fused-learned', 2)).not.toThrow();
    expect(() => checkModelCount('siamese', 2)).toThrow(/^--matcher siamese takes 1 --model, got 2; 2 models are ranked by --matcher fused or fused-learned$/);
    expect(() => checkModelCount('fused-learned', 1)).toThrow(/^--matcher fused-learned takes 2 or more --model, got 1; 1 models are ranked by --matcher siamese or local or fused$/);
  });
});

describe('a one-model .matcher.json written before several models were fused', () => {
  it('still loads and gives the same scores', async () => {
    const c = await readMatcherCalibration(path.join(FIXTURES, 'one-model.matcher.json'), 'fused');
    expect(c.threshold).toBe(0.4321);
    expect(c.fusion).toMatchObject({ version: 1, features: [...FUSION_FEATURES] });
    const probes = JSON.parse(readFileSync(path.join(FIXTURES, 'one-model.probes.json'), 'utf8')) as { siamese: number[]; local: number[]; localRaw: number[]; fused: number[] }[];
    expect(probes).toHaveLength(4);
    for (const p of probes) {
      const s = { siamese: Float64Array.from(p.siamese), local: Float64Array.from(p.local), localRaw: Float64Array.from(p.localRaw) };
      expect(Array.from(fusedScores(c.fusion!, s))).toEqual(p.fused);
      expect(Array.from(matcherOf('fused').rank(s, c.fusion).score)).toEqual(p.fused);
    }
    expect(() => checkFusionModels(c.fusion!, ['any@1'], 'old.json')).not.toThrow();
    expect(() => checkFusionModels(c.fusion!, ['a@1', 'b@2'], 'old.json')).toThrow(/fitted on 1 learned model/);
  });
});
