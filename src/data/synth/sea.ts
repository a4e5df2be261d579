/**
 * Sky and sea behind the fluke: a sky gradient, a horizon (tilted with the camera, sometimes out
 * of frame), sometimes distant land, and a sea of broad wave bands and small lens-shaped ripples
 * that shrink towards the horizon, in one of several sea/sky palettes.
 */
import type { Rng } from '../../util/random.js';
import { jitter, mix, type Background, type Paint, type Rgb, type Ripple } from './scene-types.js';

const SEA_PALETTES: Array<[Rgb, Rgb]> = [
  [[118, 140, 162], [18, 44, 74]],
  [[92, 108, 128], [10, 26, 46]],
  [[132, 148, 142], [34, 56, 56]],
  [[168, 174, 180], [66, 76, 86]],
  [[102, 142, 152], [14, 58, 70]],
  [[140, 150, 165], [40, 52, 70]],
  [[150, 160, 150], [52, 66, 60]],
];
const SKY_PALETTES: Array<[Rgb, Rgb]> = [
  [[150, 182, 218], [214, 226, 238]],
  [[190, 196, 204], [222, 226, 230]],
  [[120, 160, 210], [200, 218, 236]],
  [[210, 212, 214], [236, 236, 236]],
  [[172, 180, 190], [205, 210, 214]],
];

/**
 * Draws the background of one photo.
 *
 * @param rng - this photo's background generator (consumed)
 * @param width - frame width in pixels
 * @param height - frame height in pixels
 * @param horizonMid - horizon height at the frame's centre (negative: above the frame)
 * @param slope - horizon tilt, dy/dx
 * @returns the {@link Background}
 * @example
 * const bg = drawBackground(rng.fork('sea'), 700, 450, 80, 0.02);
 */
export function drawBackground(rng: Rng, width: number, height: number, horizonMid: number, slope: number): Background {
  const [far0, near0] = rng.pick(SEA_PALETTES);
  const seaFar = jitter(rng, far0, 14);
  const seaNear = jitter(rng, near0, 10);
  const [top0, hor0] = rng.pick(SKY_PALETTES);
  const skyTop = jitter(rng, top0, 12);
  const skyHorizon = jitter(rng, hor0, 10);
  const horizonY = horizonMid - (slope * width) / 2;
  const seaTopAt = (x: number): number => Math.max(horizonY + slope * x, -10);
  const top = Math.max(0, Math.min(seaTopAt(0), seaTopAt(width)));
  const span = height - top;
  const light = mix(seaNear, skyHorizon, rng.uniform(0.35, 0.7));
  const dark = mix(seaNear, [0, 0, 0], rng.uniform(0.2, 0.5));

  let land: Paint | null = null;
  if (horizonMid > 0.08 * height && rng.chance(0.2)) {
    const pts: number[] = [];
    const hill = rng.uniform(0.01, 0.05) * height;
    const phase = rng.uniform(0, 6);
    for (let x = -10; x <= width + 10; x += 10) pts.push(x, horizonY + slope * x - hill * (0.5 + 0.5 * Math.sin(x / (0.2 * width) + phase)));
    pts.push(width + 10, horizonY + slope * (width + 10) + 1, -10, horizonY - slope * 10 + 1);
    land = { points: Float64Array.from(pts), color: mix(seaFar, [40, 50, 45], rng.uniform(0.4, 0.8)), opacity: 1, width: 0 };
  }

  const bands: Paint[] = [];
  const bandCount = 2 + rng.int(4);
  for (let b = 0; b < bandCount; b++) {
    const d = rng.next();
    const yMid = top + span * Math.pow(d, 0.8);
    const thick = (0.01 + 0.06 * d) * height * rng.uniform(0.5, 1.5);
    const k = (2 * Math.PI) / (rng.uniform(0.15, 0.6) * width);
    const amp = thick * rng.uniform(0.1, 0.5);
    const ph = rng.uniform(0, 6);
    const pts: number[] = [];
    const edge = (x: number, off: number, phase: number): number => Math.max(seaTopAt(x), yMid + off + slope * (x - width / 2) + amp * Math.sin(k * x + phase));
    for (let x = -10; x <= width + 10; x += 12) pts.push(x, edge(x, 0, ph));
    for (let x = width + 10; x >= -10; x -= 12) pts.push(x, edge(x, thick, ph + 0.8));
    bands.push({ points: Float64Array.from(pts), color: rng.chance(0.5) ? light : dark, opacity: rng.uniform(0.08, 0.25), width: 0 });
  }

  const ripples: Ripple[] = [];
  const count = Math.round(rng.uniform(250, 450) * (width / 700));
  const scale = (width / 700) * rng.uniform(0.7, 1.4);
  const lightShare = rng.uniform(0.35, 0.75);
  const whitecaps = rng.chance(0.3) ? rng.uniform(0.01, 0.05) : 0;
  for (let i = 0; i < count; i++) {
    const x = rng.uniform(-20, width + 20);
    const y = top + span * Math.pow(rng.next(), 0.75);
    const surface = seaTopAt(x);
    if (y < surface + 1) continue;
    // Perspective: ripples near the horizon are small and flat, near the camera large.
    const depth = Math.max(0.02, (y - surface) / Math.max(1, height - surface));
    const rx = (3 + 45 * Math.pow(depth, 1.2)) * scale * rng.uniform(0.5, 1.5);
    const ry = rx * rng.uniform(0.05, 0.16);
    if (rng.chance(whitecaps)) {
      ripples.push({ x, y, rx: rx * 0.6, ry: ry * 1.5, color: [235, 238, 240], opacity: rng.uniform(0.4, 0.8) });
      continue;
    }
    const isLight = rng.chance(lightShare);
    ripples.push({ x, y, rx, ry, color: isLight ? light : dark, opacity: rng.uniform(0.15, 0.5) * (isLight ? 1 : 0.8) });
  }
  return { horizonY, slope, skyTop, skyHorizon, seaFar, seaNear, land, bands, ripples };
}
