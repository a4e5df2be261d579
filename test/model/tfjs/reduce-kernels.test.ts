// The matMul-based Sum and Mean wasm kernels against the cpu backend's stock kernels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../src/model/tfjs/tfjs-backend.js';
import { leadingReduction, reduceKernelsRegistered, registerReduceKernels, unregisterReduceKernels } from '../../../src/model/tfjs/reduce-kernels.js';
import { randomArray, relError } from '../../helpers/numeric.js';

type Reduce = (x: tf.Tensor, axis: number | number[] | undefined, keepDims: boolean) => tf.Tensor;
const OPS: Record<string, Reduce> = {
  sum: (x, axis, keepDims) => tf.sum(x, axis, keepDims),
  mean: (x, axis, keepDims) => tf.mean(x, axis, keepDims),
};

function on(backend: string, op: Reduce, shape: number[], axis: number | number[] | undefined, keepDims: boolean, seed: string, offset = 0): { shape: number[]; values: Float32Array } {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const y = op(tf.tensor(randomArray(shape.reduce((p, q) => p * q, 1), seed, offset - 1, offset + 1), shape), axis, keepDims);
    return { shape: y.shape, values: y.dataSync() as Float32Array };
  });
}

describe('leadingReduction', () => {
  it('counts the leading axes a reduction covers, 0 for anything else', () => {
    expect(leadingReduction([0, 1, 2], 4)).toBe(3);
    expect(leadingReduction([2, 0, 1], 4)).toBe(3);
    expect(leadingReduction([-4, -3], 4)).toBe(2);
    expect(leadingReduction(0, 2)).toBe(1);
    expect(leadingReduction(undefined, 3)).toBe(3);
    expect(leadingReduction([1, 2], 4)).toBe(0);
    expect(leadingReduction([0, 2], 4)).toBe(0);
    expect(leadingReduction(-1, 4)).toBe(0);
    expect(leadingReduction([], 4)).toBe(0);
  });
});

describe('wasm Sum and Mean over leading axes', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    await initEngine({ backend: 'wasm' });
  });
  afterAll(async () => {
    await initEngine({ backend: 'wasm' });
  });

  it('is registered by initEngine for wasm', () => {
    expect(reduceKernelsRegistered('wasm')).toBe(true);
  });

  const cases: [number[], number | number[] | undefined, boolean][] = [
    [[4, 9, 7, 13], [0, 1, 2], false],
    [[4, 9, 7, 13], [0, 1, 2], true],
    [[4, 9, 7, 13], [-4, -3], false],
    [[3, 50], 0, false],
    [[6, 5, 4], undefined, false],
    [[6, 5, 4], [1, 2], false],
    [[6, 5, 4], -1, true],
  ];
  for (const [name, op] of Object.entries(OPS)) {
    for (const [shape, axis, keepDims] of cases) {
      it(`${name} of [${shape}] over ${JSON.stringify(axis)} keepDims ${keepDims} equals the cpu backend's`, () => {
        // An offset far from 0 makes a naive float32 accumulation show its error.
        const ref = on('cpu', op, shape, axis, keepDims, `${name}${shape}${axis}`, 3);
        const ours = on('wasm', op, shape, axis, keepDims, `${name}${shape}${axis}`, 3);
        expect(ours.shape).toEqual(ref.shape);
        expect(relError(ours.values, ref.values)).toBeLessThan(1e-5);
      });
    }
  }

  it('keeps int32 reductions exact and leaks no tensors', () => {
    tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const s = tf.tidy(() => tf.sum(tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 2147483, 9, 10, 11, 12], [2, 3, 2], 'int32'), [0, 1]).arraySync());
    expect(s).toEqual([1 + 3 + 5 + 7 + 9 + 11, 2 + 4 + 6 + 2147483 + 10 + 12]);
    tf.tidy(() => tf.mean(tf.randomNormal([8, 8, 8, 8]), [0, 1, 2]).dataSync());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives the gradient of a bias the same as the stock kernels', () => {
    tf.setBackend('wasm');
    const grad = (): Float32Array => tf.tidy(() => {
      const x = tf.tensor4d(randomArray(2 * 6 * 6 * 5, 'bias-x'), [2, 6, 6, 5]);
      const b = tf.tensor1d(randomArray(5, 'bias-b'));
      return tf.grad((bb: tf.Tensor) => tf.sum(tf.square(tf.add(x, bb))))(b).dataSync() as Float32Array;
    });
    const ours = grad();
    unregisterReduceKernels('wasm');
    expect(reduceKernelsRegistered('wasm')).toBe(false);
    const stock = grad();
    registerReduceKernels('wasm');
    expect(relError(ours, stock)).toBeLessThan(1e-5);
  });
});
