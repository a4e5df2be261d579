/**
 * The branch as a classifier over training identities: one photo -> the Siamese's own branch ->
 * a dense layer of one logit per identity, trained with softmax cross-entropy. This is the
 * classification warm-up the re-identification field uses before (or instead of) pair losses:
 * every step teaches the branch to tell all identities of the batch apart, not one pair at a
 * time, so features form far sooner. The classifier shares the branch's layers (its variables),
 * so what it learns is the Siamese's; the dense layer is dropped afterwards.
 *
 * Two engines, like the pair training: `native` (the layer spec of this model, run by the addon
 * with its softmax loss) and `wasm` (tfjs's own trainOnBatch). Both start from the Siamese's
 * branch and leave their branch weights and BatchNorm moving averages in it; neither touches the
 * Siamese's Adam state (the pair phase starts its optimiser afresh).
 *
 * With a margin loss (`--loss arcface|subcenter-arcface`, native engine only) the dense layer is
 * the addon's margin head instead: the classifier's network ends at the branch's features, and
 * the loss is ArcFace over unit features and unit class centres (margin-head.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { invalidParameterError, WhaleidError } from '../util/errors.js';
import { layerSpecOf } from './network/layer-spec.js';
import { initialMarginKernel, MARGIN_KERNEL } from './native/margin-head.js';
import type { AddonMarginOptions, AddonNet } from './native/native-addon.js';
import { createAddonNet, type NativeEngineChoice, type NativeEngineSettings } from './native/native-training-engine.js';
import type { Siamese } from './network/siamese.js';
import { writeSiameseWeights } from './network/siamese-state.js';
import type { NamedArrays } from './training-engine.js';
import { resolveEngine, type EngineSelection, type TrainingEngineName } from './training-engines.js';

/** Name of the classifier's dense layer (its weights never enter the Siamese). */
export const LOGITS_LAYER = 'warmup_logits';

/** A batch of photos with their class numbers. Crops NHWC greyscale `[count, size, size, 1]`, normalised. */
export interface ClassBatch {
  readonly images: Float32Array;
  /** Class number of each photo, 0..classes-1. */
  readonly labels: Int32Array;
  readonly count: number;
  readonly size: number;
}

/** The branch under classification training on one engine. */
export interface BranchClassifier {
  /** `native` or `wasm`. */
  readonly engine: TrainingEngineName;
  /** Identities it tells apart (the logits per photo). */
  readonly classes: number;
  /**
   * One Adam step of softmax cross-entropy over the batch (mean over its photos).
   *
   * @returns the batch's loss
   */
  step(batch: ClassBatch): Promise<number>;
  /** Sets Adam's learning rate for the following steps (a positive number). */
  setLearningRate(lr: number): void;
  /** Writes the branch's weights and moving averages into the Siamese the classifier was made from. */
  writeTo(siamese: Siamese): Promise<void>;
  /** Frees the classifier's own layer, optimiser and native handle (not the Siamese's branch). */
  dispose(): void;
}

/** Options of {@link createBranchClassifier}. */
export interface BranchClassifierOptions extends NativeEngineSettings {
  /** The run's engine selection, or an engine's name resolved with the settings here; default `wasm`. */
  engine?: TrainingEngineName | EngineSelection;
  /** Adam's learning rate. */
  lr: number;
  /** Seed of the dense layer's initial weights. */
  seed: number;
  /** A margin loss's head (native engine only; its `features` are the branch's); unset: softmax over a dense layer. */
  margin?: AddonMarginOptions;
  /** The loss's name for the wasm engine's refusal (e.g. `subcenter-arcface`). */
  lossName?: string;
}

/**
 * The tfjs classifier model over a Siamese's branch: input -> branch -> dense(classes) logits.
 *
 * @param siamese - the network whose branch is shared
 * @param classes - identities to tell apart (>= 2)
 * @param seed - seed of the dense layer's Glorot-uniform kernel
 * @returns the model (dispose only its dense layer's weights: the branch is the Siamese's). The
 *   branch keeps a node for this application while the Siamese lives (one per warm-up)
 * @throws {@link WhaleidError} for fewer than 2 classes
 * @example
 * const m = classifierModel(siamese, 136, 0); // m.outputs[0].shape: [null, 136]
 */
export function classifierModel(siamese: Siamese, classes: number, seed: number): tf.LayersModel {
  if (!Number.isSafeInteger(classes) || classes < 2) throw invalidParameterError('classes', 'at least 2 identities', classes);
  const input = tf.input({ shape: siamese.branch.inputs[0].shape.slice(1) as number[], name: 'warmup_photo' });
  const features = siamese.branch.apply(input) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: classes, name: LOGITS_LAYER, kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(features) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'warmup_classifier' });
}

/**
 * A classifier of the Siamese's branch over `classes` identities on the chosen engine.
 *
 * @param siamese - the network (its branch is trained; its head and optimiser are left alone)
 * @param classes - identities (>= 2)
 * @param options - engine, learning rate, seed, native settings
 * @returns the classifier; `writeTo(siamese)` before the Siamese is used, `dispose()` at the end
 * @throws {@link WhaleidError} for bad settings, or native asked without the addon
 * @example
 * const c = await createBranchClassifier(siamese, 136, { engine: 'native', lr: 1e-3, seed: 0 });
 * await c.step({ images, labels, count: 64, size: 64 });
 * await c.writeTo(siamese);
 * c.dispose();
 */
