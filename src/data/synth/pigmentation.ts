/**
 * One individual's ventral pigmentation and scars, as point lists in canonical fluke coordinates
 * (see fluke-shape.ts). The photo renderer paints the marks in order, clipped to the fluke
 * outline, over a black base: white fields and blobs first, then black margins, spots, streaks
 * and speckles, then scars. Humpback catalogues range from all-black to all-white ventral flukes,
 * so the share of white is itself a per-animal draw.
 */
import type { Rng } from '../../util/random.js';
import { curveAt, smoothNoise, type FlukeShape } from './fluke-shape.js';

/** Paint of one mark. `scar` is a light, slightly translucent line; `scarDark` a dark one. */
export type MarkTone = 'white' | 'black' | 'scar' | 'scarDark';

/** One painted element: a filled closed polygon or a stroked open polyline. */
export interface Mark {
  tone: MarkTone;
  /** x, y interleaved, canonical units. */
  points: Float64Array;
  /** true: fill the closed polygon; false: stroke the polyline with `width`. */
  filled: boolean;
  /** Stroke width in canonical units (0 for filled marks). */
  width: number;
}

/** The individual's whole pattern. */
export interface Pigmentation {
  /** 0 = all black ventral side, 1 = nearly all white. */
  whiteness: number;
  /** Marks in painting order. */
  marks: Mark[];
}

/**
 * A closed blob: an ellipse whose radius is perturbed by a few random harmonics, so that no two
 * blobs look alike.
 *
 * @param rng - generator (consumed)
 * @param cx - centre x
 * @param cy - centre y
 * @param rx - radius along the blob's own x
 * @param ry - radius along the blob's own y
 * @param angle - rotation in radians
 * @param irregularity - 0 = ellipse, 1 = very ragged
 * @param count - number of points
 * @returns the polygon, x, y interleaved
 * @example
 * const pts = blob(createRng(1), 0.3, 0.1, 0.05, 0.03, 0, 0.5, 24);
 */
export function blob(rng: Rng, cx: number, cy: number, rx: number, ry: number, angle: number, irregularity: number, count = 28): Float64Array {
  const harm = 5;
  const amp = new Float64Array(harm);
  const ph = new Float64Array(harm);
  for (let k = 0; k < harm; k++) {
    amp[k] = (irregularity * rng.uniform(-0.35, 0.35)) / (k + 1);
    ph[k] = rng.uniform(0, 2 * Math.PI);
  }
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const out = new Float64Array(count * 2);
  for (let i = 0; i < count; i++) {
    const a = (2 * Math.PI * i) / count;
    let r = 1;
    for (let k = 0; k < harm; k++) r += amp[k] * Math.cos((k + 2) * a + ph[k]);
    r = Math.max(0.25, r);
    const px = rx * r * Math.cos(a);
    const py = ry * r * Math.sin(a);
    out[2 * i] = cx + c * px - s * py;
    out[2 * i + 1] = cy + s * px + c * py;
  }
  return out;
}

/** A random point inside the lobes, at a fraction `depth` of the way from trailing to leading edge. */
function pointInLobe(rng: Rng, shape: FlukeShape, minX = 0.08, maxX = 0.95): [number, number] {
  const x = rng.pick([-1, 1]) * rng.uniform(minX, maxX);
  const top = curveAt(shape.trailingSmooth, x);
  const bottom = curveAt(shape.leading, x);
  return [x, top + rng.uniform(0.1, 0.9) * (bottom - top)];
}

/** Local chord length (leading minus trailing edge) at x. */
function chordAt(shape: FlukeShape, x: number): number {
  return curveAt(shape.leading, x) - curveAt(shape.trailingSmooth, x);
}

/** High-frequency ragged noise: harmonics kMin..kMax with equal amplitude (a mottled border). */
function roughNoise(rng: Rng, amplitude: number, kMin: number, kMax: number): (x: number) => number {
  const count = kMax - kMin + 1;
  const amp = new Float64Array(count);
  const phase = new Float64Array(count);
  for (let k = 0; k < count; k++) {
    amp[k] = (amplitude * rng.uniform(-1, 1)) / Math.sqrt(count);
    phase[k] = rng.uniform(0, 2 * Math.PI);
  }
  return (x) => {
    let v = 0;
    for (let k = 0; k < count; k++) v += amp[k] * Math.sin((kMin + k) * Math.PI * x + phase[k]);
    return v;
  };
}

/**
 * The white field of one lobe: a band between a trailing and a leading black margin, with ragged
 * borders and rounded ends. The whiter the animal, the thinner the margins and the longer the band.
 */
