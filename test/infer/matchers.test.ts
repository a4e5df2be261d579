import { describe, it, expect } from 'vitest';
import { describedBy, MATCHER_KINDS, matcherOf } from '../../src/infer/matchers/matcher-registry.js';
import { checkCalibrationFor } from '../../src/infer/matchers/matcher-calibration.js';
import { newIndividualThreshold, thresholdForShare } from '../../src/infer/threshold.js';
import { DEFAULT_NEW_WHALE_THRESHOLD } from '../../src/infer/walk.js';

// issue 29 item 1: one registry of matchers, one rule for the new-individual threshold
describe('the matcher registry', () => {
  it('declares each matcher once: what describes a photo, its calibration, where it runs', () => {
    expect(MATCHER_KINDS).toEqual(['siamese', 'local', 'fused', 'fused-learned']);
    expect(describedBy(['siamese'])).toEqual({ embedding: true, local: false });
    expect(describedBy(['local'])).toEqual({ embedding: false, local: true });
    expect(describedBy(['siamese', 'local'])).toEqual({ embedding: true, local: true });
    expect(MATCHER_KINDS.filter((k) => matcherOf(k).sharded)).toEqual(['siamese']);
    expect(MATCHER_KINDS.filter((k) => matcherOf(k).oneShot)).toEqual(['siamese', 'local']);
    expect(MATCHER_KINDS.filter((k) => matcherOf(k).models.max > 1)).toEqual(['fused', 'fused-learned']);
    expect(describedBy(['fused-learned'])).toEqual({ embedding: true, local: false });
    expect(() => matcherOf('deep')).toThrow('Expected one of siamese, local, fused, fused-learned for --matcher but received "deep"');
  });

  it('ranks: siamese by its score, local by verified keypoints with the raw score only breaking ties, fused by the fusion', () => {
    const s = { siamese: Float64Array.of(0.9, 0.2, 0.5), local: Float64Array.of(0, 3, 0), localRaw: Float64Array.of(1, 2, 5) };
    expect(Array.from(matcherOf('siamese').rank(s).score)).toEqual([0.9, 0.2, 0.5]);
    const local = matcherOf('local').rank(s).score;
    expect(local[1]).toBeGreaterThan(local[2]);
    expect(local[2]).toBeGreaterThan(local[0]);
    expect(local[2]).toBeLessThan(1e-6);
    expect(() => matcherOf('fused').rank(s)).toThrow(/needs a fitted fusion/);
    const fusion = { version: 1 as const, features: [], weights: [1, 0, 0, 0], bias: 0, fittedOn: { queries: 1, samples: 1, positives: 1, logLoss: 0 } };
    const fused = matcherOf('fused').rank(s, fusion);
    expect(Array.from(fused.score)).toEqual(Array.from(fused.fused!));
    expect(fused.score[0]).toBeCloseTo(0.9, 6); // sigmoid(logit(0.9))
  });

  it('refuses a calibration of another matcher, or without the fusion its matcher needs', () => {
    expect(() => checkCalibrationFor('fused', undefined)).toThrow(/--matcher fused needs --matcher-calibration FILE with its fusion/);
    expect(() => checkCalibrationFor('local', { matcher: 'fused', threshold: 1 })).toThrow('the matcher calibration is for --matcher fused, not local');
    expect(() => checkCalibrationFor('local', undefined)).not.toThrow();
  });
});

describe('the new-individual threshold: one rule', () => {
  const siamese = { kind: 'siamese', ...matcherOf('siamese').calibration };
  const local = { kind: 'local', ...matcherOf('local').calibration };
  const scores = (): Float64Array[] => [Float64Array.of(0.1, 0.3), Float64Array.of(0.8), Float64Array.of(0.6, 0.2), Float64Array.of(0.95)];
  it('given, then a share of new answers, then the calibration file, then the run, then the default (for the run\'s own score only)', () => {
    const all = { given: 0.5, newShare: 0.5, scores, calibration: { threshold: 0.7 }, validation: { threshold: 0.9 } };
    expect(newIndividualThreshold(siamese, all)).toEqual({ threshold: 0.5, source: 'given' });
    expect(newIndividualThreshold(siamese, { ...all, given: undefined })).toEqual({ threshold: 0.7, source: 'new-share' });
    expect(newIndividualThreshold(siamese, { ...all, given: undefined, newShare: undefined })).toEqual({ threshold: 0.7, source: 'calibration' });
    expect(newIndividualThreshold(siamese, { validation: { threshold: 0.9 } })).toEqual({ threshold: 0.9, source: 'run' });
    expect(newIndividualThreshold(siamese, {})).toEqual({ threshold: DEFAULT_NEW_WHALE_THRESHOLD, source: 'default' });
    // the run's threshold is on its own score's scale: never the local matcher's
    expect(() => newIndividualThreshold(local, { validation: { threshold: 0.9 } })).toThrow('--matcher local needs a threshold: --threshold, --new-share, or --matcher-calibration FILE (evaluate-open --matcher local writes one)');
    expect(newIndividualThreshold(local, { calibration: { threshold: 4 } })).toEqual({ threshold: 4, source: 'calibration' });
  });

  it('a run threshold chosen on fewer than 20 queries gives way, with the scores at hand, to the validation share of new individuals, and says so', () => {
    const few = { validation: { threshold: 0.99, queries: 4, newWhaleBaseline: 0.5 } };
    expect(newIndividualThreshold(siamese, few)).toEqual({ threshold: 0.99, source: 'run' });
    const chosen = newIndividualThreshold(siamese, { ...few, scores });
    expect(chosen.source).toBe('run-share');
    expect(chosen.threshold).toBeCloseTo(0.7, 12);
    expect(chosen.note).toBe("the run's threshold 0.99 rests on 4 validation queries (fewer than 20): the threshold used answers new first for their share of new individuals, 50.0%");
    expect(newIndividualThreshold(siamese, { validation: { ...few.validation, queries: 20 }, scores })).toEqual({ threshold: 0.99, source: 'run' });
  });

  it('a share of new answers puts the threshold between the best scores', () => {
    expect(thresholdForShare(scores(), 0.5)).toBeCloseTo(0.7, 12);
    expect(thresholdForShare(scores(), 0)).toBe(0.3);
    expect(() => thresholdForShare(scores(), 1.5)).toThrow(/between 0 and 1 for newShare/);
  });
});
