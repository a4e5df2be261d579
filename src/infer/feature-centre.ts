/**
 * Centred cosine (SimpleShot's CL2N, Wang et al. 2019): unit-length embeddings have the mean
 * embedding of the photos a model will compare subtracted, and are scaled to unit length again,
 * before the cosine. An embedding network trained on other images gives all photos of one
 * population a common direction (the species, the camera, the water) that every cosine counts; the
 * mean of the user's own photos removes it, so what is left is what tells individuals apart.
 * Measured on Omniglot's one-shot protocol with two ArcFace runs trained here (20-way, 400 trials,
 * bench/centred-cosine.ts): centred on the mean of the evaluation photos 66.0% and 63.7% against
 * 64.3% and 62.3% plain; centred on another population's mean (the training photos) 65.0% and
 * 61.5%. Hence the centre of the photos the model is calibrated on (the user's own).
 */
import { unitRowsInPlace } from '../model/network/head-weights.js';
import { WhaleidError } from '../util/errors.js';

/**
 * The mean of the rows of `x` (n x D), summed in float64.
 *
 * @param x - n rows of D values, row after row
 * @param D - values per row
 * @returns the D means
 * @throws {@link WhaleidError} when `x` holds no row or not a whole number of rows
 * @example
 * meanFeature(Float32Array.of(1, 0, 0, 1), 2); // Float32Array [0.5, 0.5]
 */
export function meanFeature(x: Float32Array, D: number): Float32Array {
  const n = x.length / D;
  if (!(Number.isInteger(n) && n >= 1)) throw new WhaleidError(`the mean feature needs whole rows of ${D} values, got ${x.length} values`);
  const sum = new Float64Array(D);
  for (let r = 0; r < n; r++) for (let d = 0; d < D; d++) sum[d] += x[r * D + d];
  return Float32Array.from(sum, (s) => s / n);
}

/**
 * Centres each row of `x` (n x D) on `centre` and scales it to unit length again, in place (norms
 * summed in float64; a row equal to the centre becomes all zero, which scores cosine 0 with any).
 *
 * @param x - n unit-length rows, row after row
 * @param D - values per row
 * @param centre - the D values to subtract
 * @returns `x`
 * @throws {@link WhaleidError} when `centre` does not have D values
 * @example
 * centreInPlace(Float32Array.of(1, 0, 0, 1), 2, Float32Array.of(0.5, 0.5)); // rows (0.707, -0.707), (-0.707, 0.707)
 */
export function centreInPlace(x: Float32Array, D: number, centre: Float32Array): Float32Array {
  if (centre.length !== D) throw new WhaleidError(`a feature centre of ${centre.length} values for features of ${D}`);
  for (let i = 0; i < x.length; i++) x[i] -= centre[i % D];
  return unitRowsInPlace(x, D);
}
