/**
 * Line charts as inline SVG for report.html. No plotting library: the report must open offline,
 * from a run folder copied anywhere, with nothing to fetch.
 */

/** A horizontal reference line (a baseline or chance level) drawn across a chart. */
export interface ReferenceLine {
  /** Its y value. */
  readonly y: number;
  /** Legend text, e.g. `all new_whale 0.296`. */
  readonly label: string;
  /** Stroke colour. */
  readonly color: string;
}

/** What {@link svgLineChart} draws. */
export interface LineChart {
  readonly title: string;
  readonly points: readonly (readonly [number, number])[];
  readonly xLabel: string;
  readonly yLabel: string;
  readonly color: string;
  /** Baselines to draw beside the data (they widen the y range to stay visible). */
  readonly references?: readonly ReferenceLine[];
  /** Fixed y range, e.g. [0, 1] for MAP@5 so noise is not magnified into a trend. */
  readonly yRange?: readonly [number, number];
}

/**
 * Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, about `count` of
 * them. Why not 5 evenly spaced values: ticks like 0.5234 do not read as a scale.
 *
 * @param lo - range start
 * @param hi - range end (> lo)
 * @param count - ticks wanted, roughly
 * @returns ascending tick values within [lo, hi]
 * @example
 * niceTicks(0, 1, 5); // [0, 0.2, 0.4, 0.6, 0.8, 1]
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const raw = (hi - lo) / Math.max(1, count);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Draws a line chart with ticks on both axes, axis labels and reference lines with a legend.
 *
 * @param chart - title, points, labels, colour, reference lines
 * @returns an `<svg>` element, or a short paragraph when there are no points
 * @example
 * svgLineChart({ title: 'loss', points: [[1, 0.69], [2, 0.6]], xLabel: 'epoch', yLabel: 'loss', color: '#c00' });
 */
export function svgLineChart(chart: LineChart): string {
  const W = 600;
  const H = 260;
  const m = { l: 56, r: 16, t: 28, b: 44 };
  if (chart.points.length === 0) return `<p>${esc(chart.title)}: no data yet</p>`;
  const refs = chart.references ?? [];
  const xs = chart.points.map((p) => p[0]);
  const ys = [...chart.points.map((p) => p[1]), ...refs.map((r) => r.y)];
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  let [y0, y1] = chart.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const X = (x: number): number => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y: number): number => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const decimals = (ticks: number[]): number => Math.min(4, Math.max(0, ...ticks.map((t) => (String(t).split('.')[1] ?? '').length)));
  const yTicks = niceTicks(y0, y1);
  // whole-number data (epochs) get whole-number ticks only
  const xTicks = niceTicks(x0, x1, 6).filter((t) => !xs.every(Number.isInteger) || Number.isInteger(t));
  const yd = decimals(yTicks);
  const xd = decimals(xTicks);
  const yGrid = yTicks.map((t) => `<line x1="${m.l}" x2="${W - m.r}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e4e4e4"/><text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end" font-size="11">${t.toFixed(yd)}</text>`).join('');
  const xGrid = xTicks.map((t) => `<line x1="${X(t)}" x2="${X(t)}" y1="${H - m.b}" y2="${H - m.b + 5}" stroke="#444"/><text x="${X(t)}" y="${H - m.b + 17}" text-anchor="middle" font-size="11">${t.toFixed(xd)}</text>`).join('');
  const refLines = refs
    .map((r, i) => `<line x1="${m.l}" x2="${W - m.r}" y1="${Y(r.y)}" y2="${Y(r.y)}" stroke="${r.color}" stroke-dasharray="6 4" stroke-width="1.5"/><text x="${W - m.r - 4}" y="${Y(r.y) - 4 - 12 * (i % 2)}" text-anchor="end" font-size="11" fill="${r.color}">${esc(r.label)}</text>`)
    .join('');
  const line = chart.points.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ');
  const dots = chart.points.map((p) => `<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="2.5" fill="${chart.color}"/>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" role="img" aria-label="${esc(chart.title)}">
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(chart.title)}</text>${yGrid}
<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#444"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#444"/>${xGrid}
<text x="${(W + m.l) / 2}" y="${H - 6}" text-anchor="middle" font-size="12">${esc(chart.xLabel)}</text>
<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle" font-size="12">${esc(chart.yLabel)}</text>
${refLines}<path d="${line}" fill="none" stroke="${chart.color}" stroke-width="2"/>${dots}</svg>`;
}
