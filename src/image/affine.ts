import type { Rng } from '../util/random.js';
import { invalidParameterError } from '../util/errors.js';

/**
 * 2-D affine transforms as 3x3 row-major matrices acting on column vectors (x, y, 1). Coordinates
 * are pixel indices: the centre of pixel (i, j) is at x = i, y = j. Pure functions, no image here.
 */
export type Matrix3 = readonly [number, number, number, number, number, number, number, number, number];

/**
 * A fluke box `x0,y0,x1,y1` in photo pixel coordinates, optionally turned by `theta` radians about
 * its centre (an annotation's rotation, Wildbook's convention: the box's corners are
 * centre + R(theta)(corner - centre) with R = [[cos, -sin], [sin, cos]] in pixel coordinates, y
 * down, so a positive theta turns the box clockwise on screen).
 */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** Rotation in radians about the box centre; absent or 0: upright. */
  theta?: number;
}

/**
 * The rotation of a box as a matrix about a point (Wildbook's `theta` convention, see {@link Box}).
 *
 * @param theta - radians
 * @param cx - centre x
 * @param cy - centre y
 * @returns the matrix turning points about (cx, cy)
 * @example
 * applyToPoint(rotationAbout(Math.PI / 2, 0, 0), 1, 0); // [0, 1] (about: cos rounds)
 */
export function rotationAbout(theta: number, cx: number, cy: number): Matrix3 {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  return compose(translation(cx, cy), [c, -s, 0, s, c, 0, 0, 0, 1], translation(-cx, -cy));
}

/** The method's augmentation parameters (degrees, zoom factors, shifts as a share of the box). */
export interface Augmentation {
  rotation: number;
  shear: number;
  zoomX: number;
  zoomY: number;
  shiftX: number;
  shiftY: number;
}

/** No augmentation. */
export const IDENTITY_AUGMENTATION: Augmentation = Object.freeze({ rotation: 0, shear: 0, zoomX: 1, zoomY: 1, shiftX: 0, shiftY: 0 });

/**
 * The method's crop around a fluke box, written once: 5% of the box added on each side, the region
 * padded to width/height 2.15 (a fluke's shape). {@link DEFAULT_CROP} and every default of a crop
 * (training, prediction, the service's thumbnails, the preview) read these.
 */
export const CROP_MARGIN = 0.05;
export const CROP_ASPECT = 2.15;

/** Ranges of the method (Piotte's kernel): rotation and shear U(-5,5) deg, zoom U(0.8,1), shift U(-0.05,0.05). */
export const METHOD_AUGMENTATION_RANGES = Object.freeze({ rotation: 5, shear: 5, zoomMin: 0.8, zoomMax: 1.0, shift: 0.05 });

export const identity = (): Matrix3 => [1, 0, 0, 0, 1, 0, 0, 0, 1];
export const translation = (tx: number, ty: number): Matrix3 => [1, 0, tx, 0, 1, ty, 0, 0, 1];
export const scaling = (sx: number, sy: number): Matrix3 => [sx, 0, 0, 0, sy, 0, 0, 0, 1];

/**
 * Matrix product a·b (apply b first, then a).
 *
 * @example
 * multiply(translation(1, 0), scaling(2, 2)); // x -> 2x + 1
 */
export function multiply(a: Matrix3, b: Matrix3): Matrix3 {
  const r = new Array<number>(9);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
  }
  return r as unknown as Matrix3;
}

/** Composes matrices right to left: compose(a, b, c) = a·b·c (c applied first). */
export function compose(...ms: Matrix3[]): Matrix3 {
  return ms.reduce((acc, m) => multiply(acc, m), identity());
}

