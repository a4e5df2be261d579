/**
 * The fluke detector of the method: a small CNN that looks at the whole photo (greyscale, padded
 * to the 2.15 aspect of the crops, mapped onto a 128x128 square) and outputs the fluke's box
 * `x0, y0, x1, y1`. Its predictions replace hand-marked boxes for photos that have none.
 *
 * Layers (defaults): conv 64 9x9 stride 4 relu -> maxpool 2 (a 16x16 grid of 8 px cells), two
 * conv 64 3x3 relu -> BN; then, per box edge, a 3x3 conv to one logit map, a max over the rows
 * (for x0, x1) or the columns (y0, y1) as in Piotte's bounding-box kernel, a softmax over the 16
 * positions, and the expected position (a fixed, non-trainable dense layer): 4 outputs in units
 * of the input square (0 = its left/top edge, 1 = its right/bottom edge). 81,732 parameters.
 *
 * Ours, not the method's: the stride-4 stem (on the wasm engine 64 channels at 32 px and above
 * cost most of a training step) and the soft-argmax readout in place of dense layers on the
 * pooled rows and columns. Measured on synthetic photos (batch 16, same data): the dense readout
 * reached a held-out IoU of 0.40 after 300 steps, barely above the mean box (0.36); the
 * soft-argmax readout 0.80 after 150.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../util/random.js';
import { resolveBoxModelSpec, type BoxModelSpec } from './box-spec.js';

const EDGES = ['x0', 'y0', 'x1', 'y1'] as const;

/**
 * Builds the box model `[N, S, S, 1] -> [N, 4]` (see the module comment), weights from `seed`.
 *
 * @param spec - architecture (defaults: `DEFAULT_BOX_MODEL`)
 * @param seed - seed of the weight initialisation
 * @returns the uncompiled model
 * @throws {@link WhaleidError} for a bad spec
 * @example
 * const model = createBoxModel({}, 7);
 * model.countParams(); // 81,732 (4 x 16 of them fixed)
 */
export function createBoxModel(spec: Partial<BoxModelSpec> = {}, seed = 0): tf.LayersModel {
  const s = resolveBoxModelSpec(spec);
  const rng = createRng(seed).fork('box-model');
  const conv = (filters: number, kernel: number, name: string, activation: 'relu' | 'linear', strides = 1): tf.layers.Layer =>
    tf.layers.conv2d({ filters, kernelSize: kernel, strides, padding: 'same', activation, name, kernelInitializer: tf.initializers.glorotUniform({ seed: rng.int(2 ** 31) }) });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor => layer.apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: [s.inputSize, s.inputSize, 1], name: 'image' });
  let x = apply(conv(s.filters, 9, 'stem_conv', 'relu', s.stemStride), input);
  x = apply(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: 'stem_pool' }), x);
  for (let i = 1; i <= s.convs; i++) x = apply(conv(s.filters, 3, `conv${i}`, 'relu'), x);
  // Momentum 0.9, not Keras' 0.99: a CPU run has a few thousand steps at most, and the moving
  // statistics that prediction uses must settle well before the end.
  x = apply(tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3, name: 'bn' }), x);
  const [, h, w] = x.shape as number[];
  const outputs: tf.SymbolicTensor[] = [];
  const fixed: [tf.layers.Layer, number][] = [];
  for (const edge of EDGES) {
    const across = edge[0] === 'x'; // x edges: a position per column, so pool over the rows
    let e = apply(conv(1, 3, `${edge}_logits`, 'linear'), x);
    e = apply(tf.layers.maxPooling2d({ poolSize: across ? [h, 1] : [1, w], strides: across ? [h, 1] : [1, w], padding: 'valid', name: `${edge}_pool` }), e);
    e = apply(tf.layers.flatten({ name: `${edge}_flat` }), e);
    e = apply(tf.layers.activation({ activation: 'softmax', name: `${edge}_softmax` }), e);
    const expected = tf.layers.dense({ units: 1, useBias: false, trainable: false, name: `${edge}_position` });
    outputs.push(apply(expected, e));
    fixed.push([expected, across ? w : h]);
  }
  const model = tf.model({ inputs: input, outputs: apply(tf.layers.concatenate({ name: 'box' }), outputs), name: 'fluke_boxes' });
  // Cell i of n covers [i, i + 1) / n of the square: its centre is (i + 0.5) / n in target units.
  for (const [layer, n] of fixed) {
    const centres = tf.tensor2d(Array.from({ length: n }, (_, i) => (i + 0.5) / n), [n, 1]);
    layer.setWeights([centres]); // copied into the layer's variable
    centres.dispose();
  }
  return model;
}
