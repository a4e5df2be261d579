// The composed Conv2D gradient kernels on wasm against the cpu backend's stock kernels.
// Error measure throughout: max|ours - ref| / max|ref| over the whole tensor (normwise relative).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../src/model/tfjs/tfjs-backend.js';
import {
  conv2dBackpropFilterComposed,
  convGradKernelsRegistered,
  registerConvGradKernels,
  unregisterConvGradKernels,
  type ConvPad,
} from '../../../src/model/tfjs/conv-grad-kernels.js';
import { randomArray, relError } from '../../helpers/numeric.js';

type Shape4 = [number, number, number, number];

interface Case {
  k: number;
  s: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  pad: ConvPad;
  n?: number;
  format?: 'NHWC' | 'NCHW';
}

function attrs(c: Case, shape: { filterShape: Shape4 } | { inputShape: Shape4 }): tf.NamedAttrMap {
  // ConvPad's explicit form is a nested array, which NamedAttrMap's typing does not spell out.
  return { strides: c.s, pad: c.pad, dataFormat: c.format ?? 'NHWC', ...shape } as unknown as tf.NamedAttrMap;
}

/** Shapes of x (in the case's data format), filter and dy for a case. */
function shapes(c: Case): { x: Shape4; filter: Shape4; dy: Shape4 } {
  const n = c.n ?? 2;
  const nchw = c.format === 'NCHW';
  const x: Shape4 = nchw ? [n, c.cin, c.h, c.w] : [n, c.h, c.w, c.cin];
  const filter: Shape4 = [c.k, c.k, c.cin, c.cout];
  const info = tf.backend_util.computeConv2DInfo(x, filter, c.s, 1, c.pad, undefined, false, nchw ? 'channelsFirst' : 'channelsLast');
  return {
    x,
    filter,
    dy: nchw ? [n, c.cout, info.outHeight, info.outWidth] : [n, info.outHeight, info.outWidth, c.cout],
  };
}

/** Both gradients through the registered kernels of the ACTIVE backend. */
function gradients(c: Case, tag: string): { dw: Float32Array; dx: Float32Array } {
  const sh = shapes(c);
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(tf.util.sizeFromShape(sh.x), `x${tag}`), sh.x);
    const filter = tf.tensor4d(randomArray(tf.util.sizeFromShape(sh.filter), `f${tag}`), sh.filter);
    const dy = tf.tensor4d(randomArray(tf.util.sizeFromShape(sh.dy), `dy${tag}`), sh.dy);
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs(c, { filterShape: sh.filter })) as tf.Tensor;
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, attrs(c, { inputShape: sh.x })) as tf.Tensor;
    return { dw: dw.dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
  });
}

