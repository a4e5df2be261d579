/**
 * A cheaper gradient for tfjs's `FusedBatchNorm` op (BatchNormalization layers in training).
 *
 * tfjs-core's gradient builds the input gradient by TILING the per-channel factor to the full
 * activation shape and multiplying twice, and computes the mean and variance gradients as
 * full-size products summed afterwards. On wasm the tile alone was the largest single cost of a
 * training step (20% at 192 px: 2.3 s for one [32, 96, 96, 64] tile + multiply, against 0.12 s for
 * the same product by broadcasting). This gradient is the same mathematics with per-channel
 * factors folded first: one broadcast multiply for x, two reductions (dy and dy * (x - mean))
 * shared by mean, variance, scale and offset. Gradients are registered per op name for every
 * backend, so the cpu reference backend computes the same formulas.
 */
import * as tf from '@tensorflow/tfjs';

/** The stock gradient, kept to restore. */
let stockGradient: tf.GradConfig | undefined;
let registered: tf.GradConfig | undefined;

/**
 * Gradient of y = (x - mean) * rsqrt(variance + eps) * scale + offset with respect to each input,
 * `mean`, `variance`, `scale` and `offset` broadcast along the last axes of x (usually shape [C]).
 */
const fusedBatchNormGrad: tf.GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const grad = Array.isArray(dy) ? dy[0] : dy;
    const [x, mean, variance, scale] = saved;
    const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
    const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const rstd = tf.rsqrt(tf.add(variance, tf.scalar(eps)));
    const factor = scale == null ? rstd : tf.mul(rstd, scale);
    // The two reductions every per-channel gradient is made of, computed once here: the engine
    // runs each closure below in its own tidy, so a tensor first made inside one would be gone
    // for the next. Their full-size temporaries are freed at once (tidy), not at the end of the
    // whole backward pass.
    const [sumDy, sumDyCentred] = tf.tidy(() => [
      tf.reshape(tf.sum(grad, axes), mean.shape),
      tf.reshape(tf.sum(tf.mul(grad, tf.sub(x, mean)), axes), mean.shape),
    ]);
    return {
      x: () => tf.mul(grad, factor),
      mean: () => tf.mul(sumDy, tf.neg(factor)),
      variance: () => tf.mul(sumDyCentred, tf.mul(tf.mul(factor, tf.square(rstd)), tf.scalar(-0.5))),
      scale: () => tf.mul(sumDyCentred, rstd),
      offset: () => tf.clone(sumDy),
    };
  },
};

/**
 * Registers the cheaper FusedBatchNorm gradient (for every backend). Idempotent.
 *
 * @example
 * registerBatchNormGradient(); // BatchNormalization layers now train without tiling
 */
export function registerBatchNormGradient(): void {
  if (batchNormGradientRegistered()) return;
  stockGradient = tf.getGradient('FusedBatchNorm');
  tf.registerGradient(fusedBatchNormGrad);
  registered = fusedBatchNormGrad;
}

/**
 * Puts back tfjs's own FusedBatchNorm gradient. For benchmarks and tests.
 *
 * @example
 * unregisterBatchNormGradient();
 */
export function unregisterBatchNormGradient(): void {
  if (!batchNormGradientRegistered() || stockGradient == null) return;
  tf.registerGradient(stockGradient);
  registered = undefined;
}

/**
 * Whether our FusedBatchNorm gradient is the registered one.
 *
 * @returns true when it is
 * @example
 * batchNormGradientRegistered(); // false before registerBatchNormGradient()
 */
export function batchNormGradientRegistered(): boolean {
  return registered != null && tf.getGradient('FusedBatchNorm') === registered;
}
