import type { Box } from '../../src/image/affine.js';
import type { GreyImage } from '../../src/image/decode.js';
import { enclosingBox } from '../../src/boxes/box-transform.js';

/**
 * A black photo with a white rectangle covering pixels x0..x1, y0..y1 (inclusive), or only its
 * outline `outline` pixels thick (then the photo stays dark on average, so the mean fill of a
 * crop that cuts into the rectangle is not mistaken for it).
 */
export function rectanglePhoto(w: number, h: number, r: Box, outline = 0): GreyImage {
  const data = new Uint8Array(w * h);
  for (let y = r.y0; y <= r.y1; y++) {
    for (let x = r.x0; x <= r.x1; x++) {
      const edge = Math.min(x - r.x0, r.x1 - x, y - r.y0, r.y1 - y);
      if (outline === 0 || edge < outline) data[y * w + x] = 255;
    }
  }
  return { width: w, height: h, data, originalWidth: w, originalHeight: h, scale: 1, sourceChannels: 1 };
}

/** The box of the pixels brighter than half way between the darkest and brightest. */
export function brightBox(px: Float32Array, size: number): Box {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of px) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const points: [number, number][] = [];
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (px[y * size + x] > (lo + hi) / 2) points.push([x, y]);
  return enclosingBox(points);
}
