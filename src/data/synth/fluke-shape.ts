/**
 * One individual's canonical fluke outline. Everything here lives in "canonical fluke
 * coordinates": x to the right with the tips at x = -1 and x = +1, y pointing down (as in an
 * image), the median notch near (0, 0), the tail stock hanging below it. A photo later applies a
 * pose (a homography) to these point lists, so the shape itself never depends on the camera.
 */
import type { Rng } from '../../util/random.js';

/** Number of x samples along the span; 401 gives a 0.005 step, fine enough for small nicks. */
export const SPAN_SAMPLES = 401;

/** Lowest canonical y of the tail stock polygon: well below any waterline a photo uses. */
export const STOCK_BOTTOM = 2;

/** The canonical geometry of one individual's fluke. */
export interface FlukeShape {
  /** x of each span sample, uniform from -1 to 1 ({@link SPAN_SAMPLES} values). */
  xs: Float64Array;
  /** Trailing-edge y with every detail (notches, scallops, nicks, bites), per sample. */
  trailing: Float64Array;
  /** Trailing-edge y without the fine detail (used to lay out the pigmentation bands). */
  trailingSmooth: Float64Array;
  /** Leading-edge y per sample, including the fillet that runs down into the tail stock. */
  leading: Float64Array;
  /** Half width of the tail stock where it joins the lobes. */
  stockHalfWidth: number;
  /** y where the tail stock leaves the lobes (the leading edge at the stock). */
  stockJoinY: number;
  /** The closed outline (x, y interleaved): trailing edge left to right, then leading edge and stock. */
  outline: Float64Array;
}

/**
 * Linear interpolation of a per-sample curve (trailing, leading, ...) at canonical x.
 *
 * @param curve - {@link SPAN_SAMPLES} values, one per span sample
 * @param x - canonical x (clamped to [-1, 1])
 * @returns the interpolated value
 * @example
 * const lead = curveAt(shape.leading, 0.5); // leading-edge y half way to the right tip
 */
export function curveAt(curve: Float64Array, x: number): number {
  const u = Math.min(1, Math.max(0, (x + 1) / 2)) * (SPAN_SAMPLES - 1);
  const i = Math.min(SPAN_SAMPLES - 2, Math.floor(u));
  const f = u - i;
  return curve[i] * (1 - f) + curve[i + 1] * f;
}

/**
 * A smooth random 1-D function: a few sinusoids over [-1, 1] with 1/k amplitudes.
 *
 * @param rng - generator (consumed once, here)
 * @param amplitude - amplitude of the first harmonic
 * @param harmonics - number of harmonics
 * @returns the function of x
 * @example
 * const wobble = smoothNoise(rng, 0.03, 5);
 * wobble(0.2); // a small offset, the same on every call
 */
export function smoothNoise(rng: Rng, amplitude: number, harmonics: number): (x: number) => number {
  const amp = new Float64Array(harmonics);
  const phase = new Float64Array(harmonics);
  for (let k = 0; k < harmonics; k++) {
    amp[k] = (amplitude * rng.uniform(-1, 1)) / (k + 1);
    phase[k] = rng.uniform(0, 2 * Math.PI);
  }
  return (x) => {
    let v = 0;
    for (let k = 0; k < harmonics; k++) v += amp[k] * Math.sin((k + 1) * Math.PI * x + phase[k]);
    return v;
  };
}

interface Dent {
  at: number;
  depth: number;
  width: number;
  round: boolean;
}

/**
 * Draws one individual's fluke outline.
 *
 * The trailing edge is a per-lobe swept curve (tips raised and curled), a median notch, a smooth
 * random wobble, per-lobe scallops (the serrated margin typical of humpbacks), a few V notches and
 * nicks, and sometimes a rounded bite. The leading edge is smooth: trailing edge plus a chord that
 * tapers to a point at each tip, curving down into the tail stock.
 *
 * @param rng - the individual's generator (consumed)
 * @returns the {@link FlukeShape}
 * @example
 * const shape = drawFlukeShape(createRng(7).fork('shape'));
 * shape.outline.length / 2; // number of outline points
 */
