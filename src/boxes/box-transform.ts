/**
 * Boxes carried through the affine matrices of the image pipeline, so that a box stays on the
 * fluke when its photo is cropped, augmented, flipped or mapped onto the model's input square.
 */
import { applyToPoint, type Box, type Matrix3 } from '../image/affine.js';

/** Which points of a box are carried through a matrix (see {@link transformBox}). */
export type BoxAnchors = 'corners' | 'midpoints';

/**
 * The smallest axis-aligned box holding the given points.
 *
 * @param points - at least one (x, y)
 * @returns the enclosing box
 * @throws Error for no points
 * @example
 * enclosingBox([[1, 5], [3, 2]]); // { x0: 1, y0: 2, x1: 3, y1: 5 }
 */
export function enclosingBox(points: readonly (readonly [number, number])[]): Box {
  if (points.length === 0) throw new Error('enclosingBox of no points');
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of points) {
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  return { x0, y0, x1, y1 };
}

/**
 * Carries a box through an affine matrix and returns the axis-aligned box of the result.
 *
 * - `corners` (default): the enclosing box of the four transformed corners, i.e. the exact box
 *   of the transformed rectangle. Under a rotation or shear it is larger than the box of the
 *   object inside (a fluke does not fill its box's corners): about 9% taller at 2.5 degrees for
 *   a 2.15:1 box.
 * - `midpoints`: the enclosing box of the four transformed side midpoints. The object touches
 *   each side of its box somewhere along it; the midpoint is that place's expected position, so
 *   this neither inflates nor shrinks the box on average. Used for training labels. For
 *   scalings, translations and flips both give the same, exact, box.
 *
 * @param box - box in the source frame
 * @param m - source -> destination matrix (e.g. `invert(cropMatrix(...))` for photo -> model input)
 * @param anchors - which points to carry (default `corners`)
 * @returns the box in the destination frame
 * @example
 * transformBox({ x0: 0, y0: 0, x1: 10, y1: 4 }, scaling(2, 2)); // { x0: 0, y0: 0, x1: 20, y1: 8 }
 */
export function transformBox(box: Box, m: Matrix3, anchors: BoxAnchors = 'corners'): Box {
  const { x0, y0, x1, y1 } = box;
  if (anchors === 'corners') {
    return enclosingBox([applyToPoint(m, x0, y0), applyToPoint(m, x1, y0), applyToPoint(m, x0, y1), applyToPoint(m, x1, y1)]);
  }
  const cx = 0.5 * (x0 + x1);
  const cy = 0.5 * (y0 + y1);
  return enclosingBox([applyToPoint(m, cx, y0), applyToPoint(m, cx, y1), applyToPoint(m, x0, cy), applyToPoint(m, x1, cy)]);
}

/**
 * Clips a box to a rectangle; a box entirely outside becomes an empty box on the rectangle's edge.
 *
 * @param box - the box
 * @param x0 - left edge of the rectangle (and y0, x1, y1 likewise)
 * @returns the clipped box
 * @example
 * clipBox({ x0: -5, y0: 2, x1: 50, y1: 8 }, 0, 0, 40, 30); // { x0: 0, y0: 2, x1: 40, y1: 8 }
 */
export function clipBox(box: Box, x0: number, y0: number, x1: number, y1: number): Box {
  const cx = (v: number): number => Math.min(x1, Math.max(x0, v));
  const cy = (v: number): number => Math.min(y1, Math.max(y0, v));
  return { x0: cx(box.x0), y0: cy(box.y0), x1: cx(box.x1), y1: cy(box.y1) };
}

/**
 * Sorts each pair of coordinates so that x0 <= x1 and y0 <= y1 (a regression can output them
 * crossed).
 *
 * @param box - the box
 * @returns the same box with ordered corners
 */
export function orderedBox(box: Box): Box {
  return { x0: Math.min(box.x0, box.x1), y0: Math.min(box.y0, box.y1), x1: Math.max(box.x0, box.x1), y1: Math.max(box.y0, box.y1) };
}
