/**
 * The complete Siamese training model: two photos -> shared branch -> head -> probability that
 * both show the same whale, compiled with Adam and binary cross-entropy as in the Keras kernel.
 * The branch and head are kept as nested models so feature extraction (branch on every photo once)
 * and pair scoring (head on every pair) can run separately, sharing the trained weights.
 */
import * as tf from '@tensorflow/tfjs';
import { createBranch, featureCount, resolvePreset, type ModelPreset, type ModelPresetName } from './branch.js';
import { createHead } from './head.js';
import { invalidParameterError } from '../../util/errors.js';

export { MODEL_PRESETS, featureCount, minInputSize, resolvePreset } from './branch.js';
export type { ModelPreset, ModelPresetName, StageSpec } from './branch.js';

/** Options of {@link createSiamese}. */
export interface SiameseOptions {
  /** Architecture: a preset name or object; default `method`. */
  preset?: ModelPresetName | ModelPreset;
  /** Input side in pixels; default: the preset's (method: 384; the seed used 512). */
  inputSize?: number;
  /** L2 factor on the branch's conv kernels; default 0 (the kernel's first 250 epochs). */
  l2?: number;
  /** Adam learning rate; default 64e-5 (the kernel's first phase). */
  lr?: number;
  /** Seed of the weight initialisation; default 0. */
  seed?: number;
}

/** The resolved settings a Siamese model was built with (stored with saved models). */
export interface SiameseConfig {
  readonly preset: ModelPreset;
  readonly inputSize: number;
  readonly l2: number;
  readonly lr: number;
  readonly seed: number;
}

/** A Siamese network: the compiled pair model and its two shared parts. */
export interface Siamese {
  /** Photo `[N, S, S, 1]` -> features `[N, F]`. */
  readonly branch: tf.LayersModel;
  /** Features `[[N, F], [N, F]]` -> probability `[N, 1]`. */
  readonly head: tf.LayersModel;
  /** Photos `[[N, S, S, 1], [N, S, S, 1]]` -> probability `[N, 1]`; compiled (Adam, BCE). */
  readonly model: tf.LayersModel;
  /** What it was built with. */
  readonly config: SiameseConfig;
}

/**
 * Resolves and validates {@link SiameseOptions}.
 *
 * @param options - the options
 * @returns the full configuration
 * @throws {@link WhaleidError} for an unknown preset or a bad number
 * @example
 * resolveSiameseConfig({ preset: 'tiny' }).inputSize; // 64
 */
export function resolveSiameseConfig(options: SiameseOptions = {}): SiameseConfig {
  const preset = resolvePreset(options.preset);
  const lr = options.lr ?? 64e-5;
  if (!Number.isFinite(lr) || lr <= 0) throw invalidParameterError('lr', 'a positive number', lr);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw invalidParameterError('seed', 'an integer', seed);
  return { preset, inputSize: options.inputSize ?? preset.inputSize, l2: options.l2 ?? 0, lr, seed };
}

/**
 * Wires a branch and a head into the pair model and compiles it, like the Keras kernel's
 * `build_model` (the branch is applied to both images with the same weights).
 *
 * @param branch - the branch model
 * @param head - the head model
 * @param config - the settings (the learning rate is used here)
 * @returns the {@link Siamese}
 * @example
 * const s = assembleSiamese(createBranch({ preset: 'tiny' }), createHead({ features: 64, mid: 16 }), config);
 */
