/**
 * A Siamese network's training state as plain arrays, by tfjs name: its weights (trainable and
 * BatchNorm moving averages) and its Adam optimiser's step count and moments. Training engines
 * exchange state with the tfjs {@link Siamese} through these (see training-engine.ts), and
 * checkpoints store them.
 *
 * Names are the layer-scoped `originalName`s (`stem_conv/kernel`, `s1_bn/moving_mean`), the names
 * in model.json's weights manifest: the same in every process. tfjs's registered variable names
 * gain a suffix (`stem_conv/kernel_1`) when a second network is built in a process (the L2
 * rebuild, tests), so they are not used. Adam's moments are `<originalName>/m` and `/v`.
 */
import * as tf from '@tensorflow/tfjs';
import { WhaleidError } from '../../util/errors.js';
import type { Siamese } from './siamese.js';
import type { NamedArrays, OptimizerState } from '../training-engine.js';

/**
 * The weights of a Siamese network (trainable and BatchNorm moving averages), copied out.
 *
 * @param siamese - the network
 * @returns every weight by its tfjs name, in tfjs layout
 * @example
 * readSiameseWeights(siamese).get('stem_conv/kernel')!.shape; // [3, 3, 1, 16]
 */
export function readSiameseWeights(siamese: Siamese): NamedArrays {
  return new Map(siamese.model.weights.map((w) => [w.originalName, { shape: w.shape.slice() as number[], values: (w.read().dataSync() as Float32Array).slice() }]));
}

/**
 * Writes weights (any subset) into a Siamese network's variables.
 *
 * @param siamese - the network
 * @param weights - values by tfjs name, tfjs layout
 * @throws {@link WhaleidError} naming a weight the network lacks or one of another shape or size
 * @example
 * writeSiameseWeights(copy, readSiameseWeights(original));
 */
export function writeSiameseWeights(siamese: Siamese, weights: NamedArrays): void {
  const byName = new Map(siamese.model.weights.map((w) => [w.originalName, w]));
  for (const [name, { shape, values }] of weights) {
    const w = byName.get(name);
    if (!w) throw new WhaleidError(`weight ${name}: the network has no weight of that name`);
    const size = w.shape.reduce((a: number, b) => a * (b ?? 1), 1);
    if (shape.join(',') !== w.shape.join(',') || values.length !== size) throw new WhaleidError(`weight ${name}: expected shape [${w.shape.join(', ')}] (${size} values), got [${shape.join(', ')}] (${values.length} values)`);
  }
  for (const [name, { values }] of weights) {
    const w = byName.get(name)!;
    const t = tf.tensor(values, w.shape as number[]);
    w.write(t);
    t.dispose();
  }
}