export function drawFlukeShape(rng: Rng): FlukeShape {
  const n = SPAN_SAMPLES;
  const xs = new Float64Array(n);
  for (let i = 0; i < n; i++) xs[i] = -1 + (2 * i) / (n - 1);

  // Per-lobe sweep: the two lobes of one animal differ a little, which helps tell animals apart.
  const liftBase = rng.uniform(0.1, 0.3);
  const lift = [liftBase * rng.uniform(0.85, 1.15), liftBase * rng.uniform(0.85, 1.15)];
  const power = [rng.uniform(1.2, 2.2), rng.uniform(1.2, 2.2)];
  const curl = [rng.uniform(0, 0.1), rng.uniform(0, 0.1)];
  const notchDepth = rng.uniform(0.04, 0.12);
  const notchWidth = rng.uniform(0.03, 0.09);
  const wobble = smoothNoise(rng, 0.035, 5);
  const scallopAmp = [rng.uniform(0.002, 0.012), rng.uniform(0.002, 0.012)];
  const scallopCount = [rng.uniform(8, 30), rng.uniform(8, 30)];
  const scallopPhase = [rng.uniform(0, Math.PI), rng.uniform(0, Math.PI)];

  const dents: Dent[] = [];
  const notchCount = rng.int(6);
  for (let k = 0; k < notchCount; k++) {
    dents.push({ at: rng.pick([-1, 1]) * rng.uniform(0.08, 0.95), depth: rng.uniform(0.012, 0.06), width: rng.uniform(0.008, 0.035), round: false });
  }
  const nickCount = rng.int(8);
  for (let k = 0; k < nickCount; k++) {
    dents.push({ at: rng.pick([-1, 1]) * rng.uniform(0.05, 0.97), depth: rng.uniform(0.005, 0.016), width: rng.uniform(0.004, 0.01), round: false });
  }
  if (rng.chance(0.15)) {
    dents.push({ at: rng.pick([-1, 1]) * rng.uniform(0.2, 0.85), depth: rng.uniform(0.03, 0.08), width: rng.uniform(0.04, 0.1), round: true });
  }

  const chordMax = rng.uniform(0.3, 0.46);
  const chordA = [rng.uniform(1.8, 3.2), rng.uniform(1.8, 3.2)];
  const chordB = [rng.uniform(0.5, 0.8), rng.uniform(0.5, 0.8)];
  const leadWobble = smoothNoise(rng, 0.02, 3);
  const stockHalfWidth = rng.uniform(0.065, 0.1);
  const filletDrop = rng.uniform(0.08, 0.2);
  const filletReach = stockHalfWidth + rng.uniform(0.12, 0.25);

  const trailingSmooth = new Float64Array(n);
  const trailing = new Float64Array(n);
  const leading = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = xs[i];
    const t = Math.abs(x);
    const side = x < 0 ? 0 : 1;
    const tip = Math.max(0, t - 0.7) / 0.3;
    const notch = notchDepth * Math.pow(Math.max(0, 1 - t / notchWidth), 1.5);
    const smooth = -lift[side] * Math.pow(t, power[side]) - curl[side] * tip * tip + notch + wobble(x) * t;
    trailingSmooth[i] = smooth;
    let detail = -scallopAmp[side] * Math.abs(Math.sin(Math.PI * scallopCount[side] * t + scallopPhase[side])) * Math.min(1, t * 8);
    for (const d of dents) {
      const u = Math.abs(x - d.at) / d.width;
      if (u < 1) detail += d.round ? d.depth * Math.sqrt(1 - u * u) : d.depth * (1 - u);
    }
    trailing[i] = smooth + detail;
    const chord = chordMax * Math.pow(Math.max(0, 1 - Math.pow(t, chordA[side])), chordB[side]);
    let lead = smooth - notch + chord + leadWobble(x) * chord;
    if (t < filletReach) {
      const u = Math.max(0, (filletReach - t) / (filletReach - stockHalfWidth));
      lead += filletDrop * Math.min(1, u) * Math.min(1, u);
    }
    // The trailing edge's dents must never cross the leading edge near the tips.
    leading[i] = Math.max(lead, trailing[i] + 0.002);
  }
  const stockJoinY = curveAt(leading, stockHalfWidth);
  const outline = buildOutline(xs, trailing, leading, stockHalfWidth, stockJoinY);
  return { xs, trailing, trailingSmooth, leading, stockHalfWidth, stockJoinY, outline };
}

function buildOutline(xs: Float64Array, trailing: Float64Array, leading: Float64Array, sw: number, joinY: number): Float64Array {
  const pts: number[] = [];
  const n = xs.length;
  for (let i = 0; i < n; i++) pts.push(xs[i], trailing[i]);
  for (let i = n - 2; i >= 0 && xs[i] > sw; i--) pts.push(xs[i], leading[i]);
  // Tail stock: straight sides, widening slightly as it goes down into the water.
  pts.push(sw, joinY, sw * 1.12, joinY + 0.5, sw * 1.3, STOCK_BOTTOM);
  pts.push(-sw * 1.3, STOCK_BOTTOM, -sw * 1.12, joinY + 0.5, -sw, joinY);
  let first = 0;
  while (first < n && xs[first] < -sw) first++;
  for (let i = first - 1; i > 0; i--) pts.push(xs[i], leading[i]);
  return Float64Array.from(pts);
}
