import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { averagePrecisionAt5, scorePredictions } from '../../src/infer/metrics.js';
import { readLabels, NEW_WHALE } from '../../src/data/labels.js';
import { allNewWhale } from '../../src/predict/baselines.js';
import { SHARED_DATASETS } from '../helpers/tmp.js';

describe('averagePrecisionAt5', () => {
  it('gives 1/rank of the first hit', () => {
    expect(averagePrecisionAt5('a', ['a', 'b', 'c', 'd', 'e'])).toBe(1);
    expect(averagePrecisionAt5('c', ['a', 'b', 'c', 'd', 'e'])).toBeCloseTo(1 / 3, 12);
    expect(averagePrecisionAt5('e', ['a', 'b', 'c', 'd', 'e'])).toBeCloseTo(0.2, 12);
  });
  it('ignores predictions past the fifth', () => {
    expect(averagePrecisionAt5('f', ['a', 'b', 'c', 'd', 'e', 'f'])).toBe(0);
  });
  it('scores new_whale like any id', () => {
    expect(averagePrecisionAt5(NEW_WHALE, ['w_1', NEW_WHALE, 'w_2'])).toBe(0.5);
    expect(averagePrecisionAt5('w_2', [NEW_WHALE, 'w_1', 'w_2'])).toBeCloseTo(1 / 3, 12);
  });
  it('counts a repeated id at its first position only (Kaggle apk)', () => {
    expect(averagePrecisionAt5('b', ['a', 'a', 'b'])).toBeCloseTo(1 / 3, 12);
    expect(averagePrecisionAt5('a', ['a', 'a', 'a'])).toBe(1);
    expect(averagePrecisionAt5('x', ['a', 'a', 'a', 'a', 'a'])).toBe(0);
  });
});

describe('scorePredictions', () => {
  it('computes MAP@5, top-1 and top-5 on a hand-made case', () => {
    const truth = new Map([['1.jpg', 'w_a'], ['2.jpg', NEW_WHALE], ['3.jpg', 'w_c'], ['4.jpg', 'w_d']]);
    const preds = new Map([
      ['1.jpg', ['w_a', NEW_WHALE]], // 1
      ['2.jpg', ['w_a', 'w_b', NEW_WHALE]], // 1/3
      ['3.jpg', ['w_x', 'w_x', 'w_y', 'w_z', 'w_c']], // 1/5
      ['4.jpg', [NEW_WHALE]], // 0
    ]);
    const s = scorePredictions(truth, preds);
    expect(s.map5).toBeCloseTo((1 + 1 / 3 + 1 / 5 + 0) / 4, 12);
    expect(s.top1).toBe(0.25);
    expect(s.top5).toBe(0.75);
    expect(s.count).toBe(4);
  });
  it('refuses predictions for other photos, naming them', () => {
    const truth = new Map([['1.jpg', 'w_a'], ['2.jpg', 'w_b']]);
    expect(() => scorePredictions(truth, new Map([['1.jpg', ['w_a']], ['9.jpg', ['w_a']]]))).toThrow(/1 truth photo.*2\.jpg.*1 predicted photo.*9\.jpg/);
  });
});

const kaggleTrain = path.join(SHARED_DATASETS, 'humpback-kaggle/kaggle2019/train.csv');
describe('real Kaggle 2019 labels', () => {
  it.skipIf(!existsSync(kaggleTrain))('all-new_whale on train.csv scores the share of new_whale rows', async () => {
    const rows = await readLabels(kaggleTrain);
    const share = rows.filter((r) => r.id === NEW_WHALE).length / rows.length;
    const s = scorePredictions(new Map(rows.map((r) => [r.image, r.id])), new Map(allNewWhale(rows.map((r) => r.image)).map((p) => [p.image, p.ids])));
    expect(rows.length).toBe(25361);
    expect(share).toBeCloseTo(9664 / 25361, 12);
    expect(s.map5).toBeCloseTo(share, 12);
    expect(s.map5).toBeCloseTo(0.38106, 4);
  });
  it.runIf(!existsSync(kaggleTrain))('skips: ../shared/datasets is absent on this machine', () => {
    console.warn(`skipped the real-label test: ${kaggleTrain} not found`);
  });
});
