/**
 * The loss of prototypical networks (Snell et al. 2017) in tfjs, for the warm-up of the branch:
 * a batch is an episode of `ways` classes, each with support and query photos; a class's
 * prototype is the mean of its support photos' features, and each query photo is classified by a
 * softmax over minus its squared distances to the prototypes. Few-shot learners train this way
 * because it is the test itself: one (or a few) photos of each class, the rest matched to them.
 * The native engine computes the same (native/src/net.cc, loss `prototypical`), with the same
 * dense operations.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Targets of an episode as the tfjs model's training takes them: one row per photo, as wide as
 * the features (tfjs checks targets against the output's shape), holding the class in column 0
 * and 1 for a query photo (0 for support) in column 1.
 *
 * @param labels - per photo, 2 x class + 1 for a query photo, + 0 for a support photo
 * @param features - the branch's features per photo (the targets' width)
 * @returns the targets tensor `[photos, features]`
 * @example
 * const y = prototypicalTargets(Int32Array.from([0, 1, 2, 3]), 128); // classes 0, 0, 1, 1; support, query, support, query
 */
export function prototypicalTargets(labels: Int32Array, features: number): tf.Tensor2D {
  const y = new Float32Array(labels.length * features);
  labels.forEach((l, i) => {
    y[i * features] = Math.floor(l / 2);
    y[i * features + 1] = l % 2;
  });
  return tf.tensor2d(y, [labels.length, features]);
}

/**
 * The prototypical loss of an episode of `ways` classes.
 *
 * @param ways - classes of the episode (class numbers 0..ways-1)
 * @returns a tfjs loss function of (targets from {@link prototypicalTargets}, features): the mean
 *   over query photos of minus the log-probability of their own class
 * @example
 * model.compile({ optimizer: tf.train.adam(1e-3), loss: prototypicalLoss(60) });
 */
export function prototypicalLoss(ways: number): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
  return (yTrue, z) => tf.tidy(() => {
    const cls = tf.cast(yTrue.slice([0, 0], [-1, 1]).reshape([-1]), 'int32');
    const query = yTrue.slice([0, 1], [-1, 1]).reshape([-1]);
    const onehot = tf.oneHot(cls, ways).toFloat();
    const support = onehot.mul(tf.sub(1, query).expandDims(1));
    const prototypes = support.transpose().matMul(z).div(support.sum(0).expandDims(1));
    const distances = z.expandDims(1).sub(prototypes.expandDims(0)).square().sum(2);
    const own = tf.logSoftmax(distances.neg(), 1).mul(onehot).sum(1);
    return own.mul(query).sum().div(query.sum()).neg();
  });
}
