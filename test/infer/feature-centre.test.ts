import { describe, it, expect } from 'vitest';
import { centreInPlace, meanFeature } from '../../src/infer/feature-centre.js';

describe('centred cosine', () => {
  it('takes the mean of whole rows, summed in float64', () => {
    // 0.1 three times sums to 0.30000000000000004 in float64 and 0.3 - 1 ulp in float32 steps
    expect([...meanFeature(Float32Array.of(0.1, 1, 0.1, 2, 0.1, 6), 2)]).toEqual([Math.fround(0.1), 3]);
    expect(() => meanFeature(Float32Array.of(1, 2, 3), 2)).toThrow(/whole rows of 2 values, got 3 values/);
    expect(() => meanFeature(new Float32Array(0), 2)).toThrow(/whole rows of 2 values, got 0 values/);
  });

  it('subtracts the centre from each row and scales it to unit length again', () => {
    const x = Float32Array.of(1, 0, 0, 0.6, 0.8, 0);
    centreInPlace(x, 3, Float32Array.of(0.5, 0.5, 0));
    // (0.5, -0.5, 0) and (0.1, 0.3, 0) at unit length
    const s = Math.SQRT1_2;
    const t = 1 / Math.sqrt(0.1);
    const want = [s, -s, 0, 0.1 * t, 0.3 * t, 0];
    want.forEach((v, i) => expect(x[i]).toBeCloseTo(v, 6));
    // the two photos' shared direction is gone: their cosine went from 0.6 to -0.447
    expect(x[0] * x[3] + x[1] * x[4]).toBeCloseTo(-0.1 / Math.sqrt(0.5 * 0.1), 6);
  });

  it('leaves a row equal to the centre all zero (cosine 0 with any photo) and refuses a centre of another size', () => {
    const x = Float32Array.of(0.6, 0.8);
    expect([...centreInPlace(x, 2, Float32Array.of(0.6, 0.8))]).toEqual([0, 0]);
    expect(() => centreInPlace(Float32Array.of(1, 0), 2, Float32Array.of(1, 0, 0))).toThrow(/a feature centre of 3 values for features of 2/);
  });
});
