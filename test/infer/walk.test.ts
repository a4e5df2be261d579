import { describe, it, expect } from 'vitest';
import { walkPredictions } from '../../src/infer/walk.js';

const ids = ['w_a', 'w_a', 'w_b', 'w_c', 'w_d', 'w_e', 'w_f'];
describe('walkPredictions', () => {
  it('puts new_whale first when every score is below the threshold', () => {
    expect(walkPredictions([0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01], ids, 0.99)).toEqual(['new_whale', 'w_a', 'w_b', 'w_c', 'w_d']);
  });
  it('inserts new_whale in the middle, at the first score below the threshold, ids not repeated', () => {
    expect(walkPredictions([0.999, 0.998, 0.995, 0.5, 0.4, 0.3, 0.2], ids, 0.99)).toEqual(['w_a', 'w_b', 'new_whale', 'w_c', 'w_d']);
  });
  it('leaves new_whale out when 5 ids score above the threshold', () => {
    expect(walkPredictions([0.999, 0.999, 0.999, 0.999, 0.999, 0.999, 0.999], ids, 0.99)).toEqual(['w_a', 'w_b', 'w_c', 'w_d', 'w_e']);
  });
  it('gives fewer than 5 ids when fewer are known, new_whale placed by its threshold', () => {
    expect(walkPredictions([0.9, 0.995], ['w_a', 'w_b'], 0.99)).toEqual(['w_b', 'new_whale', 'w_a']);
    expect(walkPredictions([0.999, 0.995], ['w_a', 'w_b'], 0.99)).toEqual(['w_a', 'w_b', 'new_whale']);
  });
  it('never proposes new_whale-labelled photos as an id', () => {
    expect(walkPredictions([0.99999, 0.5], ['new_whale', 'w_a'], 0.99)).toEqual(['new_whale', 'w_a']);
  });
  it('orders ties by photo order', () => {
    expect(walkPredictions([0.5, 0.5, 0.5], ['w_x', 'w_y', 'w_z'], -Infinity)).toEqual(['w_x', 'w_y', 'w_z']);
  });
});
