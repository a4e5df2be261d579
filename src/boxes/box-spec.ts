/**
 * What a box model's input and output mean, without the model itself (no tfjs here, so the ONNX
 * prediction path stays light): the spec, the photo -> input-square matrix, the output encoding,
 * the model folder's files and where the shipped model lives.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CROP_ASPECT, cropMatrix, applyToPoint, multiply, type Augmentation, type Box, type Matrix3 } from '../image/affine.js';
import { invalidParameterError } from '../util/errors.js';
import { enclosingBox } from './box-transform.js';

/** File names in a box model folder. */
export const BOX_MODEL_FILES = Object.freeze({ onnx: 'model.onnx', json: 'model.json', summary: 'training.json', log: 'log.jsonl' });

/** Key of the box model's settings in model.json's `userDefinedMetadata`. */
export const BOX_METADATA_KEY = 'whaleidBoxModel';

/**
 * Folder of the box model shipped with the package (`models/fluke-boxes`, beside `dist/` and
 * `src/`; resolved from this module so it works from both).
 *
 * @returns the folder path (it may be missing in a checkout where it was never trained)
 */
export function shippedBoxModelDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'fluke-boxes');
}

/** The architecture and input settings of a box model. */
export interface BoxModelSpec {
  /** Side of the square input in pixels (the method: 128). */
  inputSize: number;
  /** Width/height of the photo region mapped onto the square (the crops' 2.15). */
  aspect: number;
  /** Filters of every conv layer (the method: 64). */
  filters: number;
  /** Stride of the 9x9 stem conv; a 2x2 max pool follows, so the edge grid is inputSize / (2 stemStride). */
  stemStride: number;
  /** 3x3 convs on that grid before the edge readout. */
  convs: number;
}

/** The box model: 128 px, 64 filters, a 16x16 grid. */
export const DEFAULT_BOX_MODEL: Readonly<BoxModelSpec> = Object.freeze({ inputSize: 128, aspect: CROP_ASPECT, filters: 64, stemStride: 4, convs: 2 });

/**
 * Checks a partial spec and fills in the defaults.
 *
 * @param spec - any subset of {@link BoxModelSpec}
 * @returns the full spec
 * @throws {@link WhaleidError} for non-positive sizes or an input too small for a 2x2 grid
 * @example
 * resolveBoxModelSpec({ filters: 8, inputSize: 64 }).convs; // 2
 */
export function resolveBoxModelSpec(spec: Partial<BoxModelSpec> = {}): BoxModelSpec {
  const s = { ...DEFAULT_BOX_MODEL, ...spec };
  for (const key of ['inputSize', 'filters', 'stemStride', 'convs'] as const) {
    if (!Number.isSafeInteger(s[key]) || s[key] < 1) throw invalidParameterError(key, 'a positive integer', s[key]);
  }
  if (!(Number.isFinite(s.aspect) && s.aspect > 0)) throw invalidParameterError('aspect', 'a positive number', s.aspect);
  const min = 4 * s.stemStride;
  if (s.inputSize < min) throw invalidParameterError('inputSize', `at least ${min} for stem stride ${s.stemStride}`, s.inputSize);
  return s;
}

/**
 * The matrix from the box model's input pixels (u, v) to photo pixels (x, y): the whole photo,
 * padded to the spec's aspect, on the square; optionally augmented (around the photo's centre)
 * and mirrored left-right. Prediction uses it without augmentation.
 *
 * @param width - photo width (original pixels)
 * @param height - photo height
 * @param spec - input size and aspect
 * @param augmentation - training augmentation, or none
 * @param flip - mirror the input left-right
 * @returns input -> photo matrix
 * @example
 * const m = boxInputMatrix(1050, 700, DEFAULT_BOX_MODEL);
 */
export function boxInputMatrix(width: number, height: number, spec: Pick<BoxModelSpec, 'inputSize' | 'aspect'>, augmentation?: Augmentation, flip = false): Matrix3 {
  const m = cropMatrix({ width, height, margin: 0, aspect: spec.aspect, outputSize: spec.inputSize, augmentation });
  return flip ? multiply(m, [-1, 0, spec.inputSize - 1, 0, 1, 0, 0, 0, 1]) : m;
}

/**
 * A box in input pixels -> the model's 4 targets (units of the input square: the left/top edge
 * of the first pixel is 0, the right/bottom edge of the last is 1).
 *
 * @param box - box in input pixel coordinates
 * @param inputSize - side of the input
 * @returns [x0, y0, x1, y1] in [0, 1] when inside the square
 */
export function boxToTarget(box: Box, inputSize: number): [number, number, number, number] {
  const t = (v: number): number => (v + 0.5) / inputSize;
  return [t(box.x0), t(box.y0), t(box.x1), t(box.y1)];
}

/**
 * The model's 4 outputs -> a box in photo pixels, clipped to the photo; inverse of
 * {@link boxToTarget} followed by the input -> photo matrix.
 *
 * @param out - the 4 outputs (read from `offset`)
 * @param matrix - input -> photo matrix ({@link boxInputMatrix} without augmentation)
 * @param inputSize - side of the input
 * @param width - photo width (for clipping)
 * @param height - photo height
 * @param offset - index of the first output
 * @returns the box inside the photo, at least 1 px wide and high
 * @example
 * const box = outputToBox(y, boxInputMatrix(w, h, spec), spec.inputSize, w, h);
 */
export function outputToBox(out: ArrayLike<number>, matrix: Matrix3, inputSize: number, width: number, height: number, offset = 0): Box {
  const u = (t: number): number => t * inputSize - 0.5;
  const a = applyToPoint(matrix, u(out[offset]), u(out[offset + 1]));
  const b = applyToPoint(matrix, u(out[offset + 2]), u(out[offset + 3]));
  const box = enclosingBox([a, b]);
  // Clipped to the photo and at least 1 px each way, so that every prediction is a usable crop box.
  const side = (a: number, b: number, size: number): [number, number] => {
    const lo = Math.min(Math.max(0, a), Math.max(0, size - 2));
    return [lo, Math.max(lo + 1, Math.min(size - 1, b))];
  };
  const [x0, x1] = side(box.x0, box.x1, width);
  const [y0, y1] = side(box.y0, box.y1, height);
  return { x0, y0, x1, y1 };
}
