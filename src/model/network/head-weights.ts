/**
 * The head's weights as plain data, and the head's arithmetic on them in plain JS (no tfjs):
 * what inference scores pairs with. `head.ts` builds the tfjs head and reads these weights from
 * it; `src/infer/head-onnx.ts` reads them from an exported `head.onnx`.
 */
import { invalidParameterError } from '../../util/errors.js';

/** The head's weights as plain arrays (for scoring without tfjs, or checking it by hand). */
export interface HeadWeights {
  /** Feature count F. */
  readonly features: number;
  /** Hidden width M. */
  readonly mid: number;
  /** First MLP layer, `w1[k * M + j]` for input k in 0..3 (product, sum, |diff|, diff^2). */
  readonly w1: Float32Array;
  /** First MLP layer biases, length M. */
  readonly b1: Float32Array;
  /** Second MLP layer, length M. */
  readonly w2: Float32Array;
  /** Second MLP layer bias. */
  readonly b2: number;
  /** Weighted-sum weights, length F. */
  readonly w3: Float32Array;
  /** Weighted-sum bias. */
  readonly b3: number;
}

/**
 * The head's logit (the input of its sigmoid) for one pair of feature vectors, computed from its
 * weights in plain JS (float64 sums): the same arithmetic as the tfjs head, usable as a reference
 * and for scoring without a backend.
 *
 * @param w - weights from {@link readHeadWeights}
 * @param a - features of photo A, length F
 * @param b - features of photo B, length F
 * @returns the logit; {@link scorePair} is its sigmoid
 * @throws {@link WhaleidError} when a vector's length is not F
 * @example
 * const logit = pairLogit(readHeadWeights(head), fa, fb);
 */
export function pairLogit(w: HeadWeights, a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== w.features) throw invalidParameterError('a.length', `${w.features}`, a.length);
  if (b.length !== w.features) throw invalidParameterError('b.length', `${w.features}`, b.length);
  const m = w.mid;
  let logit = w.b3;
  for (let f = 0; f < w.features; f++) {
    const prod = a[f] * b[f];
    const sum = a[f] + b[f];
    const d = Math.abs(a[f] - b[f]);
    const d2 = d * d;
    let y = w.b2;
    for (let j = 0; j < m; j++) {
      const h = w.b1[j] + prod * w.w1[j] + sum * w.w1[m + j] + d * w.w1[2 * m + j] + d2 * w.w1[3 * m + j];
      if (h > 0) y += h * w.w2[j]; // relu
    }
    logit += y * w.w3[f];
  }
  return logit;
}

/**
 * The probability the head (with its default sigmoid output) gives one pair, in plain JS.
 *
 * @param w - weights from {@link readHeadWeights}
 * @param a - features of photo A, length F
 * @param b - features of photo B, length F
 * @returns the probability that A and B show the same whale
 * @throws {@link WhaleidError} when a vector's length is not F
 * @example
 * const p = scorePair(readHeadWeights(head), fa, fb);
 */
export function scorePair(w: HeadWeights, a: ArrayLike<number>, b: ArrayLike<number>): number {
  return 1 / (1 + Math.exp(-pairLogit(w, a, b)));
}

/** Squared norms below this are treated as this when features are scaled to unit length (an all-zero vector stays all zero). */
export const L2_NORMALIZE_FLOOR = 1e-12;

/**
 * Scales each row of `x` (n x D) to unit length in place, its squared norm summed in float64 and
 * floored at {@link L2_NORMALIZE_FLOOR} (an all-zero row stays all zero), as the exported L2
 * normalisation does.
 *
 * @param x - n rows of D values, row after row
 * @param D - values per row
 * @returns `x`
 * @example
 * unitRowsInPlace(Float32Array.of(3, 4), 2); // [0.6, 0.8]
 */
export function unitRowsInPlace(x: Float32Array, D: number): Float32Array {
  for (let r = 0; r * D < x.length; r++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += x[r * D + d] ** 2;
    const k = 1 / Math.sqrt(Math.max(s, L2_NORMALIZE_FLOOR));
    for (let d = 0; d < D; d++) x[r * D + d] *= k;
  }
  return x;
}

/**
 * The cosine scorer's head weights: logit = scale * (a . b) + bias, which for unit-length features
 * is scale * cos(a, b) + bias. Two hidden units carry the product: relu(ab) - relu(-ab) = ab.
 *
 * @param features - feature count F
 * @param scale - logit per unit of cosine (positive)
 * @param bias - logit at cosine 0
 * @returns the weights, in the layout of {@link HeadWeights}
 * @throws {@link WhaleidError} when `features` is not a positive integer or `scale` not positive
 * @example
 * pairLogit(cosineHeadWeights(512, 12, -6), unitA, unitB); // 12 cos - 6
 */
export function cosineHeadWeights(features: number, scale: number, bias: number): HeadWeights {
  if (!Number.isSafeInteger(features) || features < 1) throw invalidParameterError('features', 'a positive integer', features);
  if (!(scale > 0) || !Number.isFinite(scale)) throw invalidParameterError('scale', 'a positive number', scale);
  if (!Number.isFinite(bias)) throw invalidParameterError('bias', 'a finite number', bias);
  const mid = 2;
  const w1 = new Float32Array(4 * mid);
  w1[0] = 1; // unit 0 <- a*b
  w1[1] = -1; // unit 1 <- -a*b
  return { features, mid, w1, b1: new Float32Array(mid), w2: Float32Array.of(1, -1), b2: 0, w3: new Float32Array(features).fill(scale), b3: bias };
}
