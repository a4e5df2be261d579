/**
 * The branch architectures as plain data (no tfjs): the named presets, their validation, and the
 * sizes they imply (feature count, smallest input). Kept apart from `branch.ts`, which builds the
 * tfjs layers, so that inference, configuration and the run manifest can use them without loading
 * tfjs.
 */
import { invalidParameterError } from '../../util/errors.js';

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
