/**
 * Turns what the benchmark scripts print into one table of figures, each beside its peer's figure
 * from the same run, plus line plots where a figure varies with a size. The scripts stay free to
 * print what reads best; the shapes recognised here are:
 * - a markdown table whose last column is `A / B` with columns `A ...` and `B ...` (bench:train);
 * - a markdown table with a `vs X` column: each row against the row named X, or the first row
 *   (bench:images, bench:infer);
 * - bench:lap's `n=N kind: ours T ms (f32 T ms), scipy T ms` lines;
 * - bench:score's `n=N: whaleid R pairs/s ...; PyTorch V R pairs/s ...` lines.
 */

/** One benchmark figure and its peer measured in the same run. */
export interface Figure {
  bench: string;
  figure: string;
  unit: string;
  ours: number | null;
  peer: string;
  peerValue: number | null;
  /** How many times faster (or more) the figure is than its peer: > 1 means better. */
  ratio: number | null;
  /** For plots: the size the figure was measured at, and the curve it belongs to. */
  x?: number;
  curve?: string;
  oursName?: string;
}

const num = (cell: string | undefined): number | null => {
  const m = /-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/i.exec((cell ?? '').replace(/,/g, ''));
  return m ? Number(m[0]) : null;
};

/** Markdown tables in a text: rows of trimmed cells (header first, separator dropped) and the line before each. */
export function markdownTables(text: string): { title: string; rows: string[][] }[] {
  const lines = text.split(/\r?\n/);
  const tables: { title: string; rows: string[][] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].trim().startsWith('|')) continue;
    let title = '';
    for (let k = i - 1; k >= 0 && !title; k--) title = lines[k].trim();
    const rows: string[][] = [];
    for (; i < lines.length && lines[i].trim().startsWith('|'); i++) {
      const cells = lines[i].trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
      if (!cells.every((c) => /^:?-+:?$/.test(c))) rows.push(cells);
    }
    if (rows.length >= 2) tables.push({ title, rows });
  }
  return tables;
}

const ratioOf = (ours: number | null, peer: number | null, lowerIsBetter: boolean): number | null =>
  ours === null || peer === null || ours === 0 || peer === 0 ? null : lowerIsBetter ? peer / ours : ours / peer;

/** Figures of one markdown table, or none when its shape is not one of the known ones. */
function tableFigures(bench: string, t: { title: string; rows: string[][] }): Figure[] {
  const [head, ...body] = t.rows;
  const last = head[head.length - 1];
  const slash = /^(.+?) \/ (.+)$/.exec(last);
  if (slash) {
    const a = head.findIndex((h) => h.startsWith(`${slash[1]} `));
    const b = head.findIndex((h) => h.startsWith(`${slash[2]} `));
    if (a > 0 && b > 0) {
      const unit = head[a].slice(slash[1].length + 1);
      return body.map((r) => ({
        bench, figure: `${unit} at ${head[0]} ${r[0]}`, unit, ours: num(r[a]), oursName: slash[1], peer: slash[2], peerValue: num(r[b]),
        ratio: num(r[head.length - 1]) ?? ratioOf(num(r[a]), num(r[b]), false), x: num(r[0]) ?? undefined, curve: unit,
      }));
    }
  }
  const vs = head.findIndex((h) => /^vs /.test(h));
  if (vs > 0) {
    const peerName = head[vs].slice(3);
    const peerRow = body.find((r) => r[0] === peerName) ?? body[0];
    const unit = head[vs - 1];
    const lower = !unit.includes('/') && /\b(ms|s|seconds|min)\b/.test(unit); // a time, not a rate
    // text columns before the value (threads) and after the ratio (a note) tell rows of one engine apart
    const extra = head.map((h, k) => (k > 0 && k !== vs - 1 && k !== vs ? k : -1)).filter((k) => k >= 0);
    const short = (c: string): string => (c.length > 40 ? `${c.slice(0, 37)}...` : c);
    const label = (r: string[]): string => [r[0], ...extra.filter((k) => r[k]).map((k) => `${head[k]} ${short(r[k])}`)].join(', ');
    const title = t.title.length > 60 ? `${t.title.slice(0, 57)}...` : t.title;
    return body.filter((r) => r !== peerRow).map((r) => ({
      bench, figure: `${title ? `${title}: ` : ''}${label(r)}`, unit, ours: num(r[vs - 1]), peer: label(peerRow), peerValue: num(peerRow[vs - 1]),
      ratio: ratioOf(num(r[vs - 1]), num(peerRow[vs - 1]), lower),
    }));
  }
  return [];
}

