/**
 * report.html of a run: what a person looks at to judge it. Loss and validation MAP@5 per epoch
 * against the baselines that give them meaning (all new_whale, chance), MAP@5 against the
 * new_whale threshold, test figures when the run was evaluated, a gallery of validation queries
 * beside their top-5 candidates (right ones marked), and the settings as a table.
 */
import { writeFileAtomic } from '../util/atomic-file.js';
import { runPaths } from '../model/folders/run-folder.js';
import { svgLineChart, type ReferenceLine } from './report-chart.js';

/** One query of the gallery: its crop and its best candidates' crops (PNG data URIs). */
export interface ReportGalleryItem {
  readonly name: string;
  readonly truth: string;
  readonly image: string;
  readonly candidates: readonly { id: string; name: string; score: number; image: string; correct: boolean }[];
}

/** A row of the test table: figures of a submission scored against its truth. */
export interface ReportTestRow {
  readonly label: string;
  readonly map5: number;
  readonly top1: number;
  readonly top5: number;
}

/** What the report shows besides the log. */
export interface ReportInfo {
  readonly title: string;
  readonly config: unknown;
  readonly gallery?: readonly ReportGalleryItem[];
  readonly tests?: readonly ReportTestRow[];
}

const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

function baselines(last: Record<string, unknown> | undefined): ReferenceLine[] {
  const out: ReferenceLine[] = [];
  if (typeof last?.newWhaleBaseline === 'number') out.push({ y: last.newWhaleBaseline, label: `all new individual ${last.newWhaleBaseline.toFixed(3)}`, color: '#7f8c8d' });
  if (typeof last?.chance === 'number') out.push({ y: last.chance, label: `chance ${last.chance.toFixed(3)}`, color: '#b9770e' });
  return out;
}

function configTable(config: unknown): string {
  if (config === null || typeof config !== 'object') return `<pre>${esc(JSON.stringify(config, null, 2))}</pre>`;
  const rows = Object.entries(config as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'object' ? JSON.stringify(v) : String(v))}</td></tr>`);
  return `<table class="kv">${rows.join('')}</table>`;
}

function testTable(tests: readonly ReportTestRow[] | undefined): string {
  if (!tests?.length) return '';
  const rows = tests.map((t) => `<tr><td>${esc(t.label)}</td><td>${t.map5.toFixed(4)}</td><td>${t.top1.toFixed(3)}</td><td>${t.top5.toFixed(3)}</td></tr>`);
  return `<h2>Test</h2><table class="grid"><tr><th>submission</th><th>MAP@5</th><th>top-1</th><th>top-5</th></tr>${rows.join('')}</table>`;
}

function galleryHtml(gallery: readonly ReportGalleryItem[] | undefined): string {
  if (!gallery?.length) return '';
  const rows = gallery.map((g) => {
    const cands = g.candidates
      .map((c, r) => `<figure class="${c.correct ? 'right' : ''}"><img src="${c.image}" alt="${esc(c.name)}"><figcaption>${r + 1}. ${esc(c.id)}${c.correct ? ' ✓' : ''}<br>match score ${c.score.toFixed(3)}</figcaption></figure>`)
      .join('');
    return `<div class="q"><figure class="query"><img src="${g.image}" alt="${esc(g.name)}"><figcaption>${esc(g.name)}<br>truth: ${esc(g.truth)}</figcaption></figure><span class="arrow">→</span>${cands}</div>`;
  });
  return `<h2>Validation queries and their top-5 (last validation, the new-individual answer left out)</h2>
<p>Each row: a validation query, then the five known individuals the model ranks highest, each shown by its best-matching photo. Green: the right individual. A query of a new individual (an individual not among the known ones) has no right candidate.</p>${rows.join('')}`;
}

/** The scorer a finished run chose (its log's `scorer` record), with the figures it was validated at. */
function finalScorer(history: readonly Record<string, unknown>[]): { scorer: string; reason: string; validation?: Record<string, number> } | null {
  const r = history.findLast((h) => h.kind === 'scorer');
  if (!r || typeof r.scorer !== 'string') return null;
  return { scorer: r.scorer, reason: String(r.reason ?? ''), ...(r.validation && typeof r.validation === 'object' ? { validation: r.validation as Record<string, number> } : {}) };
}

/**
 * Writes RUN_DIR/report.html (atomically).
 *
 * @param runDir - the run folder
 * @param history - the log records (`kind: 'epoch' | 'validation'`)
 * @param info - title, configuration, and optionally the gallery and test rows
 * @example
 * await writeTrainingReport('runs/a', state.history, { title: 'run a', config });
 */
export async function writeTrainingReport(runDir: string, history: readonly Record<string, unknown>[], info: ReportInfo): Promise<void> {
  const loss = history.filter((h) => h.kind === 'epoch').map((h) => [h.epoch as number, h.loss as number] as const);
  const vals = history.filter((h) => h.kind === 'validation');
  const val = vals.map((h) => [h.epoch as number, h.map5 as number] as const);
  const last = vals.at(-1);
  const refs = baselines(last);
  const final = finalScorer(history);
  // the figures of what prediction uses: the cosine scorer's when the run chose it (the console says the same)
  const shown = final?.validation ? { ...last, ...final.validation } : last;
  const scorer = final ? ` Scorer: <b>${esc(final.scorer)}</b> (${esc(final.reason)}).` : '';
  const summary = shown
    ? `${final ? 'Final model' : 'Last validation'}: MAP@5 <b>${(shown.map5 as number).toFixed(4)}</b> at threshold ${shown.threshold}, top-1 ${(shown.top1 as number).toFixed(3)}, closed-set top-1 ${(shown.closedTop1 as number).toFixed(3)} (${shown.queries} queries${refs.length ? `; ${refs.map((r) => r.label).join(', ')}` : ''}).${scorer} The threshold is chosen on these queries, so the figure is optimistic; few queries make it coarse (one query moves it by ${(1 / Math.max(1, shown.queries as number)).toFixed(3)}).`
    : 'No validation yet.';
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(info.title)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:13px}
table.kv th{background:#f6f6f6}.q{display:flex;align-items:flex-start;gap:6px;margin:8px 0}.q figure{margin:0;width:104px;font-size:11px;text-align:center}
.q img{width:96px;height:96px;border:3px solid #ccc;image-rendering:auto}.q figure.right img{border-color:#1e8449}.q figure.query img{border-color:#2471a3}.arrow{font-size:24px;align-self:center}</style></head><body>
<h1>${esc(info.title)}</h1>
<p>${loss.length} epochs. ${summary}</p>
${svgLineChart({ title: 'Training loss (binary cross-entropy)', points: loss, xLabel: 'epoch', yLabel: 'loss', color: '#c0392b', references: [{ y: Math.LN2, label: 'chance 0.693 (ln 2)', color: '#b9770e' }] })}
${svgLineChart({ title: 'Validation MAP@5 (best threshold)', points: val, xLabel: 'epoch', yLabel: 'MAP@5', color: '#2471a3', references: refs, yRange: [0, 1] })}
${last?.curve ? svgLineChart({ title: 'Last validation: MAP@5 against the new-individual threshold', points: last.curve as [number, number][], xLabel: 'new-individual threshold', yLabel: 'MAP@5', color: '#1e8449', references: refs, yRange: [0, 1] }) : ''}
${testTable(info.tests)}
${galleryHtml(info.gallery)}
<h2>Settings</h2>${configTable(info.config)}
</body></html>`;
  await writeFileAtomic(runPaths(runDir).report, html);
}
