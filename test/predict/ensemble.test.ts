import { describe, it, expect } from 'vitest';
import { ensembleSubmissions } from '../../src/predict/ensemble.js';

describe('ensembleSubmissions (rank vote)', () => {
  it('matches a hand-computed vote', () => {
    // weights: a 0.9^2 = 0.81, b 0.8^2 = 0.64
    const a = [{ image: 'q.jpg', ids: ['w1', 'w2', 'w3', 'w4', 'w5'] }];
    const b = [{ image: 'q.jpg', ids: ['w2', 'w6', 'w1', 'w7', 'w8'] }];
    // w1: 0.81 + 0.64/3 = 1.02333; w2: 0.81/2 + 0.64 = 1.045; w3: 0.27; w6: 0.32; w4: 0.2025; w5: 0.162; w7: 0.16; w8: 0.128
    const out = ensembleSubmissions([{ name: 'a', score: 0.9, predictions: a }, { name: 'b', score: 0.8, predictions: b }]);
    expect(out).toEqual([{ image: 'q.jpg', ids: ['w2', 'w1', 'w6', 'w3', 'w4'] }]);
  });
  it('breaks ties deterministically by best rank, then first appearance', () => {
    const a = [{ image: 'q', ids: ['x', 'y'] }];
    const b = [{ image: 'q', ids: ['y', 'x'] }];
    // equal weights: x and y both 1 + 1/2; both best rank 0; x seen first
    const out = ensembleSubmissions([{ name: 'a', score: 0.5, predictions: a }, { name: 'b', score: 0.5, predictions: b }]);
    expect(out[0].ids).toEqual(['x', 'y']);
    const rev = ensembleSubmissions([{ name: 'b', score: 0.5, predictions: b }, { name: 'a', score: 0.5, predictions: a }]);
    expect(rev[0].ids).toEqual(['y', 'x']);
  });
  it('lets a repeated id vote once', () => {
    const a = [{ image: 'q', ids: ['x', 'x', 'x', 'x', 'x'] }];
    const b = [{ image: 'q', ids: ['y'] }];
    const out = ensembleSubmissions([{ name: 'a', score: 1, predictions: a }, { name: 'b', score: 0.9, predictions: b }]);
    expect(out[0].ids).toEqual(['x', 'y']);
    const c = [{ image: 'q', ids: ['z'] }];
    // x alone: 1; with repeats it would be 2.28 > 1.0 + ... z at 1.05^2 = 1.1025 beats x only if repeats are ignored
    const out2 = ensembleSubmissions([{ name: 'a', score: 1, predictions: a }, { name: 'c', score: 1.05, predictions: c }]);
    expect(out2[0].ids).toEqual(['z', 'x']);
  });
  it('refuses submissions over different photos', () => {
    const a = [{ image: 'q1', ids: ['x'] }];
    const b = [{ image: 'q2', ids: ['x'] }];
    expect(() => ensembleSubmissions([{ name: 'a.csv', score: 1, predictions: a }, { name: 'b.csv', score: 1, predictions: b }])).toThrow(/b\.csv and a\.csv cover different photos/);
  });
});