/** bench:lap's per-matrix lines. */
function lapFigures(bench: string, text: string): Figure[] {
  const out: Figure[] = [];
  for (const m of text.matchAll(/^n=(\d+) (\w+): ours ([\d.]+) ms \(f32 ([\d.]+) ms\)(?:, scipy ([\d.]+) ms)?/gm)) {
    const ours = Number(m[3]);
    const scipy = m[5] === undefined ? null : Number(m[5]);
    out.push({ bench, figure: `solveLap ms, n=${m[1]} ${m[2]}`, unit: 'ms', ours, oursName: 'solveLap', peer: 'scipy linear_sum_assignment', peerValue: scipy, ratio: ratioOf(ours, scipy, true), x: Number(m[1]), curve: m[2] });
  }
  return out;
}

/** bench:score's per-size lines. */
function scoreFigures(bench: string, text: string): Figure[] {
  const out: Figure[] = [];
  for (const m of text.matchAll(/^n=(\d+): whaleid (\d+) pairs\/s(?:[^\n]*?; PyTorch (\S+) (\d+) pairs\/s)?/gm)) {
    const ours = Number(m[2]);
    const peer = m[4] === undefined ? null : Number(m[4]);
    out.push({ bench, figure: `score matrix pairs/s, n=${m[1]}`, unit: 'pairs/s', ours, oursName: 'whaleid', peer: m[3] ? `PyTorch ${m[3]}` : 'PyTorch', peerValue: peer, ratio: ratioOf(ours, peer, false), x: Number(m[1]), curve: 'pairs/s' });
  }
  return out;
}

/**
 * Every figure a benchmark script printed, with its peer.
 *
 * @param bench - the script's name (`lap`, `infer`, ...)
 * @param stdout - what it printed
 * @returns figures, in the order printed
 * @example
 * extractFigures('train', '| input | whaleid photos/s | PyTorch photos/s | whaleid / PyTorch |\n|---|---|---|---|\n| 192 | 5.1 | 40 | 0.128 |');
 */
export function extractFigures(bench: string, stdout: string): Figure[] {
  return [...markdownTables(stdout).flatMap((t) => tableFigures(bench, t)), ...lapFigures(bench, stdout), ...scoreFigures(bench, stdout)];
}

const fmt = (v: number | null, digits = 3): string => (v === null ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(digits)).toString());

/**
 * The summary table: one row per figure, its peer, and the ratio (> 1: ours better).
 *
 * @param figures - from {@link extractFigures}
 * @returns markdown lines
 * @example
 * summaryTable(figures).join('\n');
 */
export function summaryTable(figures: readonly Figure[]): string[] {
  const lines = ['| bench | figure | unit | value | peer (same run) | peer value | ratio |', '|---|---|---|---|---|---|---|'];
  for (const f of figures) lines.push(`| ${f.bench} | ${f.figure.replace(/\|/g, '/')} | ${f.unit} | ${fmt(f.ours)} | ${f.peer.replace(/\|/g, '/')} | ${fmt(f.peerValue)} | ${f.ratio === null ? '-' : `${fmt(f.ratio)}x`} |`);
  return lines;
}

