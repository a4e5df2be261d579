/**
 * Water in front of and around the fluke: the water surface the tail stock disappears into, foam
 * where it does, water streaming off the lobes, and sometimes a splash that hides part of the
 * fluke. All of it is drawn over the fluke, semi-transparent.
 */
import type { Rng } from '../../util/random.js';
import { curveAt, type FlukeShape } from './fluke-shape.js';
import { applyPose, type Pose } from './pose.js';
import { mix, raggedBlob, type Paint, type Rgb } from './scene-types.js';

/** The water surface near the fluke: height at pixel x. */
export interface WaterSurface {
  y(x: number): number;
}

/**
 * A water surface through the point (sx, sy), tilted like the horizon and gently wavy. The waves
 * are tied to sx, so moving the point moves the whole surface with it.
 *
 * @param rng - generator (consumed)
 * @param sx - x where the tail stock enters the water
 * @param sy - y there
 * @param slope - tilt, dy/dx
 * @param width - frame width (sets the wave scale)
 * @returns the {@link WaterSurface}
 * @example
 * const water = makeWaterSurface(rng, 350, 300, 0.02, 700);
 */
export function makeWaterSurface(rng: Rng, sx: number, sy: number, slope: number, width: number): WaterSurface {
  const amp = rng.uniform(0, 0.006) * width;
  const k = (2 * Math.PI) / (rng.uniform(0.05, 0.2) * width);
  const phase = rng.uniform(0, 2 * Math.PI);
  return { y: (x) => sy + slope * (x - sx) + amp * (Math.sin(k * (x - sx) + phase) - Math.sin(phase)) };
}

/**
 * The part of a closed polygon above the water surface (Sutherland-Hodgman against the one curved
 * boundary: crossings are interpolated on the edge, the water edge between them is straight).
 *
 * @param poly - closed polygon, x, y interleaved
 * @param water - the surface
 * @returns the clipped polygon (possibly empty)
 * @example
 * const visible = clipAboveWater(outlinePixels, water);
 */
export function clipAboveWater(poly: Float64Array, water: WaterSurface): Float64Array {
  const out: number[] = [];
  const n = poly.length / 2;
  for (let i = 0; i < n; i++) {
    const ax = poly[2 * i];
    const ay = poly[2 * i + 1];
    const j = (i + 1) % n;
    const bx = poly[2 * j];
    const by = poly[2 * j + 1];
    const da = ay - water.y(ax);
    const db = by - water.y(bx);
    if (da <= 0) out.push(ax, ay);
    if ((da <= 0) !== (db <= 0)) {
      const t = da / (da - db);
      const cx = ax + t * (bx - ax);
      out.push(cx, ay + t * (by - ay));
    }
  }
  return Float64Array.from(out);
}

/**
 * Foam, streams and splashes for one photo.
 *
 * @param rng - this photo's water generator (consumed)
 * @param shape - the individual's canonical outline
 * @param pose - the photo's pose
 * @param water - the water surface
 * @param flukeWidth - visible fluke width in pixels (sets the scale of everything)
 * @param seaFar - the sea's far colour (tints the foam)
 * @returns paints, to draw over the fluke in order
 * @example
 * const overlays = drawWaterEffects(rng.fork('water'), whale.shape, pose, water, 420, bg.seaFar);
 */
