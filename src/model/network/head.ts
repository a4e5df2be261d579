/**
 * The head of the Siamese network: two branch feature vectors in, the probability that both photos
 * show the same whale out.
 *
 * Layer for layer the Keras `head_model` of Martin Piotte's kernel: per feature the four symmetric
 * combinations [a*b, a+b, |a-b|, |a-b|^2], a small MLP (4 -> mid relu -> 1 linear) shared by all
 * features and written as two convolutions, then a weighted sum of the features plus a bias and a
 * sigmoid. Keras used Lambda layers for |a-b| and square; tfjs-layers has no Lambda (nor subtract),
 * so those two are small registered layers (serialisable, so saved models load back).
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../../util/random.js';
import { invalidParameterError } from '../../util/errors.js';
import type { HeadWeights } from './head-weights.js';

export { pairLogit, scorePair } from './head-weights.js';
export type { HeadWeights } from './head-weights.js';

/** |a - b| element-wise from two inputs (the kernel's `Lambda(K.abs(x[0] - x[1]))`). */
class AbsDiffLayer extends tf.layers.Layer {
  static className = 'WhaleidAbsDiff';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error(`${this.name}: expects two inputs`);
    return tf.tidy(() => tf.abs(tf.sub(inputs[0], inputs[1])));
  }
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return Array.isArray(inputShape[0]) ? (inputShape[0] as tf.Shape) : inputShape;
  }
}

/** Element-wise x^2; registered so a saved head loads back. */
class SquareLayer extends tf.layers.Layer {
  static className = 'WhaleidSquare';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.square(Array.isArray(inputs) ? inputs[0] : inputs));
  }
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }
}

tf.serialization.registerClass(AbsDiffLayer);
tf.serialization.registerClass(SquareLayer);

/**
 * A layer computing |a - b| element-wise from two inputs (the Keras kernel's
 * `Lambda(lambda x: K.abs(x[0] - x[1]))`; tfjs-layers has no subtract layer).
 *
 * @param name - layer name
 * @returns the layer; apply it to `[a, b]`
 * @example
 * const d = absDiffLayer('abs_diff').apply([xa, xb]) as tf.SymbolicTensor;
 */
export function absDiffLayer(name?: string): tf.layers.Layer {
  return new AbsDiffLayer({ name });
}

/**
 * A layer computing x^2 element-wise (the Keras kernel's `Lambda(K.square)`).
 *
 * @param name - layer name
 * @returns the layer
 * @example
 * const sq = squareLayer('square').apply(absDiff) as tf.SymbolicTensor;
 */
export function squareLayer(name?: string): tf.layers.Layer {
  return new SquareLayer({ name });
}

/** Options of {@link createHead}. */
export interface HeadOptions {
  /** Length of each feature vector (the branch output); default 512. */
  features?: number;
  /** Hidden width of the per-feature MLP; default 32. */
  mid?: number;
  /** Seed of the weight initialisation; default 0. */
  seed?: number;
  /** Output activation; default `sigmoid` (probability). `linear` gives the logit. */
  activation?: 'sigmoid' | 'linear';
  /** Model name; default `head`. */
  name?: string;
}

/**
 * Creates the head. With the defaults it has exactly 706 parameters:
 * conv (4x1, 32 filters) 160 + conv (1x32, 1 filter) 33 + dense (512 -> 1) 513.
 * Layers: [a*b, a+b, |a-b|, |a-b|^2] -> concat [4F] -> reshape [4, F, 1] -> conv 4x1 valid (mid,
 * relu) -> [1, F, mid] -> reshape [F, mid, 1] -> conv 1 x mid valid (1, linear) -> flatten [F] ->
 * dense 1 (sigmoid). The head is symmetric in its two inputs by construction.
 *
 * @param options - see {@link HeadOptions}
 * @returns a built LayersModel `[[N, F], [N, F]] -> [N, 1]`
 * @throws {@link WhaleidError} when `features` or `mid` is not a positive integer
 * @example
 * const head = createHead();
 * head.countParams(); // 706
 * const p = head.predict([fa, fb]) as tf.Tensor; // [N, 1]
 */