function whiteField(rng: Rng, shape: FlukeShape, side: number, whiteness: number): Float64Array {
  const inner = rng.uniform(0.05, 0.12) + rng.uniform(0, 0.3) * (1 - whiteness);
  const outer = Math.min(0.98, rng.uniform(0.55, 0.8) + 0.22 * whiteness);
  const topBase = rng.uniform(0.03, 0.12) + 0.35 * (1 - whiteness) * rng.uniform(0.3, 1);
  const bottomBase = rng.uniform(0.04, 0.15) + 0.35 * (1 - whiteness) * rng.uniform(0.3, 1);
  const topMargin = smoothNoise(rng, 0.5, 8);
  const bottomMargin = smoothNoise(rng, 0.5, 8);
  const topRough = roughNoise(rng, 0.07, 8, 30);
  const bottomRough = roughNoise(rng, 0.07, 8, 30);
  const steps = 90;
  const top: number[] = [];
  const bottom: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const u = i / steps;
    const x = side * (inner + u * (outer - inner));
    const t = curveAt(shape.trailingSmooth, x);
    const chord = chordAt(shape, x);
    // Rounded ends: the band's height shrinks to zero at both ends.
    const round = Math.pow(Math.sin(Math.PI * u), 0.4);
    const a = t + chord * Math.max(0.02, topBase + topMargin(x) * 0.5 + topRough(x));
    const b = t + chord * (1 - Math.max(0.03, bottomBase + bottomMargin(x) * 0.5 + bottomRough(x)));
    const mid = (a + b) / 2;
    const half = Math.max(0, (b - a) / 2) * round;
    top.push(x, mid - half);
    bottom.push(x, mid + half);
  }
  const pts: number[] = [...top];
  for (let i = bottom.length - 2; i >= 0; i -= 2) pts.push(bottom[i], bottom[i + 1]);
  return Float64Array.from(pts);
}

/** Small dots scattered along a polygon's border: the mottled black/white transition. */
function mottle(rng: Rng, poly: Float64Array, count: number, spread: number, out: Float64Array[]): void {
  const n = poly.length / 2;
  for (let k = 0; k < count; k++) {
    const i = rng.int(n);
    const r = rng.uniform(0.003, 0.012);
    out.push(blob(rng, poly[2 * i] + rng.normal(0, spread), poly[2 * i + 1] + rng.normal(0, spread), r * rng.uniform(1, 2), r, rng.uniform(0, Math.PI), 0.4, 8));
  }
}

/** The black band along the trailing edge; it runs above the outline, which the clip cuts off. */
function trailingBand(rng: Rng, shape: FlukeShape): Float64Array {
  const base = rng.uniform(0.006, 0.05);
  const wobble = smoothNoise(rng, 0.6, 6);
  const tipWiden = rng.uniform(0, 0.12);
  const pts: number[] = [];
  const steps = 160;
  for (let i = 0; i <= steps; i++) {
    const x = -1 + (2 * i) / steps;
    pts.push(x, curveAt(shape.trailing, x) - 0.1);
  }
  for (let i = steps; i >= 0; i--) {
    const x = -1 + (2 * i) / steps;
    const t = Math.abs(x);
    const w = base * Math.max(0.2, 1 + wobble(x)) + tipWiden * Math.max(0, t - 0.75) * 4;
    pts.push(x, curveAt(shape.trailingSmooth, x) + Math.min(w, chordAt(shape, x) * 0.6));
  }
  return Float64Array.from(pts);
}

/** A dark band along the leading edge (many animals have a black leading margin). */
function leadingBand(rng: Rng, shape: FlukeShape): Float64Array {
  const base = rng.uniform(0.01, 0.06);
  const wobble = smoothNoise(rng, 0.5, 5);
  const pts: number[] = [];
  const steps = 160;
  for (let i = 0; i <= steps; i++) {
    const x = -1 + (2 * i) / steps;
    pts.push(x, curveAt(shape.leading, x) + 0.3);
  }
  for (let i = steps; i >= 0; i--) {
    const x = -1 + (2 * i) / steps;
    const w = base * Math.max(0.2, 1 + wobble(x));
    pts.push(x, curveAt(shape.leading, x) - Math.min(w, chordAt(shape, x) * 0.5));
  }
  return Float64Array.from(pts);
}

/** A scar: a gently curved polyline. */
function scarLine(rng: Rng, x: number, y: number, length: number, angle: number): Float64Array {
  const n = 6;
  const bend = rng.uniform(-0.3, 0.3);
  const pts = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    const u = i / (n - 1) - 0.5;
    const a = angle + bend * u;
    pts[2 * i] = x + Math.cos(a) * u * length;
    pts[2 * i + 1] = y + Math.sin(a) * u * length + bend * length * u * u;
  }
  return pts;
}

/**
 * Draws one individual's pigmentation and scars for a given outline.
 *
 * @param rng - the individual's generator (consumed)
 * @param shape - the outline the pattern lies on
 * @returns the {@link Pigmentation}
 * @example
 * const shape = drawFlukeShape(rng.fork('shape'));
 * const pattern = drawPigmentation(rng.fork('pattern'), shape);
 */
