/**
 * The cosine scorer: two photos compared by the cosine of their branch features, calibrated to a
 * probability, instead of by the trained head. It is written in the head's own form (a head of 2
 * hidden units over L2-normalised features) so that everything downstream of the ONNX export
 * (the score kernel, the service, fusion, thresholds, shards) runs it without knowing.
 *
 * Why offer it: on Omniglot one-shot trials, the cosine of the warm-up-trained features beat the
 * trained head on every run measured (by 1.7 to 2.7 points; bench/accuracy.md). Which one a run
 * uses is decided on its validation photos (`src/train/scorer-choice.ts`).
 */
import * as tf from '@tensorflow/tfjs';
import { invalidParameterError } from '../../util/errors.js';
import { createHead } from './head.js';
import { cosineHeadWeights, L2_NORMALIZE_FLOOR } from './head-weights.js';

export { cosineHeadWeights, L2_NORMALIZE_FLOOR };

/** x / sqrt(max(sum x^2, floor)) along the last axis; registered so the layer serialises. */
class L2NormalizeLayer extends tf.layers.Layer {
  static className = 'WhaleidL2Normalize';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.tidy(() => tf.div(x, tf.sqrt(tf.maximum(tf.sum(tf.square(x), -1, true), L2_NORMALIZE_FLOOR))));
  }
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }
}

tf.serialization.registerClass(L2NormalizeLayer);

/**
 * A layer that scales each vector (the last axis) to unit length.
 *
 * @param name - layer name
 * @returns the layer
 * @example
 * const unit = l2NormalizeLayer('features_l2').apply(features) as tf.SymbolicTensor;
 */
export function l2NormalizeLayer(name?: string): tf.layers.Layer {
  return new L2NormalizeLayer({ name });
}

/**
 * The branch with its features scaled to unit length: a new model over the same layers (the
 * weights are shared, not copied; disposing it would dispose the branch's).
 *
 * @param branch - a branch (one input, one `[N, F]` output)
 * @returns the normalised branch, named like the branch
 * @throws {@link WhaleidError} when the branch's output is not `[N, F]`
 * @example
 * const bytes = exportBranchOnnx(normalizedBranch(siamese.branch));
 */
export function normalizedBranch(branch: tf.LayersModel): tf.LayersModel {
  const out = branch.outputs[0];
  if (branch.outputs.length !== 1 || out.rank !== 2) throw invalidParameterError('branch', 'one [N, F] output', branch.outputs.map((t) => `[${t.shape.join(', ')}]`).join(' '));
  const unit = l2NormalizeLayer(`${branch.name}_l2_normalize`).apply(out) as tf.SymbolicTensor;
  return tf.model({ inputs: branch.inputs, outputs: unit, name: branch.name });
}

/**
 * The cosine scorer as a tfjs head (for the ONNX export): {@link createHead} with 2 hidden units
 * and the weights of {@link cosineHeadWeights}.
 *
 * @param features - feature count F
 * @param scale - logit per unit of cosine
 * @param bias - logit at cosine 0
 * @returns a head model; dispose it when done
 * @throws {@link WhaleidError} as `cosineHeadWeights`
 * @example
 * const head = createCosineHead(512, 12, -6);
 * await writeFileAtomic('onnx/head.onnx', exportHeadOnnx(head));
 * head.dispose();
 */
export function createCosineHead(features: number, scale: number, bias: number): tf.LayersModel {
  const w = cosineHeadWeights(features, scale, bias);
  const head = createHead({ features, mid: w.mid });
  tf.tidy(() => {
    head.getLayer('head_mlp1').setWeights([tf.tensor4d(w.w1, [4, 1, 1, w.mid]), tf.tensor1d(w.b1)]);
    head.getLayer('head_mlp2').setWeights([tf.tensor4d(w.w2, [1, w.mid, 1, 1]), tf.tensor1d([w.b2])]);
    head.getLayer('weighted_average').setWeights([tf.tensor2d(w.w3, [features, 1]), tf.tensor1d([w.b3])]);
  });
  return head;
}
