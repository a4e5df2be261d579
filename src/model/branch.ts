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
import { createRng, type Rng } from '../util/random.js';
import { invalidParameterError } from '../util/errors.js';

/** One stage of the branch: BN, a 1x1 conv up to `channels` (relu), then `subblocks` bottlenecks. */
export interface StageSpec {
  /** Channels after the stage's 1x1 expansion conv (kernel: 128, 256, 384, 512). */
  readonly channels: number;
  /** Bottleneck width inside each subblock (kernel: 64, 64, 96, 128). */
  readonly width: number;
  /** Number of subblocks (kernel: 4). */
  readonly subblocks: number;
}

/** A named model architecture: everything that decides the layers and their shapes. */
export interface ModelPreset {
  /** Preset name, stored with saved models. */
  readonly name: string;
  /** Default side in pixels of the square greyscale input (the kernel: 384; the seed: 512). */
  readonly inputSize: number;
  /** Filters of the stem convs (kernel: 64). */
  readonly stemFilters: number;
  /** Kernel size of the first, stride-2 conv (kernel: 9). */
  readonly stemKernel: number;
  /** Number of [BN, conv 3x3] pairs after the first max pool (kernel: 2). */
  readonly stemConvs: number;
  /** Stages, separated by 2x2 max pools; the last one's `channels` is the feature count. */
  readonly stages: readonly StageSpec[];
  /** Hidden width of the head's per-feature MLP (kernel: 32). */
  readonly headMid: number;
}

/** Names of the built-in presets. */
export type ModelPresetName = 'method' | 'cpu' | 'small' | 'tiny';

/**
 * Built-in presets.
 * - `method`: the method's model (Piotte's kernel's; named `kernel` before, a name older runs still load), 2,692,096 branch parameters, 512 features, head 706 parameters.
 *   384 px by default; pass `inputSize: 512` for the seed's resolution (same parameter count).
 * - `cpu`: the same shape at half width and two subblocks per stage, 128 px, 256 features; for
 *   training runs on a few CPU cores.
 * - `small`: the shape of `tiny` at 4x its width (16 5x5 stem filters, 128 features, 62,304
 *   branch parameters), 64 px: the CPU training recipes' model. Measured on Omniglot (400 steps of
 *   32 random pairs): `tiny`'s 4-filter stem is a bottleneck (held-out 1-NN 0.21, loss 0.56), this
 *   one learns several times faster (1-NN 0.46, loss 0.42) at ~1.3x the time per step.
 * - `tiny`: a toy copy (64 px, 3x3 stem, one subblock per stage, 64 features) for tests and smoke
 *   runs; cheap enough to train on the tfjs cpu backend, whose conv filter gradient is slow.
 */
export const MODEL_PRESETS: Readonly<Record<ModelPresetName, ModelPreset>> = Object.freeze({
  method: {
    name: 'method',
    inputSize: 384,
    stemFilters: 64,
    stemKernel: 9,
    stemConvs: 2,
    stages: [
      { channels: 128, width: 64, subblocks: 4 },
      { channels: 256, width: 64, subblocks: 4 },
      { channels: 384, width: 96, subblocks: 4 },
      { channels: 512, width: 128, subblocks: 4 },
    ],
    headMid: 32,
  },
  cpu: {
    name: 'cpu',
    inputSize: 128,
    stemFilters: 32,
    stemKernel: 9,
    stemConvs: 2,
    stages: [
      { channels: 64, width: 32, subblocks: 2 },
      { channels: 128, width: 32, subblocks: 2 },
      { channels: 192, width: 48, subblocks: 2 },
      { channels: 256, width: 64, subblocks: 2 },
    ],
    headMid: 32,
  },
  small: {
    name: 'small',
    inputSize: 64,
    stemFilters: 16,
    stemKernel: 5,
    stemConvs: 1,
    stages: [
      { channels: 32, width: 16, subblocks: 1 },
      { channels: 64, width: 16, subblocks: 1 },
      { channels: 96, width: 24, subblocks: 1 },
      { channels: 128, width: 32, subblocks: 1 },
    ],
    headMid: 16,
  },
  tiny: {
    name: 'tiny',
    inputSize: 64,
    stemFilters: 4,
    stemKernel: 3,
    stemConvs: 1,
    stages: [
      { channels: 16, width: 8, subblocks: 1 },
      { channels: 32, width: 8, subblocks: 1 },
      { channels: 48, width: 12, subblocks: 1 },
      { channels: 64, width: 16, subblocks: 1 },
    ],
    headMid: 16,
  },
});

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

/**
 * Resolves a preset name or object, validating a custom one.
 *
 * @param preset - name or object; default `method`
 * @returns the preset
 * @throws {@link WhaleidError} for an unknown name or a malformed preset
 * @example
 * resolvePreset('tiny').inputSize; // 64
 */
export function resolvePreset(preset: ModelPresetName | ModelPreset = 'method'): ModelPreset {
  if (typeof preset === 'string') {
    if (!Object.hasOwn(MODEL_PRESETS, preset)) {
      throw invalidParameterError('preset', `one of ${Object.keys(MODEL_PRESETS).join(', ')}`, preset);
    }
    return MODEL_PRESETS[preset];
  }
  const positive = (v: number): boolean => Number.isSafeInteger(v) && v > 0;
  const ok =
    positive(preset.inputSize) &&
    positive(preset.stemFilters) &&
    positive(preset.stemKernel) &&
    Number.isSafeInteger(preset.stemConvs) &&
    preset.stemConvs >= 0 &&
    positive(preset.headMid) &&
    preset.stages.length > 0 &&
    preset.stages.every((s) => positive(s.channels) && positive(s.width) && Number.isSafeInteger(s.subblocks) && s.subblocks >= 0);
  if (!ok) throw invalidParameterError(`preset ${preset.name}`, 'positive integer sizes and at least one stage', preset);
  return preset;
}

/**
 * Smallest input side the preset accepts: the stride-2 stem and every max pool halve the side
 * (pools round down, like Keras 'valid' pooling), and the last stage needs at least 1x1.
 *
 * @param preset - the architecture
 * @returns the smallest valid input size in pixels
 * @example
 * minInputSize(MODEL_PRESETS.method); // 63
 */
export function minInputSize(preset: ModelPreset): number {
  const pools = 2 + preset.stages.length - 1;
  // ceil(n / 2) >= 2^pools  <=>  n >= 2^(pools+1) - 1
  return 2 ** (pools + 1) - 1;
}

/**
 * Number of features the branch outputs (the last stage's channels).
 *
 * @param preset - the architecture
 * @returns the feature count (512 for `method`)
 * @example
 * featureCount(MODEL_PRESETS.method); // 512
 */
export function featureCount(preset: ModelPreset): number {
  return preset.stages[preset.stages.length - 1].channels;
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
