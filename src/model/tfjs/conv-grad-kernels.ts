/**
 * Fast Conv2D gradients for the tfjs wasm backend, registered as KERNELS.
 *
 * tfjs 4.22's wasm backend has no `Conv2DBackpropFilter` kernel at all, and its
 * `Conv2DBackpropInput` is 10-40x slower than a plain conv2d of the same size. Registering a
 * gradient (`tf.registerGradient`) is not enough: tfjs-layers runs convolutions through
 * `tf.fused.conv2d`, whose gradient calls `conv2DBackpropFilter`/`conv2DBackpropInput` directly,
 * so the replacement has to sit one level lower, in the kernel registry.
 *
 * Both kernels are compositions of ops that are fast on wasm, in `conv-grad-ops.ts`:
 * - filter gradient: im2col of the channel-first input times dy, in matMul chunks;
 * - input gradient: a stride-1 conv2d of the zero-dilated dy with the spatially flipped,
 *   in/out-swapped filter.
 * NCHW attributes are honoured by transposing to NHWC and back.
 */
import * as tf from '@tensorflow/tfjs';
// Side effect: registers the wasm backend and its stock kernels, which we then override.
import '@tensorflow/tfjs-backend-wasm';
import { asTensor, checkBackendName } from './kernel-utils.js';
import {
  conv2dBackpropFilterComposed,
  conv2dBackpropInputComposed,
  type ConvPad,
  type DimRoundingMode,
} from './conv-grad-ops.js';

export {
  conv2dBackpropFilterComposed,
  conv2dBackpropInputComposed,
  DEFAULT_CHUNK_LENGTH,
  type ConvPad,
  type DimRoundingMode,
  type FilterGradOptions,
} from './conv-grad-ops.js';

type Pair = [number, number];

type Attrs = tf.NamedAttrMap & {
  strides: number | Pair;
  pad: ConvPad;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: DimRoundingMode;
};

const toNhwc = (t: tf.Tensor4D, format?: string): tf.Tensor4D =>
  format === 'NCHW' ? tf.transpose(t, [0, 2, 3, 1]) : t;

function shapeToNhwc(shape: number[], format?: string): [number, number, number, number] {
  const [a, b, c, d] = shape;
  return format === 'NCHW' ? [a, c, d, b] : [a, b, c, d];
}

/** Explicit NCHW padding pairs reordered for NHWC; other paddings are layout-free. */
function padToNhwc(pad: ConvPad, format?: string): ConvPad {
  if (format !== 'NCHW' || !Array.isArray(pad)) return pad;
  const [n, c, h, w] = pad;
  return [n, h, w, c];
}

// The kernels return the composed result as a Tensor: the engine adopts kernel outputs that are
// already Tensors as they are (no second wrapper), so nothing is counted twice or leaked.
const filterKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as Attrs;
  const filterShape = (attrs as { filterShape: [number, number, number, number] }).filterShape;
  return tf.tidy(() => {
    const x = toNhwc(asTensor(inputs.x as tf.TensorInfo, backend as tf.KernelBackend) as tf.Tensor4D, a.dataFormat);
    const dy = toNhwc(asTensor(inputs.dy as tf.TensorInfo, backend as tf.KernelBackend) as tf.Tensor4D, a.dataFormat);
    return conv2dBackpropFilterComposed(x, dy, filterShape, a.strides, padToNhwc(a.pad, a.dataFormat), a.dimRoundingMode);
  });
};

const inputKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as Attrs;
  const inputShape = shapeToNhwc((attrs as { inputShape: number[] }).inputShape, a.dataFormat);
  return tf.tidy(() => {
    const dy = toNhwc(asTensor(inputs.dy as tf.TensorInfo, backend as tf.KernelBackend) as tf.Tensor4D, a.dataFormat);
    const filter = asTensor(inputs.filter as tf.TensorInfo, backend as tf.KernelBackend) as tf.Tensor4D;
    const dx = conv2dBackpropInputComposed(inputShape, dy, filter, a.strides, padToNhwc(a.pad, a.dataFormat), a.dimRoundingMode);
    return a.dataFormat === 'NCHW' ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
  });
};

/** Names of the kernels this module replaces. */
export const CONV_GRAD_KERNEL_NAMES = ['Conv2DBackpropFilter', 'Conv2DBackpropInput'] as const;

type KernelName = (typeof CONV_GRAD_KERNEL_NAMES)[number];

const OURS: Record<KernelName, tf.KernelFunc> = { Conv2DBackpropFilter: filterKernel, Conv2DBackpropInput: inputKernel };

/** Per backend, the kernels that were registered before ours (undefined: none), to restore. */
const stockKernels = new Map<string, (tf.KernelConfig | undefined)[]>();

/**
 * Registers the composed Conv2D gradient kernels for a backend (wasm by default), replacing the
 * stock ones. Idempotent; the stock kernels are remembered for {@link unregisterConvGradKernels}.
 *
 * @param backendName - the tfjs backend to register for
 * @throws {@link WhaleidError} when `backendName` is not a non-empty string
 * @example
 * registerConvGradKernels('wasm'); // tfjs-layers models can now train on wasm
 */
export function registerConvGradKernels(backendName = 'wasm'): void {
  checkBackendName(backendName);
  if (convGradKernelsRegistered(backendName)) return;
  stockKernels.set(
    backendName,
    CONV_GRAD_KERNEL_NAMES.map((name) => tf.getKernel(name, backendName)),
  );
  for (const name of CONV_GRAD_KERNEL_NAMES) {
    // Unregister first: registerKernel would log an "already registered" warning.
    if (tf.getKernel(name, backendName) != null) tf.unregisterKernel(name, backendName);
    tf.registerKernel({ kernelName: name, backendName, kernelFunc: OURS[name] });
  }
}

/**
 * Puts back the kernels that {@link registerConvGradKernels} replaced (stock wasm has an input
 * gradient but no filter gradient). Does nothing when ours are not registered. For benchmarks.
 *
 * @param backendName - the tfjs backend to restore
 * @throws {@link WhaleidError} when `backendName` is not a non-empty string
 * @example
 * unregisterConvGradKernels('wasm'); // time the stock kernel ...
 * registerConvGradKernels('wasm'); // ... and go back to ours
 */
export function unregisterConvGradKernels(backendName = 'wasm'): void {
  checkBackendName(backendName);
  const stock = stockKernels.get(backendName);
  if (stock == null) return;
  // A kernel's setupFunc (wasm: binding its C++ function) runs when a backend is set up; ours
  // replaced the stock ones before that, so set them up now if the backend is already running.
  const running = tf.engine().registry[backendName] as tf.KernelBackend | undefined;
  CONV_GRAD_KERNEL_NAMES.forEach((name, i) => {
    if (tf.getKernel(name, backendName) != null) tf.unregisterKernel(name, backendName);
    const old = stock[i];
    if (old == null) return;
    tf.registerKernel(old);
    if (running != null) old.setupFunc?.(running);
  });
  stockKernels.delete(backendName);
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
    tf.getKernel('Conv2DBackpropFilter', backendName)?.kernelFunc === OURS.Conv2DBackpropFilter &&
    tf.getKernel('Conv2DBackpropInput', backendName)?.kernelFunc === OURS.Conv2DBackpropInput
  );
}
