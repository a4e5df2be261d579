/**
 * Conv2D gradients composed of ops that are fast on the tfjs wasm backend. Registered as wasm
 * kernels by `conv-grad-kernels.ts`; usable directly on any backend.
 *
 * What is slow on wasm (tfjs 4.22), and so avoided here (measured, see the test's timing print):
 * - `matMul` leaves XNNPACK for a naive loop when either operand is transposed;
 * - XNNPACK's fully-connected op packs the RIGHT operand as weights (a full copy per new tensor)
 *   and does not block the contracted dimension: one product contracting over 150k rows ran
 *   3x slower than the same work in ~2-4k-row pieces;
 * - `Slice` runs in JavaScript and first copies the WHOLE source tensor out of the heap, and
 *   `Concat` copies row by row in JavaScript: dozens of them over an im2col matrix cost seconds;
 * - `Gather` copies element by element.
 * So the filter gradient lays the input out channel-first (one Transpose kernel), copies its
 * windows as long contiguous runs straight between wasm heap views, and multiplies in chunks.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { invalidParameterError } from '../../util/errors.js';

/** Padding as tfjs accepts it for conv2d: 'same', 'valid', a number or explicit NHWC pairs. */
export type ConvPad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

/** Rounding of the output size when the padding is a number, as in tfjs. */
export type DimRoundingMode = 'floor' | 'round' | 'ceil';

/** Options for {@link conv2dBackpropFilterComposed}. */
export interface FilterGradOptions {
  /**
   * Rows of the contracted dimension (output positions) per matMul; the partial products are
   * summed. Small pieces keep XNNPACK's operands in cache and bound the memory for the windows.
   * Default 4096.
   */
  chunkLength?: number;
}

/** Default contracted length per matMul: 2k-8k measured about equally fast, 150k 3x slower. */
export const DEFAULT_CHUNK_LENGTH = 4096;

type Shape4 = [number, number, number, number];
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

/**
 * A new float32 tensor of `outShape` made of `starts.length` runs of `runLength` consecutive
 * elements of `src` (flat, row-major), in order. Elements past the end of `src` read as 0.
 * On wasm the runs are copied between heap views (memcpy speed, no full-source copy).
 */
function copyRuns(src: tf.Tensor, starts: readonly number[], runLength: number, outShape: number[]): tf.Tensor {
  const total = src.size;
  const fill = (from: Float32Array, to: Float32Array): void => {
    let o = 0;
    for (const s of starts) {
      const end = Math.min(total, s + runLength);
      to.set(from.subarray(s, end), o);
      if (end - s < runLength) to.fill(0, o + end - s, o + runLength);
      o += runLength;
    }
  };
  const backend = tf.backend();
  if (backend instanceof BackendWasm && backend.dataIdMap.has(src.dataId)) {
    // Allocate first: growing the wasm memory would detach views taken earlier.
    const info = backend.makeOutput(outShape, 'float32');
    const from = backend.typedArrayFromHeap(src) as Float32Array;
    fill(from, backend.typedArrayFromHeap(info) as Float32Array);
    return tf.engine().makeTensorFromTensorInfo(info, backend);
  }
  const out = new Float32Array(starts.length * runLength);
  fill(src.dataSync() as Float32Array, out);
  return tf.tensor(out, outShape, 'float32');
}

interface Chunk {
  /** Images [n0, n1) and output rows [i0, i1) of each. */
  n0: number;
  n1: number;
  i0: number;
  i1: number;
}

/** Splits the (image, output row) grid into pieces of about `target` positions of width `wideW`. */
function planChunks(n: number, outH: number, wideW: number, target: number): Chunk[] {
  const chunks: Chunk[] = [];
  const perImage = outH * wideW;
  if (perImage <= target) {
    const images = Math.max(1, Math.floor(target / perImage));
    for (let n0 = 0; n0 < n; n0 += images) chunks.push({ n0, n1: Math.min(n, n0 + images), i0: 0, i1: outH });
  } else {
    const rows = Math.max(1, Math.floor(target / wideW));
    for (let n0 = 0; n0 < n; n0++) {
      for (let i0 = 0; i0 < outH; i0 += rows) chunks.push({ n0, n1: n0 + 1, i0, i1: Math.min(outH, i0 + rows) });
    }
  }
  return chunks;
}

function convInfo(xShape: Shape4, filterShape: Shape4, strides: number | Pair, pad: ConvPad, dimRoundingMode?: DimRoundingMode) {
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
}

function checkDy(op: string, dy: tf.Tensor4D, expected: number[]): void {
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== expected[i])) {
    throw invalidParameterError(`${op} dy shape`, `[${expected.join(',')}]`, `[${dy.shape.join(',')}]`);
  }
}

/**
 * Filter gradient of a 2-D convolution (NHWC, dilation 1) composed of fast tfjs ops: dW =
 * im2col(x)^T dy. Output positions form a "wide" grid that keeps the padded width, so the
 * window of kernel offset (a, b) is, per image and channel, ONE contiguous run of the flattened
 * input. Stride s: the input is split into s x s phases by the same transpose that makes it
 * channel-first, and offset a = s*qa + ra reads phase ra shifted by qa (no strided slices).
 * Registered as the wasm `Conv2DBackpropFilter` kernel.
 *
 * @param x - the convolution's input, [batch, height, width, inChannels]
 * @param dy - gradient of the convolution's output, [batch, outHeight, outWidth, outChannels]
 * @param filterShape - [filterHeight, filterWidth, inChannels, outChannels]
 * @param strides - stride, one number or [strideHeight, strideWidth]
 * @param pad - 'same', 'valid', a number, or explicit NHWC padding
 * @param dimRoundingMode - rounding of the output size when `pad` is a number
 * @param options - contracted length per matMul
 * @returns dW with shape `filterShape`
 * @throws {@link WhaleidError} when dy's shape does not match the convolution's output
 * @example
 * const dw = conv2dBackpropFilterComposed(x, dy, [3, 3, 64, 64], 1, 'same');
 */
