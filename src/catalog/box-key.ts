import type { Box } from '../image/affine.js';

/**
 * The one text key of a photo's box, for caches of things computed from its crop (the
 * identifier's features). Built from the numbers, never by SQL: SQLite stores boxes as REAL and
 * writes a whole 10 as `10.0`, JavaScript as `10`, and two spellings of one box once made the
 * gallery miss features it had just computed. A rotated box (an annotation's `theta`) adds its
 * angle: the same corners turned are another crop.
 *
 * @param box - the box, or null for a photo used whole
 * @returns `x0,y0,x1,y1` (and `,theta` when turned) with JavaScript's number spelling, or '' without a box
 * @example
 * boxKey({ x0: 10, y0: 20.5, x1: 300, y1: 200 }); // '10,20.5,300,200'
 * boxKey({ x0: 10, y0: 20.5, x1: 300, y1: 200, theta: 0.25 }); // '10,20.5,300,200,0.25'
 */
export function boxKey(box: Box | null | undefined): string {
  if (!box) return '';
  return box.theta ? `${box.x0},${box.y0},${box.x1},${box.y1},${box.theta}` : `${box.x0},${box.y0},${box.x1},${box.y1}`;
}