/** The private parts of tfjs's AdamOptimizer (4.22) that restoring its state must reach. */
interface AdamInternals {
  beta1: number;
  beta2: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/** The model's Adam optimiser, and the same object seen through its private fields. */
function adamOf(model: tf.LayersModel): { opt: tf.AdamOptimizer; inner: AdamInternals } {
  const opt = model.optimizer;
  if (!(opt instanceof tf.AdamOptimizer)) throw new Error(`model ${model.name} is not compiled with Adam`);
  const inner = opt as unknown as AdamInternals;
  if (!(inner.accBeta1 instanceof tf.Variable) || !Array.isArray(inner.accumulatedFirstMoment) || typeof inner.beta1 !== 'number') {
    throw new Error('tfjs AdamOptimizer no longer has accBeta1/accumulatedFirstMoment: adam state restore needs updating for this tfjs version');
  }
  return { opt, inner };
}

/** Registered variable name -> originalName, for the model's trainable weights. */
function originalNames(model: tf.LayersModel): Map<string, string> {
  return new Map(model.trainableWeights.map((w) => [(w.read() as tf.Variable).name, w.originalName]));
}

/**
 * Adam's state of a compiled model: step count and moments by `<originalName>/m|v`.
 *
 * @param model - a model compiled with Adam (the Siamese pair model)
 * @returns the state, copied out (no moments before the first step)
 * @throws Error when the model's optimiser is not tfjs's Adam
 * @example
 * const { iterations, moments } = await readAdamState(siamese.model);
 */
export async function readAdamState(model: tf.LayersModel): Promise<OptimizerState> {
  const { opt, inner } = adamOf(model);
  const names = originalNames(model);
  const moments: NamedArrays = new Map();
  for (const [list, suffix] of [[inner.accumulatedFirstMoment, 'm'], [inner.accumulatedSecondMoment, 'v']] as const) {
    for (const { originalName, variable } of list) {
      const variableName = originalName.slice(0, -2); // tfjs names a moment `<registered variable name>/m`
      const name = names.get(variableName);
      if (name === undefined) throw new Error(`Adam moment ${originalName} belongs to no trainable weight of ${model.name}`);
      moments.set(`${name}/${suffix}`, { shape: variable.shape.slice(), values: (variable.dataSync() as Float32Array).slice() });
    }
  }
  return { iterations: opt.iterations, moments };
}

/**
 * beta^(steps + 1) as live training computes it: tfjs starts from float32(beta) and multiplies by
 * float32(beta) once per step, rounding each product to float32 (a product of two float32 values
 * is exact in a double, so `Math.fround` rounds it as the backend does).
 */
function accumulatedPower(beta: number, steps: number): number {
  const b = Math.fround(beta);
  let p = b;
  for (let i = 0; i < steps; i++) p = Math.fround(p * b);
  return p;
}

/**
 * Replaces the Adam state of a compiled model, exactly: the next step equals, bit for bit, the
 * step the optimiser that produced the state would have taken.
 *
 * Why not tfjs's `optimizer.setWeights`: it restores the bias-correction powers as
 * `pow(beta, iterations + 1)`, while live training multiplied them step by step in float32; the
 * two differ in the last bit at many step counts (beta2 = 0.999: from step 2 on), so a resumed run
 * drifted from an uninterrupted one (issue 18, item 4). Here the powers are recomputed by the
 * same chain of float32 products. The previous moment variables are disposed (tfjs leaks them).
 *
 * @param model - a model compiled with Adam
 * @param state - step count and moments by `<originalName>/m|v` (none: a fresh optimiser's)
 * @throws {@link WhaleidError} when a moment is missing, unknown or of another shape
 * @example
 * await restoreAdamState(copy.model, await readAdamState(original.model));
 */
export async function restoreAdamState(model: tf.LayersModel, state: OptimizerState): Promise<void> {
  const { opt, inner } = adamOf(model);
  if (!Number.isSafeInteger(state.iterations) || state.iterations < 0) throw new WhaleidError(`Adam state: expected a non-negative integer step count, got ${state.iterations}`);
  const ordered = state.moments.size === 0 ? [] : orderedMoments(model, state.moments);
  tf.dispose([...inner.accumulatedFirstMoment, ...inner.accumulatedSecondMoment].map((m) => m.variable));
  const tensors = ordered.map((m) => ({ name: m.name, tensor: tf.tensor(m.values, m.shape as number[]) }));
  const iter = tf.scalar(state.iterations, 'int32');
  await opt.setWeights([{ name: 'iter', tensor: iter }, ...tensors]);
  tf.dispose([iter, ...tensors.map((t) => t.tensor)]);
  tf.tidy(() => {
    inner.accBeta1.assign(tf.scalar(accumulatedPower(inner.beta1, state.iterations)));
    inner.accBeta2.assign(tf.scalar(accumulatedPower(inner.beta2, state.iterations)));
  });
}

/**
 * Moments in the order tfjs's Adam keeps them: first moments of the trainable weights in their
 * order, then second moments (Adam pairs moment i with the i-th variable it is given gradients
 * for, and every step passes them in trainable-weight order). Named as tfjs names them.
 */
function orderedMoments(model: tf.LayersModel, moments: NamedArrays): { name: string; shape: readonly number[]; values: Float32Array }[] {
  const out: { name: string; shape: readonly number[]; values: Float32Array }[] = [];
  for (const suffix of ['m', 'v']) {
    for (const w of model.trainableWeights) {
      const key = `${w.originalName}/${suffix}`;
      const m = moments.get(key);
      if (!m) throw new WhaleidError(`Adam state: no moment ${key}`);
      if (m.shape.join(',') !== w.shape.join(',') || m.values.length !== m.shape.reduce((a, b) => a * b, 1)) throw new WhaleidError(`Adam state: moment ${key} has shape [${m.shape.join(', ')}], the weight [${w.shape.join(', ')}]`);
      out.push({ name: `${(w.read() as tf.Variable).name}/${suffix}`, shape: m.shape, values: m.values });
    }
  }
  if (moments.size !== out.length) {
    const known = new Set(model.trainableWeights.flatMap((w) => [`${w.originalName}/m`, `${w.originalName}/v`]));
    throw new WhaleidError(`Adam state: moment ${[...moments.keys()].find((k) => !known.has(k))} belongs to no trainable weight`);
  }
  return out;
}
