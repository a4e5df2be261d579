import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { niceTicks } from '../../src/train/report-chart.js';
import { writeTrainingReport } from '../../src/train/run-report.js';
import { chanceMap5, evaluateValidation } from '../../src/train/validation.js';
import { tmpDir } from '../helpers/tmp.js';
import type { HeadWeights } from '../../src/model/network/head.js';

describe('report.html', () => {
  it('ticks are round values covering the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.5, 0.547, 5)).toEqual([0.5, 0.51, 0.52, 0.53, 0.54]);
    expect(niceTicks(1, 22, 6)).toEqual([5, 10, 15, 20]);
  });

  it('chance MAP@5 of a random ranking: H5/(M+1), fewer ranks when few individuals', () => {
    expect(chanceMap5(99)).toBeCloseTo((1 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5) / 100, 12);
    expect(chanceMap5(1)).toBeCloseTo((1 + 1 / 2) / 2, 12); // one known id + new_whale: ranks 1-2 only
  });

  it('validation gives baselines and closed-set examples with best photo per individual', () => {
    // gallery photos 0..3 (ids a, a, b, c); queries 4 (truth b) and 5 (new_whale); 2 features, head = |a-b| weighted
    const ids = ['a', 'a', 'b', 'c', 'b', 'new_whale'];
    const feats = Float32Array.from([0, 0, 0.1, 0, 5, 5, 9, 9, 5, 5.2, 20, 20]);
    const rowOf = new Map([0, 1, 2, 3, 4, 5].map((i) => [i, i]));
    const split = { train: [], gallery: [0, 1, 2, 3], queries: [{ index: 4, truth: 'b' }, { index: 5, truth: 'new_whale' }] };
    // a head that scores by closeness: logit = -sum |a-b|, bias 3
    const w: HeadWeights = { features: 2, mid: 1, w1: Float32Array.from([0, 0, 1, 0]), b1: new Float32Array(1), w2: Float32Array.from([1]), b2: 0, w3: Float32Array.from([-1, -1]), b3: 3 };
    const v = evaluateValidation(feats, rowOf, ids, split, w);
    expect(v.newWhaleBaseline).toBe(0.5);
    expect(v.chance).toBeCloseTo(chanceMap5(3), 12);
    expect(v.examples).toHaveLength(2);
    expect(v.examples[0].query).toBe(4);
    expect(v.examples[0].candidates.map((c) => c.id)).toEqual(['b', 'c', 'a']);
    expect(v.examples[0].candidates[0].photo).toBe(2);
    expect(v.examples[0].candidates[2].photo).toBe(1); // a's closer photo (0.1,0) beats (0,0)
  });

  it('draws baseline and chance lines, a test table, the gallery with right candidates marked, settings as a table', async () => {
    const dir = tmpDir();
    const history = [
      { kind: 'epoch', epoch: 1, loss: 0.7 },
      { kind: 'validation', epoch: 1, map5: 0.52, threshold: 0.9, top1: 0.5, closedTop1: 0.1, queries: 16, newWhaleBaseline: 0.5, chance: 0.05, curve: [[0.5, 0.5], [0.9, 0.52]] },
    ];
    const img = 'data:image/png;base64,AAAA';
    await writeTrainingReport(dir, history, {
      title: 'run <x>',
      config: { preset: 'tiny', seed: 3 },
      tests: [{ label: 'run1.csv', map5: 0.42, top1: 0.35, top5: 0.55 }],
      gallery: [{ name: 'q.jpg', truth: 'w_1', image: img, candidates: [{ id: 'w_2', name: 'p.jpg', score: 0.9, image: img, correct: false }, { id: 'w_1', name: 'r.jpg', score: 0.8, image: img, correct: true }] }],
    });
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain('run &#60;x&#62;');
    expect(html).toContain('all new individual 0.500');
    // issue 33 item 8: words for any animal, new_whale only in Kaggle files
    expect(html).not.toContain('new_whale');
    expect(html).toContain('chance 0.050');
    expect(html).toMatch(/stroke-dasharray/);
    expect(html).toContain('<td>run1.csv</td><td>0.4200</td>');
    expect(html.match(/<figure class="right">/g)).toHaveLength(1);
    expect(html).toContain('2. w_1 ✓');
    expect(html).toContain('<tr><th>preset</th><td>tiny</td></tr>');
    expect(html).not.toContain('<pre>');
  });
});