export function createHead(options: HeadOptions = {}): tf.LayersModel {
  const features = options.features ?? 512;
  const mid = options.mid ?? 32;
  if (!Number.isSafeInteger(features) || features < 1) throw invalidParameterError('features', 'a positive integer', features);
  if (!Number.isSafeInteger(mid) || mid < 1) throw invalidParameterError('mid', 'a positive integer', mid);
  const rng = createRng(options.seed ?? 0).fork('head');

  const xa = tf.input({ shape: [features], name: 'features_a' });
  const xb = tf.input({ shape: [features], name: 'features_b' });
  const x1 = tf.layers.multiply({ name: 'head_product' }).apply([xa, xb]) as tf.SymbolicTensor;
  const x2 = tf.layers.add({ name: 'head_sum' }).apply([xa, xb]) as tf.SymbolicTensor;
  const x3 = absDiffLayer('head_abs_diff').apply([xa, xb]) as tf.SymbolicTensor;
  const x4 = squareLayer('head_square_diff').apply(x3) as tf.SymbolicTensor;
  let x = tf.layers.concatenate({ axis: -1, name: 'head_concat' }).apply([x1, x2, x3, x4]) as tf.SymbolicTensor;
  x = tf.layers.reshape({ targetShape: [4, features, 1], name: 'head_reshape1' }).apply(x) as tf.SymbolicTensor;
  // The per-feature MLP with shared weights, as Keras wrote it: a 4x1 conv over the 4 rows...
  x = tf.layers
    .conv2d({
      filters: mid,
      kernelSize: [4, 1],
      padding: 'valid',
      activation: 'relu',
      name: 'head_mlp1',
      kernelInitializer: tf.initializers.glorotUniform({ seed: rng.int(2 ** 31) }),
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.reshape({ targetShape: [features, mid, 1], name: 'head_reshape2' }).apply(x) as tf.SymbolicTensor;
  // ...then a 1 x mid conv that maps each feature's hidden vector to one number.
  x = tf.layers
    .conv2d({
      filters: 1,
      kernelSize: [1, mid],
      padding: 'valid',
      activation: 'linear',
      name: 'head_mlp2',
      kernelInitializer: tf.initializers.glorotUniform({ seed: rng.int(2 ** 31) }),
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: 'head_flatten' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({
      units: 1,
      useBias: true,
      activation: options.activation ?? 'sigmoid',
      name: 'weighted_average',
      kernelInitializer: tf.initializers.glorotUniform({ seed: rng.int(2 ** 31) }),
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: [xa, xb], outputs: out, name: options.name ?? 'head' });
}

/**
 * Reads the head's weights into typed arrays.
 *
 * @param head - a model made by {@link createHead} (or loaded from one)
 * @returns the weights
 * @throws Error when the model lacks the head's layers
 * @example
 * const w = readHeadWeights(head);
 * w.w3.length; // 512
 */
export function readHeadWeights(head: tf.LayersModel): HeadWeights {
  const [k1, b1] = head.getLayer('head_mlp1').getWeights();
  const [k2, b2] = head.getLayer('head_mlp2').getWeights();
  const [k3, b3] = head.getLayer('weighted_average').getWeights();
  // conv kernels are [kh, kw, in, out]: k1 [4, 1, 1, M] flattens to k*M + j; k2 [1, M, 1, 1].
  return {
    features: k3.shape[0] as number,
    mid: k1.shape[3] as number,
    w1: k1.dataSync() as Float32Array,
    b1: b1.dataSync() as Float32Array,
    w2: k2.dataSync() as Float32Array,
    b2: b2.dataSync()[0],
    w3: k3.dataSync() as Float32Array,
    b3: b3.dataSync()[0],
  };
}

/**
 * Starts the head as a distance: logit = bias - (c/F) * sum_f |a_f - b_f|, with only the |a-b|
 * path switched on (one hidden unit, weight 1) and the bias set so the score is 0.5 at
 * `meanDistance` (the mean |a-b| of random pairs). Same architecture and parameter count; only
 * the starting point differs from Keras' random one.
 *
 * Why: with the method's augmentation, a randomly initialised head sits on a loss plateau at
 * 0.693 for ~1,200 steps on CPU-sized data (measured); a distance-shaped start gives the branch a
 * useful gradient from the first step, which matters when a run has only a few thousand steps.
 *
 * @param head - a head from {@link createHead}
 * @param meanDistance - mean per-feature |a - b| of random pairs of training photos
 * @param c - sharpness; default 3
 * @example
 * initHeadAsDistance(siamese.head, 0.12);
 */
export function initHeadAsDistance(head: tf.LayersModel, meanDistance: number, c = 3): void {
  const mlp1 = head.getLayer('head_mlp1');
  const mid = mlp1.getWeights()[0].shape[3] as number;
  const F = head.getLayer('weighted_average').getWeights()[0].shape[0] as number;
  const k1 = new Float32Array(4 * mid);
  k1[2 * mid] = 1; // hidden unit 0 <- |a - b|
  const k2 = new Float32Array(mid);
  k2[0] = 1;
  tf.tidy(() => {
    mlp1.setWeights([tf.tensor4d(k1, [4, 1, 1, mid]), tf.zeros([mid])]);
    head.getLayer('head_mlp2').setWeights([tf.tensor4d(k2, [1, mid, 1, 1]), tf.zeros([1])]);
    head.getLayer('weighted_average').setWeights([tf.fill([F, 1], -c / F), tf.tensor1d([c * meanDistance])]);
  });
}
