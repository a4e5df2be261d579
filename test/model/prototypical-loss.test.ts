import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { prototypicalLoss, prototypicalTargets } from '../../src/model/prototypical-loss.js';

describe('prototypical loss (tfjs)', () => {
  it('matches the value worked by hand, and its gradient pulls each query towards its own prototype', () => {
    // class 0: support (0,0), query (1,0); class 1: support (0,1), query (1,1). Each query is 1 from
    // its own prototype and 2 from the other: -log(e^-1 / (e^-1 + e^-2)) = log(1 + e^-1) each
    const z = tf.tensor2d([[0, 0], [1, 0], [0, 1], [1, 1]]);
    const y = prototypicalTargets(Int32Array.from([0, 1, 2, 3]), 2);
    expect(Array.from(y.dataSync())).toEqual([0, 0, 0, 1, 1, 0, 1, 1]);
    const loss = prototypicalLoss(2);
    expect(loss(y, z).dataSync()[0]).toBeCloseTo(Math.log(1 + Math.exp(-1)), 6);
    // support photos count only as prototypes: swapping the roles of class 1's photos changes the loss
    const swapped = prototypicalTargets(Int32Array.from([0, 1, 3, 2]), 2);
    expect(Math.abs(loss(swapped, z).dataSync()[0] - Math.log(1 + Math.exp(-1)))).toBeGreaterThan(1e-3);
    const g = tf.grad((x: tf.Tensor) => loss(y, x))(z).arraySync() as number[][];
    // query (1,0) of class 0 (prototype (0,0), the other (0,1)): along x it stays as far from
    // both, so no pull; lowering y takes it away from the other prototype: 2 p(other) = 2 / (1 + e)
    expect(g[1][0]).toBeCloseTo(0, 6);
    expect(g[1][1]).toBeCloseTo(2 / (1 + Math.E) / 2, 5); // the mean over the 2 queries

  });
});
