/**
 * Fast Conv2D gradients for the tfjs wasm backend, registered as KERNELS.
 *
 * tfjs 4.22's wasm backend has no `Conv2DBackpropFilter` kernel at all, and its
 * `Conv2DBackpropInput` is about 10x slower than a plain conv2d of the same size. Registering a
 * gradient (`tf.registerGradient`) is not enough: tfjs-layers runs convolutions through
 * `tf.fused.conv2d`, whose gradient calls `conv2DBackpropFilter`/`conv2DBackpropInput` directly,
 * so the replacement has to sit one level lower, in the kernel registry.
 *
 * Both kernels are compositions of ops that are fast on wasm (pad, slice, concat, transpose,
 * matMul, conv2d):
 * - filter gradient: one im2col matrix of the padded input, built from contiguous slices of the
 *   spatially flattened input (see {@link conv2dBackpropFilterComposed}), times dy in ONE matMul;
 * - input gradient: a stride-1 conv2d of the zero-dilated dy with the spatially flipped,
 *   in/out-swapped filter (see {@link conv2dBackpropInputComposed}).
 */
import * as tf from '@tensorflow/tfjs';
// Side effect: registers the wasm backend and its stock kernels, which we then override.
import '@tensorflow/tfjs-backend-wasm';
import { invalidParameterError } from '../util/errors.js';

/** Padding as tfjs accepts it for conv2d: 'same', 'valid', a number or explicit NHWC pairs. */
export type ConvPad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

/** Options for the composed filter gradient. */
export interface FilterGradOptions {
  /**
   * Largest im2col matrix (in float32 elements) built at once; bigger batches are processed in
   * chunks of images and the partial gradients summed. Bounds peak memory: wasm has 4 GB in all.
   * Default 2^24 (64 MiB).
   */
  maxColumnElements?: number;
}

const DEFAULT_MAX_COLUMN_ELEMENTS = 1 << 24;

type Pair = [number, number];

/** Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor. */
function padOrCrop(t: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  let out = t;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, h, w, c] = out.shape;
    const t0 = Math.max(0, -top);
    const l0 = Math.max(0, -left);
    out = tf.slice(out, [0, t0, l0, 0], [n, h - t0 - Math.max(0, -bottom), w - l0 - Math.max(0, -right), c]);
  }
  const pads: Pair[] = [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ];
  return pads.some(([a, b]) => a > 0 || b > 0) ? tf.pad(out, pads) : out;
}

/** A slice that skips the copy when it would take the whole tensor. */
function sliceIfNeeded<T extends tf.Tensor>(t: T, begin: number[], size: number[]): T {
  const whole = begin.every((b) => b === 0) && size.every((s, i) => s === t.shape[i]);
  return whole ? t : tf.slice(t, begin, size);
}

function stridePair(strides: number | Pair): Pair {
  return typeof strides === 'number' ? [strides, strides] : strides;
}

function convInfo(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  strides: number | Pair,
  pad: ConvPad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
) {
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
}

/**
 * dW for one chunk of images: im2col of x (rows = output positions on a "wide" grid that keeps
 * the padded width, so each kernel offset is ONE contiguous slice of the flattened input) times
 * dy zero-padded to that grid. Returns [kh*kw*inC, outC].
 */