export function conv2dBackpropFilterComposed(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: Shape4,
  strides: number | Pair,
  pad: ConvPad,
  dimRoundingMode?: DimRoundingMode,
  options: FilterGradOptions = {},
): tf.Tensor4D {
  const info = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode);
  const [n, h, w, c] = x.shape;
  const [kh, kw, , outC] = filterShape;
  const { outHeight: outH, outWidth: outW, strideHeight: sh, strideWidth: sw } = info;
  checkDy('conv2dBackpropFilter', dy, [n, outH, outW, outC]);
  const chunkLength = options.chunkLength ?? DEFAULT_CHUNK_LENGTH;
  if (!Number.isInteger(chunkLength) || chunkLength < 1) {
    throw invalidParameterError('chunkLength', 'a positive integer', chunkLength);
  }
  const qh = Math.ceil(kh / sh);
  const qw = Math.ceil(kw / sw);
  const phaseH = outH + qh - 1;
  const wideW = outW + qw - 1;
  const planeSize = phaseH * wideW;
  return tf.tidy(() => {
    const xp = padOrCrop(x, info.padInfo.top, phaseH * sh - h - info.padInfo.top, info.padInfo.left, wideW * sw - w - info.padInfo.left);
    // Channel-first phases [sh, sw, c, n, phaseH, wideW]: element (u, v) of phase (ra, rb) is
    // padded pixel (u*sh + ra, v*sw + rb).
    const phases =
      sh === 1 && sw === 1
        ? tf.transpose(xp, [3, 0, 1, 2])
        : tf.transpose(tf.reshape(xp, [n, phaseH, sh, wideW, sw, c]), [2, 4, 5, 0, 1, 3]);
    // Zero dy in the wide grid's extra columns: their windows are garbage.
    const dyWide = wideW > outW ? tf.pad(dy, [[0, 0], [0, 0], [0, wideW - outW], [0, 0]]) : dy;
    let sum: tf.Tensor2D | null = null;
    for (const { n0, n1, i0, i1 } of planChunks(n, outH, wideW, chunkLength)) {
      const runLength = (i1 - i0) * wideW;
      const length = (n1 - n0) * runLength;
      const starts: number[] = [];
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) {
          const phase = (a % sh) * sw + (b % sw);
          const shift = (i0 + Math.floor(a / sh)) * wideW + Math.floor(b / sw);
          for (let ch = 0; ch < c; ch++) {
            for (let img = n0; img < n1; img++) starts.push(((phase * c + ch) * n + img) * planeSize + shift);
          }
        }
      }
      const previous: tf.Tensor2D | null = sum;
      sum = tf.tidy((): tf.Tensor2D => {
        // Rows ordered (a, b, inChannel): the product is dW in the filter's own layout.
        const cols = copyRuns(phases, starts, runLength, [kh * kw * c, length]) as tf.Tensor2D;
        const dyPart = copyRuns(dyWide, [(n0 * outH + i0) * wideW * outC], length * outC, [length, outC]) as tf.Tensor2D;
        const part = tf.matMul(cols, dyPart) as tf.Tensor2D;
        return previous == null ? part : (tf.add(previous, part) as tf.Tensor2D);
      });
      previous?.dispose();
    }
    return tf.reshape(sum as tf.Tensor2D, filterShape);
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
  inputShape: Shape4,
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: number | Pair,
  pad: ConvPad,
  dimRoundingMode?: DimRoundingMode,
): tf.Tensor4D {
  const info = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode);
  const [n, h, w] = inputShape;
  const [kh, kw, , outC] = filter.shape;
  const { outHeight: outH, outWidth: outW, strideHeight: sh, strideWidth: sw } = info;
  checkDy('conv2dBackpropInput', dy, [n, outH, outW, outC]);
  return tf.tidy(() => {
    // Dilate with ONE pad: each pixel gets s-1 trailing zeros per axis (the ones past the last
    // pixel are taken back by the bottom/right padding below).
    const dilated: tf.Tensor4D =
      sh === 1 && sw === 1
        ? dy
        : tf.reshape(
            tf.pad(tf.reshape(dy, [n * outH, 1, outW, 1, outC]), [[0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]),
            [n, outH * sh, outW * sw, outC],
          );
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    const top = kh - 1 - info.padInfo.top;
    const left = kw - 1 - info.padInfo.left;
    const bottom = h + info.padInfo.top - outH * sh;
    const right = w + info.padInfo.left - outW * sw;
    if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0) {
      // Explicit padding inside the conv avoids materialising a padded copy of dy.
      return tf.conv2d(dilated, flipped, 1, [[0, 0], [top, bottom], [left, right], [0, 0]]);
    }
    return tf.conv2d(padOrCrop(dilated, top, bottom, left, right), flipped, 1, 'valid');
  });
}