/** Applies a matrix to a point. */
export function applyToPoint(m: Matrix3, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/** Inverse of an affine matrix. @throws Error when singular. */
export function invert(m: Matrix3): Matrix3 {
  const det = m[0] * m[4] - m[1] * m[3];
  if (Math.abs(det) < 1e-12) throw new Error('singular affine matrix');
  const a = m[4] / det;
  const b = -m[1] / det;
  const c = -m[3] / det;
  const d = m[0] / det;
  return [a, b, -(a * m[2] + b * m[5]), c, d, -(c * m[2] + d * m[5]), 0, 0, 1];
}

/**
 * The augmentation matrix of Piotte's kernel (`build_transform`), in (x, y) order: rotation ·
 * shear · zoom · shift, all in photo pixels around the box centre. Zoom divides (zoom < 1 shows
 * more of the photo); shear slants rows; shifts are in pixels.
 *
 * @param aug - parameters; shifts here are in pixels (see {@link cropMatrix} for box shares)
 * @returns the matrix
 * @example
 * augmentationMatrix({ ...IDENTITY_AUGMENTATION, rotation: 90 }); // (x, y) -> (-y, x)
 */
export function augmentationMatrix(aug: Augmentation): Matrix3 {
  const r = (aug.rotation * Math.PI) / 180;
  const s = (aug.shear * Math.PI) / 180;
  const rot: Matrix3 = [Math.cos(r), -Math.sin(r), 0, Math.sin(r), Math.cos(r), 0, 0, 0, 1];
  const shear: Matrix3 = [Math.cos(s), 0, 0, Math.sin(s), 1, 0, 0, 0, 1];
  const zoom = scaling(1 / aug.zoomX, 1 / aug.zoomY);
  const shift = translation(-aug.shiftX, -aug.shiftY);
  return compose(rot, shear, zoom, shift);
}

/**
 * Widens a box by `margin` of its size on each side, clips it to the photo, then pads the short
 * side so width/height = `aspect` (the method: 5% and 2.15).
 *
 * @param box - fluke box in photo pixels
 * @param width - photo width
 * @param height - photo height
 * @param margin - share of the box added on each side
 * @param aspect - target width/height
 * @returns the padded box (may extend past the photo; outside is filled later)
 * @example
 * paddedBox({ x0: 0, y0: 0, x1: 215, y1: 50 }, 1000, 1000, 0, 2.15); // y grows to height 100
 */
export function paddedBox(box: Box, width: number, height: number, margin: number, aspect: number): Box {
  let { x0, y0, x1, y1 } = box;
  const dx = x1 - x0;
  const dy = y1 - y0;
  x0 = Math.max(0, x0 - dx * margin);
  x1 = Math.min(width, x1 + dx * margin);
  y0 = Math.max(0, y0 - dy * margin);
  y1 = Math.min(height, y1 + dy * margin);
  const w = x1 - x0;
  const h = y1 - y0;
  if (w > h * aspect) {
    const pad = 0.5 * (w / aspect - h);
    y0 -= pad;
    y1 += pad;
  } else {
    const pad = 0.5 * (h * aspect - w);
    x0 -= pad;
    x1 += pad;
  }
  return { x0, y0, x1, y1 };
}

/** Everything that decides where a crop comes from. */
export interface CropSpec {
  /** Photo size (original pixels, after EXIF orientation). */
  width: number;
  height: number;
  /** Fluke box in original pixels; the whole photo when absent. */
  box?: Box;
  /** Share of the box added on each side. Default 0.05. */
  margin?: number;
  /** Width/height of the region mapped onto the square output. Default 2.15. */
  aspect?: number;
  /** Output side in pixels. */
  outputSize: number;
  augmentation?: Augmentation;
  /** The photo is upside down (rotate list): turn it 180 degrees first. */
  rotate180?: boolean;
}

/**
 * The ONE matrix mapping output pixel (u, v) to original photo coordinates (x, y): box margin and
 * aspect padding, scaling onto the square, augmentation around the box centre, and the optional
 * 180-degree turn, composed so the photo is resampled exactly once.
 *
 * @param spec - see {@link CropSpec}
 * @returns output -> photo matrix
 * @throws {@link WhaleidError} for an empty box or non-positive sizes
 * @example
 * const m = cropMatrix({ width: 1050, height: 700, box, outputSize: 384 });
 */
export function cropMatrix(spec: CropSpec): Matrix3 {
  const { width, height, outputSize } = spec;
  if (!(outputSize >= 1)) throw invalidParameterError('outputSize', 'a positive integer', outputSize);
  if (!(width >= 1 && height >= 1)) throw invalidParameterError('photo size', 'positive width and height', `${width}x${height}`);
  let box = spec.box ?? { x0: 0, y0: 0, x1: width, y1: height };
  if (!(box.x1 > box.x0 && box.y1 > box.y0)) throw invalidParameterError('box', 'x1 > x0 and y1 > y0', `${box.x0},${box.y0},${box.x1},${box.y1}`);
  // Turned photo: pixel x maps to width-1-x; the box is turned the same way so both agree.
  if (spec.rotate180) box = { x0: width - 1 - box.x1, y0: height - 1 - box.y1, x1: width - 1 - box.x0, y1: height - 1 - box.y0, theta: box.theta };
  const p = paddedBox(box, width, height, spec.margin ?? CROP_MARGIN, spec.aspect ?? CROP_ASPECT);
  const bw = p.x1 - p.x0;
  const bh = p.y1 - p.y0;
  const aug = spec.augmentation ?? IDENTITY_AUGMENTATION;
  const augPx = augmentationMatrix({ ...aug, shiftX: aug.shiftX * bw, shiftY: aug.shiftY * bh });
  // a turned box (an annotation's theta): the crop is taken along the box, turned about the box's
  // centre (the padded box shares it only without clipping, so the box's own centre is used)
  const turn = box.theta ? rotationAbout(box.theta, 0.5 * (box.x0 + box.x1), 0.5 * (box.y0 + box.y1)) : identity();
  let m = compose(
    turn,
    translation(0.5 * (p.x0 + p.x1), 0.5 * (p.y0 + p.y1)),
    augPx,
    scaling(bw / outputSize, bh / outputSize),
    translation(-0.5 * outputSize, -0.5 * outputSize),
  );
  if (spec.rotate180) m = multiply([-1, 0, width - 1, 0, -1, height - 1, 0, 0, 1], m);
  return m;
}

/**
 * Draws one random augmentation from the method's ranges.
 *
 * @param rng - seeded generator
 * @param ranges - defaults to {@link METHOD_AUGMENTATION_RANGES}
 * @returns the parameters
 * @example
 * randomAugmentation(createRng(7));
 */
export function randomAugmentation(rng: Rng, ranges = METHOD_AUGMENTATION_RANGES): Augmentation {
  return {
    rotation: rng.uniform(-ranges.rotation, ranges.rotation),
    shear: rng.uniform(-ranges.shear, ranges.shear),
    zoomY: rng.uniform(ranges.zoomMin, ranges.zoomMax),
    zoomX: rng.uniform(ranges.zoomMin, ranges.zoomMax),
    shiftY: rng.uniform(-ranges.shift, ranges.shift),
    shiftX: rng.uniform(-ranges.shift, ranges.shift),
  };
}