export function assembleSiamese(branch: tf.LayersModel, head: tf.LayersModel, config: SiameseConfig): Siamese {
  const shape = branch.inputs[0].shape.slice(1) as number[];
  const imgA = tf.input({ shape, name: 'img_a' });
  const imgB = tf.input({ shape, name: 'img_b' });
  const xa = branch.apply(imgA) as tf.SymbolicTensor;
  const xb = branch.apply(imgB) as tf.SymbolicTensor;
  const out = head.apply([xa, xb]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [imgA, imgB], outputs: out, name: 'siamese' });
  countSharedLossesOnce(model);
  model.compile({ optimizer: tf.train.adam(config.lr), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  return { branch, head, model, config };
}

/**
 * Makes a pair model add each layer's regularisation penalty once. tfjs's `calculateLosses` adds
 * a layer's penalties once per node the layer has in the model, so the branch, applied to both
 * images, would pay its L2 penalty twice; Keras (which the kernel's L2 factors were tuned with)
 * collects the loss tensors into a set and pays it once.
 *
 * @param model - a pair model from {@link assembleSiamese} or a loaded one; patched in place
 * @example
 * countSharedLossesOnce(loaded);
 */
export function countSharedLossesOnce(model: tf.LayersModel): void {
  const layers = model.layers;
  model.calculateLosses = (): tf.Scalar[] => tf.tidy(() => layers.flatMap((layer) => layer.calculateLosses()));
}

/**
 * Creates the Siamese network of the method (see method.md "Model"), or a smaller preset of the
 * same shape.
 *
 * @param options - see {@link SiameseOptions}
 * @returns the compiled model with its branch and head
 * @throws {@link WhaleidError} for an unknown preset, a too-small input size or a bad number
 * @example
 * const { model, branch, head } = createSiamese({ preset: 'method', inputSize: 384, lr: 64e-5 });
 * branch.countParams(); // 2692096
 * head.countParams(); // 706
 * await model.trainOnBatch([imgsA, imgsB], labels);
 */
export function createSiamese(options: SiameseOptions = {}): Siamese {
  const config = resolveSiameseConfig(options);
  const branch = createBranch({ preset: config.preset, inputSize: config.inputSize, l2: config.l2, seed: config.seed });
  const head = createHead({ features: featureCount(config.preset), mid: config.preset.headMid, seed: config.seed });
  return assembleSiamese(branch, head, config);
}

/**
 * Builds a new Siamese network with changed settings and the previous one's weights (BatchNorm
 * statistics included): the kernel's step at epoch 250, rebuilding with L2 2e-4. The optimiser is
 * new (its moments start from zero), as in the kernel. Weights are matched by layer name.
 *
 * @param previous - the trained network
 * @param changes - new settings; `preset`, `inputSize` and `seed` may change only if the layers'
 *   weight shapes stay the same (the input size can, thanks to global pooling)
 * @returns the new network; `previous` is left intact (dispose it when done)
 * @throws {@link WhaleidError} for bad settings, Error when a layer's weights do not fit
 * @example
 * const next = rebuildSiamese(current, { l2: 2e-4, lr: 64e-5 });
 * current.model.dispose();
 */
export function rebuildSiamese(previous: Siamese, changes: SiameseOptions = {}): Siamese {
  const next = createSiamese({ ...previous.config, ...changes });
  copyWeightsByName(previous.branch, next.branch);
  copyWeightsByName(previous.head, next.head);
  return next;
}

function copyWeightsByName(from: tf.LayersModel, to: tf.LayersModel): void {
  for (const layer of to.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    // getWeights returns the live variables' tensors: setWeights copies them, nothing to dispose.
    layer.setWeights(from.getLayer(layer.name).getWeights());
  }
}

/**
 * Changes the learning rate of a model compiled by {@link createSiamese} without resetting Adam's
 * moment estimates (Keras: `K.set_value(model.optimizer.lr, lr)`).
 *
 * @param model - the compiled pair model
 * @param lr - the new learning rate
 * @throws {@link WhaleidError} when `lr` is not positive; Error when the model's optimiser is not Adam
 * @example
 * setLearningRate(siamese.model, 16e-5);
 */
export function setLearningRate(model: tf.LayersModel, lr: number): void {
  if (!Number.isFinite(lr) || lr <= 0) throw invalidParameterError('lr', 'a positive number', lr);
  const opt = model.optimizer;
  if (!(opt instanceof tf.AdamOptimizer)) throw new Error(`setLearningRate: model ${model.name} is not compiled with Adam`);
  // Adam reads `learningRate` on every step; it is only `protected` in the typings.
  (opt as unknown as { learningRate: number }).learningRate = lr;
}

/**
 * Reads the learning rate of a model compiled with Adam.
 *
 * @param model - the compiled pair model
 * @returns the current learning rate
 * @throws Error when the model's optimiser is not Adam
 * @example
 * getLearningRate(siamese.model); // 0.00064
 */
export function getLearningRate(model: tf.LayersModel): number {
  const opt = model.optimizer;
  if (!(opt instanceof tf.AdamOptimizer)) throw new Error(`getLearningRate: model ${model.name} is not compiled with Adam`);
  return (opt as unknown as { learningRate: number }).learningRate;
}