export function drawPigmentation(rng: Rng, shape: FlukeShape): Pigmentation {
  // Spread over the whole range but favour the extremes a little, like real catalogues.
  const u = rng.next();
  const whiteness = Math.min(1, Math.max(0, 0.5 + 0.62 * Math.sign(u - 0.5) * Math.pow(Math.abs(2 * u - 1), 0.8)));
  const marks: Mark[] = [];
  const fill = (tone: MarkTone, points: Float64Array): void => {
    marks.push({ tone, points, filled: true, width: 0 });
  };

  const whiteAreas: Float64Array[] = [];
  if (whiteness > 0.3) {
    for (const side of [-1, 1]) if (rng.chance(0.5 + whiteness)) whiteAreas.push(whiteField(rng, shape, side, whiteness));
  }
  const whiteBlobs = Math.round(rng.uniform(0, 1.5 + 6 * whiteness));
  for (let k = 0; k < whiteBlobs; k++) {
    const [x, y] = pointInLobe(rng, shape, 0.1, 0.9);
    const r = rng.uniform(0.02, 0.06 + 0.12 * whiteness);
    whiteAreas.push(blob(rng, x, y, r * rng.uniform(1, 2.2), r, rng.uniform(-0.6, 0.6), rng.uniform(0.5, 1.2), 40));
  }
  for (const area of whiteAreas) fill('white', area);
  // Mottled borders: black dots just inside and white dots just outside each white area.
  const edgeDots: Float64Array[] = [];
  for (const area of whiteAreas) mottle(rng, area, Math.round(rng.uniform(5, 40)), 0.012, edgeDots);
  // Tones are drawn first and dots painted grouped by tone (one SVG path per tone when rendering).
  const dotTones = edgeDots.map(() => rng.chance(0.6));
  for (const tone of [true, false]) {
    for (let k = 0; k < edgeDots.length; k++) if (dotTones[k] === tone) fill(tone ? 'black' : 'white', edgeDots[k]);
  }

  fill('black', trailingBand(rng, shape));
  if (rng.chance(0.6)) fill('black', leadingBand(rng, shape));
  // The middle of the fluke, around the notch and stock, is dark on almost every animal.
  fill('black', blob(rng, 0, shape.stockJoinY - 0.08, rng.uniform(0.08, 0.2), rng.uniform(0.1, 0.2), 0, 0.4));

  const blackMarks = Math.round(rng.uniform(1, 4 + 26 * whiteness));
  for (let k = 0; k < blackMarks; k++) {
    const [x, y] = pointInLobe(rng, shape);
    const kind = rng.next();
    if (kind < 0.55) {
      const r = rng.uniform(0.006, 0.035);
      fill('black', blob(rng, x, y, r * rng.uniform(1, 1.6), r, rng.uniform(0, Math.PI), 0.3, 14));
    } else if (kind < 0.85) {
      // Streaks run roughly along the chord (up-down on the fluke).
      const len = rng.uniform(0.03, 0.14);
      fill('black', blob(rng, x, y, rng.uniform(0.005, 0.015), len, rng.uniform(-0.5, 0.5), 0.15, 18));
    } else {
      const r = rng.uniform(0.04, 0.12);
      fill('black', blob(rng, x, y, r * rng.uniform(1, 1.8), r, rng.uniform(0, Math.PI), 0.9, 32));
    }
  }

  // Speckle clusters: many tiny dots, both tones.
  const clusters = rng.int(5);
  for (let c = 0; c < clusters; c++) {
    const [cx, cy] = pointInLobe(rng, shape);
    const tone: MarkTone = rng.chance(whiteness) ? 'black' : 'white';
    const dots = 4 + rng.int(16);
    const spread = rng.uniform(0.02, 0.08);
    for (let d = 0; d < dots; d++) {
      const r = rng.uniform(0.003, 0.009);
      fill(tone, blob(rng, cx + rng.normal(0, spread), cy + rng.normal(0, spread * 0.6), r, r, 0, 0.3, 8));
    }
  }

  const scarCount = rng.int(4);
  for (let k = 0; k < scarCount; k++) {
    const [x, y] = pointInLobe(rng, shape);
    const tone: MarkTone = rng.chance(whiteness) ? 'scarDark' : 'scar';
    marks.push({ tone, points: scarLine(rng, x, y, rng.uniform(0.04, 0.2), rng.uniform(0, Math.PI)), filled: false, width: rng.uniform(0.004, 0.01) });
  }
  if (rng.chance(0.4)) {
    // Rake marks (killer-whale teeth): parallel lines, roughly across the chord.
    const [x, y] = pointInLobe(rng, shape, 0.2, 0.9);
    const lines = 2 + rng.int(3);
    const gap = rng.uniform(0.015, 0.03);
    const angle = Math.PI / 2 + rng.uniform(-0.6, 0.6);
    const len = rng.uniform(0.06, 0.18);
    const tone: MarkTone = rng.chance(whiteness) ? 'scarDark' : 'scar';
    for (let l = 0; l < lines; l++) {
      const off = (l - (lines - 1) / 2) * gap;
      const px = x + Math.cos(angle + Math.PI / 2) * off;
      const py = y + Math.sin(angle + Math.PI / 2) * off;
      marks.push({ tone, points: scarLine(rng, px, py, len * rng.uniform(0.8, 1.1), angle), filled: false, width: rng.uniform(0.004, 0.008) });
    }
  }
  return { whiteness, marks };
}