export function drawWaterEffects(rng: Rng, shape: FlukeShape, pose: Pose, water: WaterSurface, flukeWidth: number, seaFar: Rgb): Paint[] {
  const out: Paint[] = [];
  const foam = mix([246, 248, 250], seaFar, rng.uniform(0, 0.2));
  const stockX = applyPose(pose, Float64Array.of(0, shape.stockJoinY + 0.3))[0];
  const stockW = Math.abs(applyPose(pose, Float64Array.of(shape.stockHalfWidth, shape.stockJoinY))[0] - applyPose(pose, Float64Array.of(-shape.stockHalfWidth, shape.stockJoinY))[0]);

  // Foam where the stock leaves the water: soft blobs plus a few bright crisp bits on the surface.
  const spread = Math.max(stockW, flukeWidth * rng.uniform(0.04, 0.2));
  const foamCount = 10 + rng.int(30);
  for (let i = 0; i < foamCount; i++) {
    const x = stockX + rng.normal(0, spread * 0.8);
    const y = water.y(x) + Math.abs(rng.normal(0, spread * 0.2)) - spread * 0.04;
    const rx = flukeWidth * rng.uniform(0.015, 0.07);
    out.push({ points: raggedBlob(rng, x, y, rx, rx * rng.uniform(0.25, 0.6), 14), color: foam, opacity: rng.uniform(0.5, 1), width: 0, soft: true });
  }
  const bits = 5 + rng.int(20);
  for (let i = 0; i < bits; i++) {
    const x = stockX + rng.normal(0, spread);
    const y = water.y(x) + Math.abs(rng.normal(0, spread * 0.12));
    const rx = flukeWidth * rng.uniform(0.004, 0.02);
    out.push({ points: raggedBlob(rng, x, y, rx, rx * rng.uniform(0.2, 0.5), 8), color: foam, opacity: rng.uniform(0.5, 0.9), width: 0 });
  }

  const wet = mix([228, 234, 240], seaFar, 0.15);
  if (rng.chance(0.45)) {
    const streams = 2 + rng.int(8);
    const widthScale = flukeWidth / 350;
    for (let s = 0; s < streams; s++) {
      // Water pours mostly off the lower (leading) edge and the tips, sometimes over the trailing edge.
      const x = rng.pick([-1, 1]) * rng.uniform(0.12, 0.95);
      const fromLead = rng.chance(0.7);
      const y0 = fromLead ? curveAt(shape.leading, x) - 0.005 : curveAt(shape.trailing, x) + 0.01;
      const start = applyPose(pose, Float64Array.of(x, y0));
      const len = flukeWidth * rng.uniform(0.03, 0.16);
      const end = Math.min(water.y(start[0]) + 2, start[1] + len);
      if (end <= start[1] + 2) continue;
      const pts: number[] = [];
      const sway = rng.uniform(-0.08, 0.08) * len;
      for (let k = 0; k <= 5; k++) {
        const t = k / 5;
        pts.push(start[0] + sway * t * t + rng.uniform(-1, 1) * widthScale, start[1] + (end - start[1]) * t);
      }
      out.push({ points: Float64Array.from(pts), color: wet, opacity: rng.uniform(0.2, 0.55), width: rng.uniform(0.8, 3.5) * widthScale });
      const drops = rng.int(4);
      for (let d = 0; d < drops; d++) {
        const r = rng.uniform(0.6, 1.6) * widthScale;
        out.push({ points: raggedBlob(rng, pts[10] + rng.normal(0, 3 * widthScale), end + rng.uniform(-len, 0), r, r, 6), color: wet, opacity: rng.uniform(0.4, 0.8), width: 0 });
      }
    }
  }
  if (rng.chance(0.25)) {
    // Splashes: clusters of soft white puffs with spray around them, over the lower fluke.
    const splashes = 1 + rng.int(2);
    for (let b = 0; b < splashes; b++) {
      const x = rng.uniform(-0.6, 0.6);
      const at = applyPose(pose, Float64Array.of(x, curveAt(shape.leading, x) + rng.uniform(-0.05, 0.15)));
      const cy = Math.min(at[1], water.y(at[0]));
      const r = flukeWidth * rng.uniform(0.04, 0.1);
      const puffs = 4 + rng.int(6);
      for (let k = 0; k < puffs; k++) {
        const pr = r * rng.uniform(0.3, 0.7);
        const px = at[0] + rng.normal(0, r * 0.6);
        out.push({ points: raggedBlob(rng, px, cy - Math.abs(rng.normal(0, r * 0.5)), pr, pr * rng.uniform(0.6, 1), 14), color: foam, opacity: rng.uniform(0.5, 0.95), width: 0, soft: true });
      }
      for (let d = 0; d < 12; d++) {
        const dr = r * rng.uniform(0.02, 0.07);
        out.push({ points: raggedBlob(rng, at[0] + rng.normal(0, r), cy - Math.abs(rng.normal(0, r * 1.2)), dr, dr, 8), color: foam, opacity: rng.uniform(0.4, 0.9), width: 0 });
      }
    }
  }
  return out;
}