function filterGradChunk(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  padTop: number,
  padLeft: number,
): tf.Tensor2D {
  const [n, h, w, c] = x.shape;
  const [, outH, outW, outC] = dy.shape;
  // Stride s: split the padded input into s x s phases; offset a = s*qa + ra reads phase ra at
  // shift qa, so every window becomes a stride-1 window of one phase (no strided slices).
  const qh = Math.ceil(kh / sh);
  const qw = Math.ceil(kw / sw);
  const wideW = outW + qw - 1;
  // One spare row when windows shift horizontally: the last window's slice runs qw-1 past it.
  const phaseH = outH + qh - 1 + (qw > 1 ? 1 : 0);
  const xp = padOrCrop(x, padTop, phaseH * sh - h - padTop, padLeft, wideW * sw - w - padLeft);
  // [n, phaseH, sh, wideW, sw*c]: row phase ra is index ra on axis 2; column phase rb is the
  // channel block rb of the last axis, so both phases come from plain slices.
  const rows = tf.reshape(xp, [n, phaseH, sh, wideW, sw * c]);
  const spanRows = (outH + qh - 1) * wideW;
  const perRowPhase: tf.Tensor3D[] = [];
  for (let ra = 0; ra < Math.min(sh, kh); ra++) {
    const phase = sh === 1 ? rows : sliceIfNeeded(rows, [0, 0, ra, 0, 0], [n, phaseH, 1, wideW, sw * c]);
    const flat = tf.reshape(phase, [n, phaseH * wideW, sw * c]) as tf.Tensor3D;
    // Horizontal windows: shift qb covers offsets b = sw*qb + rb for rb < sw (fewer at the end),
    // giving channels ordered (b, c) for b = 0..kw-1.
    const parts: tf.Tensor3D[] = [];
    for (let qb = 0; qb < qw; qb++) {
      const width = Math.min(sw, kw - sw * qb) * c;
      parts.push(sliceIfNeeded(flat, [0, qb, 0], [n, spanRows, width]));
    }
    perRowPhase.push(parts.length === 1 ? parts[0] : tf.concat(parts, 2));
  }
  // Vertical windows: offset a reads row phase a % sh at row shift floor(a / sh); channels end up
  // ordered (a, b, c), the filter's own layout.
  const windows: tf.Tensor3D[] = [];
  for (let a = 0; a < kh; a++) {
    const src = perRowPhase[a % sh];
    windows.push(sliceIfNeeded<tf.Tensor3D>(src, [0, Math.floor(a / sh) * wideW, 0], [n, outH * wideW, kw * c]));
  }
  const cols = tf.reshape(windows.length === 1 ? windows[0] : tf.concat(windows, 2), [n * outH * wideW, kh * kw * c]);
  // Columns past outW are garbage windows: zero dy there so they add nothing.
  const dyWide = wideW > outW ? tf.pad(dy, [[0, 0], [0, 0], [0, wideW - outW], [0, 0]]) : dy;
  const dy2 = tf.reshape(dyWide, [n * outH * wideW, outC]);
  // matMul with transposeA leaves the wasm fast path; transposing the narrower dy once and
  // transposing the small product back is much cheaper.
  return tf.transpose(tf.matMul(tf.transpose(dy2), cols)) as tf.Tensor2D;
}

/**
 * Filter gradient of a 2-D convolution (NHWC, dilation 1) composed of fast tfjs ops. Runs on
 * whatever backend is active; registered as the wasm `Conv2DBackpropFilter` kernel.
 *
 * @param x - the convolution's input, [batch, height, width, inChannels]
 * @param dy - gradient of the convolution's output, [batch, outHeight, outWidth, outChannels]
 * @param filterShape - [filterHeight, filterWidth, inChannels, outChannels]
 * @param strides - stride, one number or [strideHeight, strideWidth]
 * @param pad - 'same', 'valid', a number, or explicit NHWC padding
 * @param dimRoundingMode - rounding of the output size when `pad` is a number
 * @param options - memory bound for the im2col matrix
 * @returns dW with shape `filterShape`
 * @throws {@link WhaleidError} when dy's shape does not match the convolution's output
 * @example
 * const dw = conv2dBackpropFilterComposed(x, dy, [3, 3, 64, 64], 1, 'same');
 */
export function conv2dBackpropFilterComposed(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | Pair,
  pad: ConvPad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
  options: FilterGradOptions = {},
): tf.Tensor4D {
  const info = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode);
  const expected = [x.shape[0], info.outHeight, info.outWidth, filterShape[3]];
  if (dy.shape.some((d, i) => d !== expected[i])) {
    throw invalidParameterError('conv2dBackpropFilter dy shape', `[${expected.join(',')}]`, `[${dy.shape.join(',')}]`);
  }
  const [kh, kw, c, outC] = filterShape;
  const [sh, sw] = stridePair(strides);
  const maxElements = options.maxColumnElements ?? DEFAULT_MAX_COLUMN_ELEMENTS;
  const n = x.shape[0];
  const perImage = info.outHeight * (info.outWidth + Math.ceil(kw / sw) - 1) * kh * kw * c;
  const chunk = Math.max(1, Math.min(n, Math.floor(maxElements / Math.max(1, perImage))));
  return tf.tidy(() => {
    let sum: tf.Tensor2D | null = null;
    for (let start = 0; start < n; start += chunk) {
      const size = Math.min(chunk, n - start);
      const xc = sliceIfNeeded(x, [start, 0, 0, 0], [size, ...x.shape.slice(1)]);
      const dyc = sliceIfNeeded(dy, [start, 0, 0, 0], [size, ...dy.shape.slice(1)]);
      const part = filterGradChunk(xc, dyc, kh, kw, sh, sw, info.padInfo.top, info.padInfo.left);
      sum = sum == null ? part : tf.add(sum, part);
    }
    return tf.reshape(sum as tf.Tensor2D, [kh, kw, c, outC]);
  });
}