/** A curve of a plot. */
export interface Series {
  name: string;
  points: [number, number][];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A line plot as SVG (rendered to PNG by the caller), log-scaled on y when the values span more
 * than a factor 30 (timings across sizes usually do).
 *
 * @param title - plot title
 * @param xLabel - x axis label
 * @param yLabel - y axis label
 * @param series - curves (points sorted by x here)
 * @returns the SVG text, 760x400
 * @example
 * linePlotSvg('solveLap vs scipy', 'n', 'ms', [{ name: 'ours', points: [[1000, 40], [2000, 150]] }]);
 */
export function linePlotSvg(title: string, xLabel: string, yLabel: string, series: readonly Series[]): string {
  const W = 760, H = 400, L = 70, R = 300, T = 40, B = 50;
  const pts = series.flatMap((s) => s.points);
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]).filter((y) => y > 0);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const log = ys.length > 0 && Math.max(...ys) / Math.min(...ys) > 30;
  const ty = (y: number): number => (log ? Math.log10(Math.max(y, 1e-12)) : y);
  const [y0, y1] = log ? [Math.floor(ty(Math.min(...ys))), Math.ceil(ty(Math.max(...ys)))] : [0, Math.max(...ys, 1e-12) * 1.1];
  const px = (x: number): number => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const py = (y: number): number => H - B - ((ty(y) - y0) / (y1 - y0 || 1)) * (H - T - B);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>`];
  parts.push(`<text x="${W / 2 - R / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`);
  parts.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`);
  for (const x of [...new Set(xs)].sort((a, b) => a - b)) parts.push(`<text x="${px(x)}" y="${H - B + 16}" text-anchor="middle">${x}</text>`);
  const ticks = log ? Array.from({ length: y1 - y0 + 1 }, (_, k) => 10 ** (y0 + k)) : Array.from({ length: 5 }, (_, k) => (y1 * k) / 4);
  for (const y of ticks) parts.push(`<text x="${L - 6}" y="${py(y) + 4}" text-anchor="end">${fmt(y, 2)}</text><line x1="${L}" y1="${py(y)}" x2="${W - R}" y2="${py(y)}" stroke="#ddd"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(`<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">${esc(yLabel)}${log ? ' (log)' : ''}</text>`);
  series.forEach((s, i) => {
    const c = colours[i % colours.length];
    const p = [...s.points].filter((q) => !log || q[1] > 0).sort((a, b) => a[0] - b[0]);
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${p.map((q) => `${px(q[0]).toFixed(1)},${py(q[1]).toFixed(1)}`).join(' ')}"/>`);
    for (const q of p) parts.push(`<circle cx="${px(q[0]).toFixed(1)}" cy="${py(q[1]).toFixed(1)}" r="3" fill="${c}"/>`);
    parts.push(`<line x1="${W - R + 12}" y1="${T + 10 + 18 * i}" x2="${W - R + 32}" y2="${T + 10 + 18 * i}" stroke="${c}" stroke-width="2"/><text x="${W - R + 38}" y="${T + 14 + 18 * i}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/**
 * The curves worth plotting for one benchmark: figures with a size (x), ours and the peer per
 * curve, when there are at least two sizes.
 *
 * @param figures - one benchmark's figures
 * @returns series and the unit, or null when there is nothing to plot
 * @example
 * const plot = plotSeries(figures.filter((f) => f.bench === 'lap'));
 */
export function plotSeries(figures: readonly Figure[]): { unit: string; series: Series[] } | null {
  const sized = figures.filter((f) => f.x !== undefined && f.ours !== null);
  if (new Set(sized.map((f) => f.x)).size < 2) return null;
  const by = new Map<string, [number, number][]>();
  const add = (name: string, x: number, y: number | null): void => {
    if (y !== null) by.set(name, [...(by.get(name) ?? []), [x, y]]);
  };
  const curves = new Set(sized.map((f) => f.curve ?? ''));
  for (const f of sized) {
    const suffix = curves.size > 1 ? ` (${f.curve})` : '';
    add(`${f.oursName ?? 'ours'}${suffix}`, f.x!, f.ours);
    add(`${f.peer}${suffix}`, f.x!, f.peerValue);
  }
  return { unit: sized[0].unit, series: [...by].map(([name, points]) => ({ name, points })) };
}
