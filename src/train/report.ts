import { writeFileAtomic } from '../util/atomic-file.js';
import { runPaths } from '../model/run-folder.js';

/** A line chart as inline SVG (no plotting library: the report must open offline). */
function svgChart(title: string, points: [number, number][], yLabel: string, color: string, xLabel = 'epoch'): string {
  const W = 560;
  const H = 240;
  const m = { l: 56, r: 16, t: 28, b: 36 };
  if (points.length === 0) return `<p>${title}: no data yet</p>`;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  if (y1 - y0 < 1e-9) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const X = (x: number): number => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (y: number): number => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => y0 + f * (y1 - y0));
  const grid = ticks.map((t) => `<line x1="${m.l}" x2="${W - m.r}" y1="${Y(t)}" y2="${Y(t)}" stroke="#ddd"/><text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end" font-size="11">${t.toFixed(3)}</text>`).join('');
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ');
  const dots = points.map((p) => `<circle cx="${X(p[0])}" cy="${Y(p[1])}" r="2.5" fill="${color}"/>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${title}</text>${grid}
<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" stroke="#444"/>
<text x="${W / 2}" y="${H - 6}" text-anchor="middle" font-size="12">${xLabel} (${x0} to ${x1})</text>
<text x="14" y="${H / 2}" transform="rotate(-90 14 ${H / 2})" text-anchor="middle" font-size="12">${yLabel}</text>
<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>${dots}</svg>`;
}

/**
 * Writes RUN_DIR/report.html: training loss and validation MAP@5 per epoch, and the settings.
 *
 * @param runDir - the run folder
 * @param history - the log records (`kind: 'epoch' | 'validation'`)
 * @param info - title and configuration to show
 * @example
 * await writeTrainingReport('runs/a', state.history, { title: 'run a', config });
 */
export async function writeTrainingReport(runDir: string, history: readonly Record<string, unknown>[], info: { title: string; config: unknown }): Promise<void> {
  const loss = history.filter((h) => h.kind === 'epoch').map((h) => [h.epoch as number, h.loss as number] as [number, number]);
  const val = history.filter((h) => h.kind === 'validation').map((h) => [h.epoch as number, h.map5 as number] as [number, number]);
  const last = history.filter((h) => h.kind === 'validation').at(-1);
  const esc = (s: string): string => s.replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`);
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(info.title)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}pre{background:#f4f4f4;padding:12px}</style></head><body>
<h1>${esc(info.title)}</h1>
<p>${loss.length} epochs. ${last ? `Last validation: MAP@5 <b>${(last.map5 as number).toFixed(4)}</b> at threshold ${last.threshold}, top-1 ${(last.top1 as number).toFixed(3)}, closed-set top-1 ${(last.closedTop1 as number).toFixed(3)} (${last.queries} queries).` : 'No validation yet.'}</p>
${svgChart('Training loss (binary cross-entropy)', loss, 'loss', '#c0392b')}
${svgChart('Validation MAP@5 (best threshold)', val, 'MAP@5', '#2471a3')}
${last?.curve ? svgChart('Last validation: MAP@5 against the new_whale threshold', last.curve as [number, number][], 'MAP@5', '#1e8449', 'threshold') : ''}
<h2>Configuration</h2><pre>${esc(JSON.stringify(info.config, null, 2))}</pre>
</body></html>`;
  await writeFileAtomic(runPaths(runDir).report, html);
}
