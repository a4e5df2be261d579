import type { Box } from '../image/affine.js';
import { WhaleidError } from '../util/errors.js';
import type { AnnotationBox } from './catalog-types.js';

/**
 * Refuses a box that cannot be an animal's: corners out of order, less than a pixel of it inside
 * the photo each way (a zero-area box gave a crop of nothing), or a corner further than the
 * photo's own size beyond its edges (±1e308 boxes were accepted and cropped to noise).
 *
 * @param b - the box's corners in pixels
 * @param width - the photo's width
 * @param height - the photo's height
 * @returns the box
 * @throws {@link WhaleidError} saying what was expected
 * @example
 * checkBox({ x0: 10, y0: 10, x1: 200, y1: 150 }, 320, 200);
 */
export function checkBox(b: Box, width: number, height: number): Box {
  const ok = [b.x0, b.y0, b.x1, b.y1].every(Number.isFinite) && b.x1 > b.x0 && b.y1 > b.y0 && b.x0 < width && b.y0 < height && b.x1 > 0 && b.y1 > 0;
  if (!ok) throw new WhaleidError(`box ${JSON.stringify(b)}: expected x0 < x1 and y0 < y1 overlapping the ${width}x${height} photo`);
  const near = b.x0 >= -width && b.x1 <= 2 * width && b.y0 >= -height && b.y1 <= 2 * height;
  if (!near) throw new WhaleidError(`box ${JSON.stringify(b)}: expected corners within one photo size of the ${width}x${height} photo's edges (x ${-width}..${2 * width}, y ${-height}..${2 * height})`);
  const inside = { w: Math.min(b.x1, width) - Math.max(b.x0, 0), h: Math.min(b.y1, height) - Math.max(b.y0, 0) };
  if (inside.w < 1 || inside.h < 1) throw new WhaleidError(`box ${JSON.stringify(b)}: expected at least 1 pixel wide and high inside the ${width}x${height} photo (${Number(inside.w.toPrecision(3))}x${Number(inside.h.toPrecision(3))} is)`);
  return b;
}

/**
 * The corners of an annotation's box (the photo's own box columns, the crop).
 *
 * @param b - x, y, width, height
 * @returns x0, y0, x1, y1
 * @example
 * cornersOf({ x: 10, y: 20, w: 100, h: 50 }); // { x0: 10, y0: 20, x1: 110, y1: 70 }
 */
export function cornersOf(b: AnnotationBox): Box {
  return { x0: b.x, y0: b.y, x1: b.x + b.w, y1: b.y + b.h };
}

/**
 * An annotation's box from corners.
 *
 * @param b - x0, y0, x1, y1
 * @returns x, y, width, height
 * @example
 * sizedOf({ x0: 10, y0: 20, x1: 110, y1: 70 }); // { x: 10, y: 20, w: 100, h: 50 }
 */
export function sizedOf(b: Box): AnnotationBox {
  return { x: b.x0, y: b.y0, w: b.x1 - b.x0, h: b.y1 - b.y0 };
}