export async function createBranchClassifier(siamese: Siamese, classes: number, options: BranchClassifierOptions): Promise<BranchClassifier> {
  if (!(options.lr > 0)) throw invalidParameterError('lr', 'a positive number', options.lr);
  const selection = resolveEngine(options.engine, options);
  // the engine's own choice decides: the addon's network when it carries a native one, else tfjs
  const native = selection.native;
  if (options.margin) {
    if (!selection.traits.marginLosses || !native) throw new WhaleidError(`--loss ${options.lossName ?? 'arcface'}: the ${selection.engine} engine trains only the pair loss and the softmax warm-up; train on the native engine (--engine native)`);
    if (options.margin.classes !== classes) throw invalidParameterError('margin.classes', `${classes} (the classifier's)`, options.margin.classes);
    return nativeClassifier(featureModel(siamese), classes, native, options);
  }
  const model = classifierModel(siamese, classes, options.seed);
  const dense = model.getLayer(LOGITS_LAYER);
  const disposeDense = (): void => dense.weights.forEach((w) => w.dispose());
  if (native) {
    try {
      return nativeClassifier(model, classes, native, options);
    } finally {
      disposeDense(); // the native engine holds its own copy
    }
  }
  return wasmClassifier(model, classes, options.lr, disposeDense);
}

/** input -> the Siamese's branch -> its features: the network a margin head reads. */
function featureModel(siamese: Siamese): tf.LayersModel {
  const input = tf.input({ shape: siamese.branch.inputs[0].shape.slice(1) as number[], name: 'warmup_photo' });
  return tf.model({ inputs: input, outputs: siamese.branch.apply(input) as tf.SymbolicTensor, name: 'warmup_embedder' });
}

/** tfjs's own training of the classifier (its variables are the branch's). */
function wasmClassifier(model: tf.LayersModel, classes: number, lr: number, disposeDense: () => void): BranchClassifier {
  const optimizer = tf.train.adam(lr);
  model.compile({ optimizer, loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.losses.softmaxCrossEntropy(yTrue, yPred) });
  return {
    engine: 'wasm',
    classes,
    async step(batch) {
      const { x, y } = tf.tidy(() => ({ x: tf.tensor4d(batch.images, [batch.count, batch.size, batch.size, 1]), y: tf.oneHot(tf.tensor1d(checkLabels(batch, classes), 'int32'), classes) }));
      try {
        const loss = await model.trainOnBatch(x, y);
        return Array.isArray(loss) ? loss[0] : loss;
      } finally {
        x.dispose();
        y.dispose();
      }
    },
    setLearningRate(rate) {
      if (!(rate > 0)) throw invalidParameterError('lr', 'a positive number', rate);
      // tfjs's AdamOptimizer reads its learningRate field at every step (no public setter)
      (optimizer as unknown as { learningRate: number }).learningRate = rate;
    },
    writeTo: () => Promise.resolve(), // trained the branch's own variables
    dispose() {
      optimizer.dispose();
      disposeDense();
    },
  };
}

/** The addon's network of the classifier's layer spec, with its softmax loss or the margin head. */
function nativeClassifier(model: tf.LayersModel, classes: number, choice: NativeEngineChoice, options: BranchClassifierOptions): BranchClassifier {
  // the head reads the branch's features: their count is the network's
  const margin = options.margin && { ...options.margin, features: model.outputs[0].shape.at(-1) as number };
  let net: AddonNet | null = createAddonNet(layerSpecOf(model), choice, margin ? 'arcface' : 'softmax', margin);
  try {
    const weights = model.weights.map((w) => ({ name: w.originalName, values: w.read().dataSync() as Float32Array }));
    if (margin) weights.push({ name: MARGIN_KERNEL, values: initialMarginKernel(margin, options.seed) });
    net.setWeights(weights);
    net.setLearningRate(options.lr);
  } catch (e) {
    net.dispose();
    throw e;
  }
  const live = (): AddonNet => {
    if (!net) throw new Error('branch classifier: used after dispose()');
    return net;
  };
  const none = new Float32Array(0);
  return {
    engine: 'native',
    classes,
    async step(batch) {
      const labels = Float32Array.from(checkLabels(batch, classes));
      try {
        const loss = await live().accumulate(batch.images, none, labels, batch.count, batch.size, 1);
        await live().applyAdam();
        return loss;
      } catch (e) {
        try {
          net?.clearGradients();
        } catch {
          // disposed or busy: the step's own error is the one to report
        }
        throw e;
      }
    },
    setLearningRate(rate) {
      if (!(rate > 0)) throw invalidParameterError('lr', 'a positive number', rate);
      live().setLearningRate(rate);
    },
    async writeTo(siamese) {
      const branch: NamedArrays = new Map();
      for (const w of live().getWeights()) if (!w.name.startsWith(`${LOGITS_LAYER}/`) && w.name !== MARGIN_KERNEL) branch.set(w.name, { shape: w.shape ?? [w.values.length], values: w.values });
      writeSiameseWeights(siamese, branch);
    },
    dispose() {
      net?.dispose();
      net = null;
    },
  };
}

/** The batch's labels, checked: one per photo, each a class number. */
function checkLabels(batch: ClassBatch, classes: number): Int32Array {
  if (batch.labels.length !== batch.count) throw invalidParameterError('labels', `one per photo (${batch.count})`, batch.labels.length);
  const bad = batch.labels.findIndex((c) => !(c >= 0 && c < classes));
  if (bad >= 0) throw invalidParameterError(`labels[${bad}]`, `a class number from 0 to ${classes - 1}`, batch.labels[bad]);
  return batch.labels;
}
