/**
 * The margin losses of the native engine: ArcFace and sub-center ArcFace with dynamic margins.
 * A photo's embedding and every class's centre (sub-centres: k per class, the best one counts) are
 * made unit length; the logit of a class is s x the cosine between them, the true class's angle
 * widened by its margin first. Dynamic margins (the Google Landmark 2020 and Happywhale 2022
 * winners' rule): m_i = a x n_i^(-1/4) + b for a class of n_i training photos, so a class seen
 * rarely, whose centre is uncertain, must be won by a wider angle.
 *
 * The loss itself runs in the addon (native/src/margin-loss.cc); this module holds the settings,
 * the margins and the head's first weights, which are the same for the branch and a TorchScript
 * backbone.
 */
import { invalidParameterError } from '../../util/errors.js';
import { createRng } from '../../util/random.js';
import type { AddonMarginOptions } from './native-addon.js';

/** `--loss`: the pair loss (the method; the warm-up, if any, softmax) or a margin loss. */
export type LossName = 'pair' | 'arcface' | 'subcenter-arcface';

/** The values `--loss` takes. */
export const LOSS_NAMES: readonly LossName[] = Object.freeze(['pair', 'arcface', 'subcenter-arcface']);

/** Name of the margin head's kernel in the addon's weights (never part of the Siamese). */
export const MARGIN_KERNEL = 'margin_head/kernel';

/** The settings of a margin loss. */
export interface MarginSettings {
  /** `arcface` or `subcenter-arcface`. */
  readonly loss: Exclude<LossName, 'pair'>;
  /** s: the logits are s x cos. */
  readonly scale: number;
  /** a of m = a n^(-1/4) + b (0: one margin b for every class). */
  readonly marginA: number;
  /** b of m = a n^(-1/4) + b. */
  readonly marginB: number;
  /** Sub-centres per class with `subcenter-arcface` (plain ArcFace: 1). */
  readonly subcenters: number;
}

/**
 * Dynamic margins m_i = a n_i^(-1/4) + b.
 *
 * @param photoCounts - training photos of each class (>= 1 each)
 * @param a - the count-dependent part
 * @param b - the floor
 * @returns one margin per class, in radians
 * @throws {@link WhaleidError} for a count below 1 or a margin outside [0, pi/2)
 * @example
 * dynamicMargins([1, 16], 0.45, 0.05); // Float32Array [0.5, 0.275]
 */
export function dynamicMargins(photoCounts: ArrayLike<number>, a: number, b: number): Float32Array {
  const out = new Float32Array(photoCounts.length);
  for (let i = 0; i < photoCounts.length; i++) {
    const n = photoCounts[i];
    if (!(n >= 1)) throw invalidParameterError(`photo count of class ${i}`, 'at least 1', n);
    const m = a * n ** -0.25 + b;
    if (!(m >= 0 && m < Math.PI / 2)) throw invalidParameterError('--arcface-margin-a/--arcface-margin-b', 'margins a n^(-1/4) + b from 0 to pi/2 radians', `${m} for a class of ${n} photos`);
    out[i] = m;
  }
  return out;
}

/**
 * The addon's margin-head options for `classes` classes of the given photo counts.
 *
 * @param settings - the loss's settings
 * @param photoCounts - training photos of each class (its length is the class count)
 * @param features - embedding size
 * @returns the options for `createAddonNet(..., 'arcface', margin)` or a TorchScript net
 * @throws {@link WhaleidError} for fewer than 2 classes or bad margins
 * @example
 * const margin = marginOptions({ loss: 'arcface', scale: 30, marginA: 0.45, marginB: 0.05, subcenters: 1 }, counts, 128);
 */
export function marginOptions(settings: MarginSettings, photoCounts: ArrayLike<number>, features: number): AddonMarginOptions {
  if (photoCounts.length < 2) throw invalidParameterError('classes', 'at least 2 identities', photoCounts.length);
  return {
    classes: photoCounts.length,
    subcenters: settings.loss === 'subcenter-arcface' ? settings.subcenters : 1,
    features,
    scale: settings.scale,
    margins: dynamicMargins(photoCounts, settings.marginA, settings.marginB),
  };
}

/**
 * The margin head's first kernel, `[features, classes x subcenters]`, Glorot-uniform from a seed
 * (as the softmax warm-up's dense layer starts), drawn by our own generator: the training
 * configuration reads this module, and prediction must not load tfjs through it.
 *
 * @param margin - the head's options
 * @param seed - the seed
 * @returns the kernel's values, row-major
 * @example
 * const w = initialMarginKernel(margin, 0); // w.length === margin.features * margin.classes * margin.subcenters
 */
export function initialMarginKernel(margin: AddonMarginOptions, seed: number): Float32Array {
  const [rows, cols] = [margin.features, margin.classes * margin.subcenters];
  const limit = Math.sqrt(6 / (rows + cols));
  const rng = createRng(seed).fork('margin-head');
  return Float32Array.from({ length: rows * cols }, () => rng.uniform(-limit, limit));
}
