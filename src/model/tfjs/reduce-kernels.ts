/**
 * Fast Sum and Mean over leading axes for the tfjs wasm backend, registered as KERNELS.
 *
 * Training reduces NHWC activations over N, H and W all the time: every bias gradient (conv and
 * dense), every BatchNorm gradient and `tf.moments` in BatchNorm's forward pass. The stock wasm
 * kernels first transpose the tensor so that the reduced axes are innermost, then reduce: 253 ms
 * for a [32, 96, 96, 64] tensor here. The same reduction is a matrix product of a row of ones
 * `[1, M]` with the tensor seen as `[M, C]` (computed as x^T times a column of ones), which XNNPACK runs in 60 ms (5x). Other reductions
 * (inner axes, int32 or bool tensors) go to the stock kernel unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { asTensor, checkBackendName } from './kernel-utils.js';

/** Names of the kernels this module replaces. */
export const REDUCE_KERNEL_NAMES = ['Sum', 'Mean'] as const;

type KernelName = (typeof REDUCE_KERNEL_NAMES)[number];

/**
 * The number of leading axes that `axis` reduces when they are exactly the first k axes of a
 * rank-`rank` tensor (k >= 1), else 0.
 */
export function leadingReduction(axis: number | number[] | undefined | null, rank: number): number {
  if (axis == null) return rank;
  const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
  if (axes.length === 0) return 0;
  for (let i = 0; i < axes.length; i++) if (axes[i] !== i) return 0;
  return axes.length;
}

/** Sum (or mean) of `x` over its first `k` axes as `x[M, rest]^T x ones[M, 1]`. */
function reduceLeading(x: tf.Tensor, k: number, keepDims: boolean, mean: boolean): tf.Tensor {
  const m = x.shape.slice(0, k).reduce((p, q) => p * q, 1);
  const restShape = x.shape.slice(k);
  const rest = restShape.reduce((p, q) => p * q, 1);
  // x must be the (transposed) left operand: XNNPACK packs the right one on every call, which for
  // x itself costs more than the stock kernel (437 ms against 298 for [32, 96, 96, 64]).
  const ones = tf.fill([m, 1], mean ? 1 / m : 1);
  const r = tf.matMul(tf.reshape(x, [m, rest]), ones, true, false);
  return tf.reshape(r, keepDims ? [...x.shape.slice(0, k).map(() => 1), ...restShape] : restShape);
}

/** Per backend, the kernels that were registered before ours, to fall back on and restore. */
const stockKernels = new Map<string, Map<KernelName, tf.KernelConfig>>();

function makeKernel(name: KernelName, stock: tf.KernelConfig): tf.KernelFunc {
  const mean = name === 'Mean';
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as { axis?: number | number[]; keepDims?: boolean };
    const k = leadingReduction(axis, x.shape.length);
    const m = x.shape.slice(0, k).reduce((p, q) => p * q, 1);
    // Nothing to gain for tiny tensors or scalars; ints must keep the stock kernel's exact result.
    if (k === 0 || x.dtype !== 'float32' || m < 2 || x.shape.length === 0) return stock.kernelFunc(args);
    return tf.tidy(() => reduceLeading(asTensor(x, args.backend as tf.KernelBackend), k, keepDims === true, mean));
  };
}

const ours = new Map<string, Map<KernelName, tf.KernelFunc>>();

/**
 * Registers the matMul-based Sum and Mean kernels for a backend (wasm by default), keeping the
 * stock ones for the reductions they do not cover. Idempotent. Call before the backend starts or
 * after: the stock kernels' setup (binding their C++ functions) is kept.
 *
 * @param backendName - the tfjs backend to register for
 * @throws {@link WhaleidError} when `backendName` is not a non-empty string
 * @throws Error when the backend has no stock Sum/Mean kernel to fall back on
 * @example
 * registerReduceKernels('wasm'); // tf.sum(x, [0, 1, 2]) on NHWC is now one matMul
 */
export function registerReduceKernels(backendName = 'wasm'): void {
  checkBackendName(backendName);
  if (reduceKernelsRegistered(backendName)) return;
  const stock = new Map<KernelName, tf.KernelConfig>();
  const mine = new Map<KernelName, tf.KernelFunc>();
  for (const name of REDUCE_KERNEL_NAMES) {
    const config = tf.getKernel(name, backendName);
    if (config == null) throw new Error(`tfjs backend '${backendName}' has no ${name} kernel to extend`);
    stock.set(name, config);
    mine.set(name, makeKernel(name, config));
  }
  for (const name of REDUCE_KERNEL_NAMES) {
    const config = stock.get(name)!;
    tf.unregisterKernel(name, backendName);
    tf.registerKernel({ kernelName: name, backendName, setupFunc: config.setupFunc, disposeFunc: config.disposeFunc, kernelFunc: mine.get(name)! });
  }
  stockKernels.set(backendName, stock);
  ours.set(backendName, mine);
}

/**
 * Puts back the stock Sum and Mean kernels. Does nothing when ours are not registered. For
 * benchmarks and tests.
 *
 * @param backendName - the tfjs backend to restore
 * @throws {@link WhaleidError} when `backendName` is not a non-empty string
 * @example
 * unregisterReduceKernels('wasm');
 */
export function unregisterReduceKernels(backendName = 'wasm'): void {
  checkBackendName(backendName);
  const stock = stockKernels.get(backendName);
  if (stock == null) return;
  for (const name of REDUCE_KERNEL_NAMES) {
    tf.unregisterKernel(name, backendName);
    tf.registerKernel(stock.get(name)!);
  }
  stockKernels.delete(backendName);
  ours.delete(backendName);
}

/**
 * Whether our Sum and Mean kernels are the ones registered for `backendName` right now.
 *
 * @param backendName - the tfjs backend to check
 * @returns true when both are ours
 * @example
 * registerReduceKernels();
 * reduceKernelsRegistered('wasm'); // true
 */
export function reduceKernelsRegistered(backendName = 'wasm'): boolean {
  const mine = ours.get(backendName);
  return mine != null && REDUCE_KERNEL_NAMES.every((name) => tf.getKernel(name, backendName)?.kernelFunc === mine.get(name));
}
