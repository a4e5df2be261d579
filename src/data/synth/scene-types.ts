/**
 * Data types of a synthetic photo scene (all in pixel coordinates) and small colour helpers
 * shared by the scene builders.
 */
import type { Rng } from '../../util/random.js';

/** An RGB colour, 0-255 per channel. */
export type Rgb = [number, number, number];

/** A painted element in pixels: a filled closed polygon (width 0) or a stroked polyline. */
export interface Paint {
  points: Float64Array;
  color: Rgb;
  opacity: number;
  width: number;
  /** Filled with a soft radial fade to transparent at the rim (foam), instead of a flat colour. */
  soft?: boolean;
}

/** A lens-shaped ripple on the sea (pointed ends, elongated along the horizon). */
export interface Ripple {
  x: number;
  y: number;
  rx: number;
  ry: number;
  color: Rgb;
  opacity: number;
}

/** Pixel post-processing applied after rasterising. */
export interface PhotoEffects {
  /** Gaussian blur sigma in pixels; 0 = none. */
  blurSigma: number;
  /** Standard deviation of additive noise, in 0-255 units. */
  noise: number;
  /** Seed of the noise pattern. */
  noiseSeed: number;
  brightness: number;
  contrast: number;
  gamma: number;
  /** Per-channel gain (colour cast). */
  gains: Rgb;
  /** Saved as a single-channel (L) JPEG. */
  greyscale: boolean;
  /** JPEG quality, 60-95. */
  quality: number;
}

/** Sky and sea behind the fluke. */
export interface Background {
  /** Horizon y at x = 0 and its slope (dy/dx); the horizon may lie above the frame. */
  horizonY: number;
  slope: number;
  skyTop: Rgb;
  skyHorizon: Rgb;
  seaFar: Rgb;
  seaNear: Rgb;
  /** Distant land along the horizon, or null. */
  land: Paint | null;
  /** Broad wave bands, drawn before the ripples. */
  bands: Paint[];
  ripples: Ripple[];
}

/** Everything needed to render one photo. */
export interface PhotoScene {
  width: number;
  height: number;
  background: Background;
  /** The visible fluke (outline above the water surface), closed polygon in pixels. */
  outline: Float64Array;
  /** Base colour of the fluke (its black). */
  flukeBlack: Rgb;
  /** Fluke marks and per-photo sheen in painting order, clipped to the outline when drawn. */
  marks: Paint[];
  /** Shading across the fluke: gradient line (x1, y1) to (x2, y2), darkening up to `opacity`. */
  shade: { x1: number; y1: number; x2: number; y2: number; opacity: number };
  /** Foam, streaming water and splashes, drawn over everything. */
  overlays: Paint[];
  effects: PhotoEffects;
  /** Visible fluke box in pixels, inclusive integers [x0, y0, x1, y1] (before any 180-degree turn). */
  box: [number, number, number, number];
}

/**
 * Rounds and clamps to a byte.
 *
 * @param v - any number
 * @returns an integer in 0-255
 * @example
 * clampByte(300.2); // 255
 */
export function clampByte(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

/**
 * Mixes two colours.
 *
 * @param a - first colour
 * @param b - second colour
 * @param t - 0 gives a, 1 gives b
 * @returns the mixed colour
 * @example
 * mix([0, 0, 0], [255, 255, 255], 0.5); // [128, 128, 128]
 */
export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [clampByte(a[0] + (b[0] - a[0]) * t), clampByte(a[1] + (b[1] - a[1]) * t), clampByte(a[2] + (b[2] - a[2]) * t)];
}

/**
 * Shifts each channel by a uniform random amount.
 *
 * @param rng - generator (consumed)
 * @param c - colour
 * @param amount - largest shift per channel
 * @returns the new colour
 * @example
 * jitter(rng, [30, 40, 50], 10);
 */
export function jitter(rng: Rng, c: Rgb, amount: number): Rgb {
  return [clampByte(c[0] + rng.uniform(-amount, amount)), clampByte(c[1] + rng.uniform(-amount, amount)), clampByte(c[2] + rng.uniform(-amount, amount))];
}

/**
 * A ragged closed shape around (x, y): flattened for foam, round for splashes and drops.
 *
 * @param rng - generator (consumed)
 * @param x - centre x
 * @param y - centre y
 * @param rx - horizontal radius
 * @param ry - vertical radius
 * @param count - number of points
 * @returns the polygon, x, y interleaved
 * @example
 * const foam = raggedBlob(rng, 100, 200, 12, 4);
 */
export function raggedBlob(rng: Rng, x: number, y: number, rx: number, ry: number, count = 12): Float64Array {
  const out = new Float64Array(count * 2);
  const ph = rng.uniform(0, 6);
  const amp = rng.uniform(0.1, 0.35);
  for (let i = 0; i < count; i++) {
    const a = (2 * Math.PI * i) / count;
    const r = 1 + amp * Math.sin(3 * a + ph) + rng.uniform(-0.15, 0.15);
    out[2 * i] = x + rx * r * Math.cos(a);
    out[2 * i + 1] = y + ry * r * Math.sin(a);
  }
  return out;
}
