// The speed work must not change what training computes: the whole Siamese network's gradients on
// our engine (wasm + our Conv2D gradient, Sum/Mean and BatchNorm-gradient kernels) against the
// cpu backend with tfjs's own kernels and gradients, in training mode (batch statistics).
import { afterAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { registerBatchNormGradient, unregisterBatchNormGradient } from '../../src/model/tfjs/batch-norm-grad.js';
import { relError } from '../helpers/numeric.js';
import { parityGradients, parityWeights } from '../helpers/siamese-gradients.js';

describe('training parity of our engine with tfjs reference kernels', () => {
  afterAll(async () => {
    registerBatchNormGradient();
    await initEngine({ backend: 'wasm' });
  });

  it('gives the Siamese network the same loss and weight gradients as the cpu backend with stock gradients (small preset, batch statistics)', async () => {
    await initEngine({ backend: 'cpu' });
    const weights = parityWeights();
    unregisterBatchNormGradient();
    const ref = parityGradients(weights);
    registerBatchNormGradient();
    await initEngine({ backend: 'wasm' });
    const ours = parityGradients(weights);
    expect(ours.grads.length).toBe(ref.grads.length);
    expect(ours.grads.length).toBeGreaterThan(20);
    expect(Math.abs(ours.loss - ref.loss)).toBeLessThan(1e-5);
    const errors = ours.grads.map((g, i) => relError(g, ref.grads[i]));
    expect(Math.max(...errors)).toBeLessThan(2e-4); // measured 4.5e-5
    errors.sort((p, q) => p - q);
    console.log(`loss ${ours.loss} vs ${ref.loss}; weight-gradient relative errors: median ${errors[Math.floor(errors.length / 2)].toExponential(2)}, max ${errors.at(-1)!.toExponential(2)} over ${errors.length} weights`);
    expect(errors[Math.floor(errors.length / 2)]).toBeLessThan(5e-5); // measured 2.0e-5
  });
});