/**
 * Input gradient of a 2-D convolution (NHWC, dilation 1) composed of fast tfjs ops: a stride-1
 * conv2d of dy, dilated with stride-1 zeros between its pixels, with the spatially flipped,
 * in/out-swapped filter, padded so that the result has exactly the input's shape. Registered as
 * the wasm `Conv2DBackpropInput` kernel.
 *
 * @param inputShape - the convolution input's shape, [batch, height, width, inChannels]
 * @param dy - gradient of the convolution's output, [batch, outHeight, outWidth, outChannels]
 * @param filter - the filter, [filterHeight, filterWidth, inChannels, outChannels]
 * @param strides - stride, one number or [strideHeight, strideWidth]
 * @param pad - 'same', 'valid', a number, or explicit NHWC padding
 * @param dimRoundingMode - rounding of the output size when `pad` is a number
 * @returns dx with shape `inputShape`
 * @throws {@link WhaleidError} when dy's shape does not match the convolution's output
 * @example
 * const dx = conv2dBackpropInputComposed([16, 96, 96, 64], dy, filter, 1, 'same');
 */
export function conv2dBackpropInputComposed(
  inputShape: [number, number, number, number],
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: number | Pair,
  pad: ConvPad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  const info = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode);
  const [n, h, w] = inputShape;
  const [kh, kw, , outC] = filter.shape;
  const expected = [n, info.outHeight, info.outWidth, outC];
  if (dy.shape.some((d, i) => d !== expected[i])) {
    throw invalidParameterError('conv2dBackpropInput dy shape', `[${expected.join(',')}]`, `[${dy.shape.join(',')}]`);
  }
  const [sh, sw] = stridePair(strides);
  const [, outH, outW] = dy.shape;
  return tf.tidy(() => {
    // Dilate with ONE pad: each pixel gets s-1 trailing zeros per axis (the trailing ones past the
    // last pixel are taken back by the bottom/right padding below).
    const dilated =
      sh === 1 && sw === 1
        ? dy
        : (tf.reshape(
            tf.pad(tf.reshape(dy, [n * outH, 1, outW, 1, outC]), [[0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]),
            [n, outH * sh, outW * sw, outC],
          ) as tf.Tensor4D);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    const bottom = h + info.padInfo.top - outH * sh;
    const right = w + info.padInfo.left - outW * sw;
    if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) {
      // Explicit padding inside the conv avoids materialising a padded copy of dy.
      return tf.conv2d(dilated, flipped as tf.Tensor4D, 1, [[0, 0], [top, bottom], [left, right], [0, 0]]);
    }
    return tf.conv2d(padOrCrop(dilated, top, bottom, left, right), flipped as tf.Tensor4D, 1, 'valid');
  });
}