const CASES: Case[] = [];
for (const k of [1, 3, 9]) {
  for (const s of [1, 2]) {
    CASES.push({ k, s, h: 7, w: 7, cin: 1, cout: 4, pad: 'same' });
    CASES.push({ k, s, h: 12, w: 12, cin: 3, cout: 5, pad: 'same' });
    CASES.push({ k, s, h: 13, w: 10, cin: 8, cout: 8, pad: 'same', n: 1 });
  }
}
CASES.push(
  { k: 3, s: 2, h: 11, w: 10, cin: 3, cout: 4, pad: 'valid' },
  { k: 9, s: 2, h: 20, w: 21, cin: 2, cout: 3, pad: 'valid' },
  { k: 3, s: 1, h: 5, w: 6, cin: 2, cout: 2, pad: 2 },
  { k: 3, s: 2, h: 9, w: 9, cin: 2, cout: 2, pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
  { k: 3, s: 1, h: 6, w: 5, cin: 3, cout: 2, pad: 'same', format: 'NCHW' },
  { k: 3, s: 2, h: 7, w: 8, cin: 2, cout: 3, pad: [[0, 0], [0, 0], [1, 2], [2, 0]], format: 'NCHW' },
  { k: 2, s: 2, h: 3, w: 3, cin: 1, cout: 1, pad: 'same' },
);

describe('composed Conv2D gradient kernels (wasm vs cpu stock)', () => {
  beforeAll(async () => {
    const info = await initEngine();
    expect(info.backend).toBe('wasm');
  });
  afterAll(async () => {
    await initEngine();
  });

  it('initEngine uses the local single-threaded wasm build (the first start decides) and registers our kernels', async () => {
    const info = await initEngine({ threads: 2 });
    expect(info).toEqual({ backend: 'wasm', threads: 1 });
    expect(convGradKernelsRegistered('wasm')).toBe(true);
    await expect(initEngine({ backend: 'gpu' as never })).rejects.toThrow(/Expected 'wasm' or 'cpu' for backend/);
    await expect(initEngine({ threads: 0 })).rejects.toThrow(/integer from 1 to 8 for threads/);
  });

  it('matches the cpu backend on kernels 1/3/9, strides 1/2, odd/even sizes and paddings', async () => {
    const ours = CASES.map((c, i) => gradients(c, String(i)));
    await initEngine({ backend: 'cpu' });
    const refs = CASES.map((c, i) => gradients(c, String(i)));
    await initEngine();
    let worst = 0;
    CASES.forEach((c, i) => {
      const errW = relError(ours[i].dw, refs[i].dw);
      const errX = relError(ours[i].dx, refs[i].dx);
      worst = Math.max(worst, errW, errX);
      expect({ case: c, errW: errW < 1e-4, errX: errX < 1e-4 }).toEqual({ case: c, errW: true, errX: true });
    });
    console.log(`conv gradients: ${CASES.length} cases, max relative error ${worst.toExponential(2)}`);
  });

  it('gives the same filter gradient for any matMul chunking (partial rows, several images), on any backend', async () => {
    const c: Case = { k: 3, s: 2, h: 10, w: 9, cin: 3, cout: 4, pad: 'same', n: 3 };
    const sh = shapes(c);
    const composed = (chunkLength: number) =>
      tf.tidy(() => {
        const x = tf.tensor4d(randomArray(tf.util.sizeFromShape(sh.x), 'cx'), sh.x);
        const dy = tf.tensor4d(randomArray(tf.util.sizeFromShape(sh.dy), 'cdy'), sh.dy);
        return conv2dBackpropFilterComposed(x, dy, sh.filter, c.s, c.pad, undefined, { chunkLength }).dataSync() as Float32Array;
      });
    const results = [1, 4, 7, 30, 200, 100000].map(composed);
    for (const r of results.slice(1)) expect(relError(r, results[0])).toBeLessThan(1e-5);
    // The same composition on the cpu backend (no wasm heap copies) against cpu's stock kernel.
    await initEngine({ backend: 'cpu' });
    const onCpu = composed(7);
    const stock = tf.tidy(() => {
      const x = tf.tensor4d(randomArray(tf.util.sizeFromShape(sh.x), 'cx'), sh.x);
      const dy = tf.tensor4d(randomArray(tf.util.sizeFromShape(sh.dy), 'cdy'), sh.dy);
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, attrs(c, { filterShape: sh.filter })) as tf.Tensor;
      return dw.dataSync() as Float32Array;
    });
    await initEngine();
    expect(relError(onCpu, stock)).toBeLessThan(1e-5);
    expect(relError(results[0], stock)).toBeLessThan(1e-5);
    expect(() => conv2dBackpropFilterComposed(tf.zeros([1, 4, 4, 1]), tf.zeros([1, 3, 4, 2]), [3, 3, 1, 2], 1, 'same')).toThrow(
      /Expected \[1,4,4,2\] for conv2dBackpropFilter dy shape but received "\[1,3,4,2\]"/,
    );
  });

  it('leaks no tensors and no backend data, also when called with bare TensorInfos', () => {
    const c: Case = { k: 3, s: 2, h: 9, w: 8, cin: 2, cout: 3, pad: 'same' };
    gradients(c, 'warm');
    const before = tf.memory().numTensors;
    const beforeData = tf.engine().backend.numDataIds();
    tf.env().set('IS_TEST', true); // makes the engine check every kernel for internal leaks
    try {
      gradients(c, 'leak');
    } finally {
      tf.env().set('IS_TEST', false);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(beforeData);

    // A kernel called from another kernel gets TensorInfos, not Tensors: the inputs must survive.
    const sh = shapes(c);
    const x = tf.tensor4d(randomArray(tf.util.sizeFromShape(sh.x), 'ix'), sh.x);
    const dy = tf.tensor4d(randomArray(tf.util.sizeFromShape(sh.dy), 'idy'), sh.dy);
    const kernel = tf.getKernel('Conv2DBackpropFilter', 'wasm');
    const out = kernel.kernelFunc({
      inputs: { x: { dataId: x.dataId, shape: x.shape, dtype: x.dtype }, dy: { dataId: dy.dataId, shape: dy.shape, dtype: dy.dtype } },
      backend: tf.engine().backend,
      attrs: attrs(c, { filterShape: sh.filter }),
    }) as tf.Tensor;
    const expected = conv2dBackpropFilterComposed(x, dy, sh.filter, c.s, c.pad);
    expect(relError(out.dataSync() as Float32Array, expected.dataSync() as Float32Array)).toBe(0);
    expect(x.dataSync().length).toBe(x.size);
    tf.dispose([out, expected, x, dy]);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(beforeData);
  });

  it('trains a tiny tfjs-layers conv model (fused conv gradients) one SGD step on wasm as on cpu', async () => {
    const build = (): tf.Sequential => {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [10, 9, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' }),
          tf.layers.conv2d({ filters: 2, kernelSize: 1, padding: 'same' }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 1 }),
        ],
      });
      model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
      return model;
    };
    const shapesOf = tf.tidy(() => build().getWeights().map((w) => w.shape));
    const initial = shapesOf.map((shape, i) => randomArray(tf.util.sizeFromShape(shape), `w${i}`));
    const step = async (backend: 'wasm' | 'cpu') => {
      await initEngine({ backend });
      const model = build();
      model.setWeights(initial.map((values, i) => tf.tensor(values, shapesOf[i])));
      const xs = tf.tensor4d(randomArray(3 * 10 * 9 * 2, 'xs'), [3, 10, 9, 2]);
      const ys = tf.tensor2d(randomArray(3, 'ys'), [3, 1]);
      let loss = 0;
      const profile = await tf.profile(async () => {
        loss = (await model.trainOnBatch(xs, ys)) as number;
      });
      const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
      tf.dispose([xs, ys]);
      model.dispose();
      return { loss, weights, kernels: new Set(profile.kernels.map((k) => k.name)) };
    };
    const wasm = await step('wasm');
    const cpu = await step('cpu');
    await initEngine();
    expect(wasm.kernels.has('Conv2DBackpropFilter')).toBe(true);
    expect(wasm.kernels.has('Conv2DBackpropInput')).toBe(true);
    expect(Math.abs(wasm.loss - cpu.loss) / cpu.loss).toBeLessThan(1e-5);
    wasm.weights.forEach((w, i) => {
      expect(relError(w, initial[i])).toBeGreaterThan(1e-4); // the step did move every weight
      expect(relError(w, cpu.weights[i])).toBeLessThan(1e-4);
    });
  });

  // The stock input gradient alone takes 3-25 s at batch 16 on this shared 2-core machine, so the
  // routine run uses batch 2; WHALEID_TIMING_BATCH=16 gives the figure quoted in the report.
  const batch = Number(process.env.WHALEID_TIMING_BATCH ?? 2);
  it(`timing (printed, not asserted): 3x3 64->64, 96x96, batch ${batch}`, async () => {
    const x = tf.randomUniform([batch, 96, 96, 64], -1, 1, 'float32', 1) as tf.Tensor4D;
    const filter = tf.randomUniform([3, 3, 64, 64], -1, 1, 'float32', 2) as tf.Tensor4D;
    const dy = tf.randomUniform([batch, 96, 96, 64], -1, 1, 'float32', 3) as tf.Tensor4D;
    const kernelAttrs = (extra: object) => ({ strides: 1, pad: 'same', dataFormat: 'NHWC', ...extra }) as tf.NamedAttrMap;
    const time = async (run: () => tf.Tensor): Promise<number> => {
      const t0 = performance.now();
      const out = run();
      await out.data();
      out.dispose();
      return performance.now() - t0;
    };
    const forward = () => tf.conv2d(x, filter, 1, 'same');
    const filterGrad = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, kernelAttrs({ filterShape: filter.shape })) as tf.Tensor;
    const inputGrad = () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, kernelAttrs({ inputShape: x.shape })) as tf.Tensor;
    await time(forward); // warm-up: XNNPACK operator creation
    // Warm-up for ours too (first-call JIT and allocation), on one image to keep it short.
    const [x1, dy1] = [x.slice(0, 1), dy.slice(0, 1)];
    await time(() => tf.engine().runKernel('Conv2DBackpropFilter', { x: x1, dy: dy1 }, kernelAttrs({ filterShape: filter.shape })) as tf.Tensor);
    await time(() => tf.engine().runKernel('Conv2DBackpropInput', { dy: dy1, filter }, kernelAttrs({ inputShape: x1.shape })) as tf.Tensor);
    tf.dispose([x1, dy1]);
    const ms = { forward: await time(forward), ourFilter: await time(filterGrad), ourInput: await time(inputGrad), stockInput: 0 };
    unregisterConvGradKernels('wasm');
    try {
      ms.stockInput = await time(inputGrad);
      expect(() => filterGrad()).toThrow(/Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'/);
    } finally {
      registerConvGradKernels('wasm');
    }
    tf.dispose([x, filter, dy]);
    const f = (v: number) => `${Math.round(v)} ms`;
    console.log(
      `wasm 1 thread, 3x3 64->64 96x96 batch ${batch}: forward ${f(ms.forward)}; input grad stock ${f(ms.stockInput)} vs ours ${f(ms.ourInput)} ` +
        `(${(ms.stockInput / ms.ourInput).toFixed(1)}x); filter grad ours ${f(ms.ourFilter)} (stock: none)`,
    );
  });

  it('restores the stock kernels and registers ours again', () => {
    registerConvGradKernels('wasm'); // idempotent
    expect(convGradKernelsRegistered('wasm')).toBe(true);
    unregisterConvGradKernels('wasm');
    // Back to stock: wasm has a (slow) input gradient but no filter gradient at all.
    expect(convGradKernelsRegistered('wasm')).toBe(false);
    expect(tf.getKernel('Conv2DBackpropInput', 'wasm')).toBeDefined();
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    registerConvGradKernels('wasm');
    expect(convGradKernelsRegistered('wasm')).toBe(true);
  });
});
