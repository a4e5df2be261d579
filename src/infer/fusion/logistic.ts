import { invalidParameterError } from '../../util/errors.js';

/** A fitted logistic regression: p = 1 / (1 + exp(-(bias + weights . x))). */
export interface LogisticModel {
  weights: number[];
  bias: number;
}

/** Options of {@link fitLogistic}. */
export interface LogisticFitOptions {
  /** L2 penalty on the weights (not the bias), per sample. Default 1e-4: only keeps separable data finite. */
  l2?: number;
  /** Newton steps at most. Default 50. */
  maxIterations?: number;
  /** Stop when no weight moves more than this. Default 1e-9. */
  tolerance?: number;
}

/** A fit and how it went. */
export interface LogisticFit extends LogisticModel {
  iterations: number;
  /** Mean log loss on the fitting samples. */
  logLoss: number;
}

/** sigmoid, stable for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * The model's probability for one sample.
 *
 * @param m - the model
 * @param x - the sample's features (as many as `m.weights`)
 * @returns p in (0, 1)
 */
export function predictLogistic(m: LogisticModel, x: ArrayLike<number>): number {
  let z = m.bias;
  for (let j = 0; j < m.weights.length; j++) z += m.weights[j] * x[j];
  return sigmoid(z);
}

/**
 * Fits a logistic regression by Newton's method (iteratively reweighted least squares): for a
 * handful of features the exact Hessian is tiny, so it converges in a few deterministic steps,
 * needs no learning rate, and no package. A small L2 penalty keeps the weights finite when the
 * classes are separable (a strong matcher on few calibration queries can separate them).
 *
 * @param x - samples, each with the same number of features
 * @param y - labels, 0 or 1
 * @param options - penalty, steps, tolerance
 * @returns weights, bias, steps taken and the final mean log loss
 * @throws {@link WhaleidError} for empty or ragged input, labels other than 0/1, or one class only
 * @example
 * fitLogistic([[0], [1], [2], [3]], [0, 0, 1, 1]).weights[0] > 0; // true
 */
export function fitLogistic(x: readonly ArrayLike<number>[], y: readonly number[], options: LogisticFitOptions = {}): LogisticFit {
  const n = x.length;
  if (n === 0 || y.length !== n) throw invalidParameterError('samples', `as many labels as samples (${n} > 0)`, y.length);
  const d = x[0].length;
  if (x.some((r) => r.length !== d)) throw invalidParameterError('samples', `${d} features each`, 'rows of different lengths');
  if (y.some((v) => v !== 0 && v !== 1)) throw invalidParameterError('labels', '0 or 1', y.find((v) => v !== 0 && v !== 1));
  const positives = y.reduce((s, v) => s + v, 0);
  if (positives === 0 || positives === n) throw invalidParameterError('labels', 'both classes present', `${positives} positives of ${n}`);
  const l2 = (options.l2 ?? 1e-4) * n;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-9;
  const p = d + 1; // parameter 0 is the bias
  const beta = new Float64Array(p);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const grad = new Float64Array(p);
    const hess = new Float64Array(p * p);
    const row = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      row[0] = 1;
      for (let j = 0; j < d; j++) row[j + 1] = x[i][j];
      let z = 0;
      for (let j = 0; j < p; j++) z += beta[j] * row[j];
      const mu = sigmoid(z);
      const w = Math.max(mu * (1 - mu), 1e-12);
      for (let a = 0; a < p; a++) {
        grad[a] += (mu - y[i]) * row[a];
        for (let b = 0; b <= a; b++) hess[a * p + b] += w * row[a] * row[b];
      }
    }
    for (let a = 1; a < p; a++) {
      grad[a] += l2 * beta[a];
      hess[a * p + a] += l2;
    }
    for (let a = 0; a < p; a++) for (let b = a + 1; b < p; b++) hess[a * p + b] = hess[b * p + a];
    const step = solveSymmetric(hess, grad, p);
    let moved = 0;
    for (let j = 0; j < p; j++) {
      beta[j] -= step[j];
      moved = Math.max(moved, Math.abs(step[j]));
    }
    if (moved < tolerance) {
      iterations++;
      break;
    }
  }
  const model: LogisticModel = { bias: beta[0], weights: Array.from(beta.subarray(1)) };
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const q = Math.min(1 - 1e-15, Math.max(1e-15, predictLogistic(model, x[i])));
    loss -= y[i] ? Math.log(q) : Math.log(1 - q);
  }
  return { ...model, iterations, logLoss: loss / n };
}

/** Solves A s = g for a symmetric positive definite A (p x p, row-major) by Cholesky. */
function solveSymmetric(a: Float64Array, g: Float64Array, p: number): Float64Array {
  const l = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j];
      for (let k = 0; k < j; k++) s -= l[i * p + k] * l[j * p + k];
      l[i * p + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j * p + j];
    }
  }
  const z = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = g[i];
    for (let k = 0; k < i; k++) s -= l[i * p + k] * z[k];
    z[i] = s / l[i * p + i];
  }
  const out = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = z[i];
    for (let k = i + 1; k < p; k++) s -= l[k * p + i] * out[k];
    out[i] = s / l[i * p + i];
  }
  return out;
}