/** Wraps a kernel input as a Tensor without taking ownership of its data. */
function asTensor(info: tf.TensorInfo, backend: tf.KernelBackend): tf.Tensor {
  if (info instanceof tf.Tensor) return info;
  // A bare TensorInfo (a kernel called from another kernel): the wrapper's dispose must not free
  // the caller's data, so take a reference for it first.
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

type Attrs = tf.NamedAttrMap & {
  strides: number | Pair;
  pad: ConvPad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

const toNhwc = (t: tf.Tensor4D, format?: string): tf.Tensor4D =>
  format === 'NCHW' ? tf.transpose(t, [0, 2, 3, 1]) : t;

function shapeToNhwc(shape: number[], format?: string): [number, number, number, number] {
  const [a, b, c, d] = shape;
  return format === 'NCHW' ? [a, c, d, b] : [a, b, c, d];
}

// The kernels return the composed result as a Tensor: the engine adopts kernel outputs that are
// already Tensors as they are (no second wrapper), so nothing is counted twice or leaked.
const filterKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as Attrs;
  const filterShape = (attrs as { filterShape: [number, number, number, number] }).filterShape;
  return tf.tidy(() => {
    const x = toNhwc(asTensor(inputs.x as tf.TensorInfo, backend as tf.KernelBackend) as tf.Tensor4D, a.dataFormat);
    const dy = toNhwc(asTensor(inputs.dy as tf.TensorInfo, backend as tf.KernelBackend) as tf.Tensor4D, a.dataFormat);
    return conv2dBackpropFilterComposed(x, dy, filterShape, a.strides, a.pad, a.dimRoundingMode);
  });
};

const inputKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as Attrs;
  const inputShape = shapeToNhwc((attrs as { inputShape: number[] }).inputShape, a.dataFormat);
  return tf.tidy(() => {
    const dy = toNhwc(asTensor(inputs.dy as tf.TensorInfo, backend as tf.KernelBackend) as tf.Tensor4D, a.dataFormat);
    const filter = asTensor(inputs.filter as tf.TensorInfo, backend as tf.KernelBackend) as tf.Tensor4D;
    const dx = conv2dBackpropInputComposed(inputShape, dy, filter, a.strides, a.pad, a.dimRoundingMode);
    return a.dataFormat === 'NCHW' ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
  });
};

/** Names of the kernels this module replaces. */
export const CONV_GRAD_KERNEL_NAMES = ['Conv2DBackpropFilter', 'Conv2DBackpropInput'] as const;

/**
 * Registers the composed Conv2D gradient kernels for a backend (wasm by default), replacing
 * whatever is registered under those names. Idempotent in effect: registering twice leaves ours
 * in place, and the returned function restores what was there before THIS call.
 *
 * @param backendName - the tfjs backend to register for
 * @returns a function that puts back the previous kernels (or removes ours where there were none)
 * @throws {@link WhaleidError} when `backendName` is empty
 * @example
 * const restore = registerConvGradKernels('wasm');
 * // ... train ...
 * restore(); // back to the stock wasm kernels
 */
export function registerConvGradKernels(backendName = 'wasm'): () => void {
  if (typeof backendName !== 'string' || backendName === '') {
    throw invalidParameterError('backendName', 'a tfjs backend name', backendName);
  }
  const previous = CONV_GRAD_KERNEL_NAMES.map((name) => tf.getKernel(name, backendName));
  const funcs: Record<(typeof CONV_GRAD_KERNEL_NAMES)[number], tf.KernelFunc> = {
    Conv2DBackpropFilter: filterKernel,
    Conv2DBackpropInput: inputKernel,
  };
  for (const name of CONV_GRAD_KERNEL_NAMES) {
    // Unregister first: registerKernel would log an "already registered" warning.
    if (tf.getKernel(name, backendName) != null) tf.unregisterKernel(name, backendName);
    tf.registerKernel({ kernelName: name, backendName, kernelFunc: funcs[name] });
  }
  return () => {
    CONV_GRAD_KERNEL_NAMES.forEach((name, i) => {
      if (tf.getKernel(name, backendName) != null) tf.unregisterKernel(name, backendName);
      const old = previous[i];
      if (old != null) tf.registerKernel(old);
    });
  };
}

/**
 * Whether the composed kernels are the ones registered for `backendName` right now.
 *
 * @param backendName - the tfjs backend to check
 * @returns true when both Conv2D gradient kernels are ours
 * @example
 * registerConvGradKernels();
 * convGradKernelsRegistered('wasm'); // true
 */
export function convGradKernelsRegistered(backendName = 'wasm'): boolean {
  return (
    tf.getKernel('Conv2DBackpropFilter', backendName)?.kernelFunc === filterKernel &&
    tf.getKernel('Conv2DBackpropInput', backendName)?.kernelFunc === inputKernel
  );
}
