/**
 * The branch CNN of the Siamese network: one greyscale photo in, one feature vector out.
 *
 * Layer for layer the Keras `branch_model` of Martin Piotte's kernel "Whale Recognition Model with
 * score 0.78563" (see method.md "Model"): a strided 9x9 stem, then stages of bottleneck subblocks
 * separated by 2x2 max pooling, then global max pooling (so any input size gives the same number of
 * features and the same parameter count). The architecture is a {@link ModelPreset} so tests and
 * CPU runs can use a narrower copy of the same shape.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '../../util/random.js';
import { invalidParameterError } from '../../util/errors.js';
import { minInputSize, resolvePreset, type ModelPreset, type ModelPresetName } from './presets.js';

export { MODEL_PRESETS, featureCount, minInputSize, resolvePreset } from './presets.js';
export type { ModelPreset, ModelPresetName, StageSpec } from './presets.js';

/** Options of {@link createBranch}. */
export interface BranchOptions {
  /** Input side in pixels; default: the preset's. */
  inputSize?: number;
  /** L2 factor on every conv kernel (Keras `regularizers.l2`); 0 or absent: none. */
  l2?: number;
  /** A preset name or a custom {@link ModelPreset}; default `method`. */
  preset?: ModelPresetName | ModelPreset;
  /** Seed of the weight initialisation; default 0. */
  seed?: number;
  /** Model name; default `branch`. */
  name?: string;
}

/** Builds conv layers with the shared settings ('same' padding, seeded init, optional L2). */
function convFactory(rng: Rng, l2: number) {
  return (filters: number, kernel: number, name: string, activation: 'relu' | 'linear', strides = 1): tf.layers.Layer =>
     tf.layers.conv2d({
      filters,
      kernelSize: kernel,
      strides,
      padding: 'same',
      activation,
      name,
      // A seed per layer: same seed, same network, on every machine.
      kernelInitializer: tf.initializers.glorotUniform({ seed: rng.int(2 ** 31) }),
      kernelRegularizer: l2 > 0 ? tf.regularizers.l2({ l2 }) : undefined,
    });
}

function bn(name: string): tf.layers.Layer {
  // Keras 2 defaults (momentum 0.99, epsilon 1e-3) are also the tfjs defaults; spelled out so a
  // change of either library's defaults cannot silently change the model.
  return tf.layers.batchNormalization({ momentum: 0.99, epsilon: 1e-3, name });
}

function maxPool(name: string): tf.layers.Layer {
  return tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'valid', name });
}

/**
 * Creates the branch CNN. Layers (method preset, 384 px):
 * conv 64 9x9/2 relu -> maxpool (96x96) -> 2 x [BN, conv 64 3x3 relu] -> maxpool (48) ->
 * per stage [BN, conv 1x1 C relu, 4 x subblock(w)] with maxpools between (24, 12, 6) ->
 * global max pool -> 512. A subblock is: x = BN(x); y = conv1x1(w) relu; BN; conv3x3(w) relu; BN;
 * conv1x1(C) linear; out = relu(x + y). Note that, as in the Keras original, the bypass adds the
 * batch-normalised input, not the raw one.
 *
 * @param options - see {@link BranchOptions}
 * @returns a built tfjs LayersModel `[N, S, S, 1] -> [N, F]`
 * @throws {@link WhaleidError} when the input size is not an integer >= {@link minInputSize} or
 *   the L2 factor is negative
 * @example
 * const branch = createBranch({ inputSize: 384 });
 * branch.countParams(); // 2692096
 */
export function createBranch(options: BranchOptions = {}): tf.LayersModel {
  const preset = resolvePreset(options.preset);
  const size = options.inputSize ?? preset.inputSize;
  const min = minInputSize(preset);
  if (!Number.isSafeInteger(size) || size < min || size > 65536) {
    throw invalidParameterError('inputSize', `an integer between ${min} and 65536`, size);
  }
  const l2 = options.l2 ?? 0;
  if (!Number.isFinite(l2) || l2 < 0) throw invalidParameterError('l2', 'a finite number >= 0', l2);
  const conv = convFactory(createRng(options.seed ?? 0).fork('branch'), l2);

  const input = tf.input({ shape: [size, size, 1], name: 'image' });
  let x = conv(preset.stemFilters, preset.stemKernel, 'stem_conv', 'relu', 2).apply(input) as tf.SymbolicTensor;
  x = maxPool('stem_pool1').apply(x) as tf.SymbolicTensor;
  for (let i = 1; i <= preset.stemConvs; i++) {
    x = bn(`stem_bn${i}`).apply(x) as tf.SymbolicTensor;
    x = conv(preset.stemFilters, 3, `stem_conv${i}`, 'relu').apply(x) as tf.SymbolicTensor;
  }
  preset.stages.forEach((stage, s) => {
    const p = `s${s + 1}`;
    x = maxPool(`${p}_pool`).apply(x) as tf.SymbolicTensor;
    x = bn(`${p}_bn`).apply(x) as tf.SymbolicTensor;
    x = conv(stage.channels, 1, `${p}_expand`, 'relu').apply(x) as tf.SymbolicTensor;
    for (let b = 1; b <= stage.subblocks; b++) {
      const q = `${p}_b${b}`;
      const xin = bn(`${q}_bn1`).apply(x) as tf.SymbolicTensor;
      let y = conv(stage.width, 1, `${q}_reduce`, 'relu').apply(xin) as tf.SymbolicTensor;
      y = bn(`${q}_bn2`).apply(y) as tf.SymbolicTensor;
      y = conv(stage.width, 3, `${q}_conv3`, 'relu').apply(y) as tf.SymbolicTensor;
      y = bn(`${q}_bn3`).apply(y) as tf.SymbolicTensor;
      y = conv(stage.channels, 1, `${q}_restore`, 'linear').apply(y) as tf.SymbolicTensor;
      y = tf.layers.add({ name: `${q}_add` }).apply([xin, y]) as tf.SymbolicTensor;
      x = tf.layers.activation({ activation: 'relu', name: `${q}_relu` }).apply(y) as tf.SymbolicTensor;
    }
  });
  const features = tf.layers.globalMaxPooling2d({ name: 'features' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: features, name: options.name ?? 'branch' });
}
