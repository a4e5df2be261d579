/**
 * Runs every benchmark script (`bench/*.ts`) one after another and writes `bench/results.md`: one
 * table of every figure beside its peer's figure from the same run and their ratio, each script's
 * own tables and notes, and PNG plots (bench/plots/) where a figure was measured at several sizes.
 *
 *   npm run bench [-- --full] [--only lap,infer] [--out bench/results.md] [--timeout-min 20]
 *
 * By default each script gets small quick arguments (minutes in all on 2 cores); `--full` runs
 * them with their own defaults. A script that fails or times out is reported, not hidden, and
 * makes the exit code 1; the others still run. Scripts run one at a time: they time themselves
 * and would disturb each other.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { invalidParameterError, parseIntOption } from '../src/util/errors.js';
import { extractFigures, linePlotSvg, markdownTables, plotSeries, summaryTable, type Figure } from './lib/results.js';

/** Quick arguments per script; scripts not listed run with their defaults. */
const QUICK: Record<string, string[]> = {
  images: ['--rounds', '3'],
  infer: ['--size', '192', '--iters', '2'],
  lap: ['--sizes', '500,1000,2000'],
  score: ['--sizes', '500,1000,2000', '--torch-seconds', '4', '--topk-known', '4000'],
  train: ['--sizes', '96,192', '--steps', '2', '--big-pairs', '2', '--replicas', '2'],
  serve: ['--photos', '2000', '--requests', '50', '--work', 'bench/out/serve-quick'],
  scale: ['--photos', '20000', '--seconds', '5', '--work', 'bench/out/scale-quick'],
};

/** Scripts that need a machine this one is not (run by hand there; see their headers). */
const NOT_HERE = new Set(['train-webgpu']);

/** Plot axis labels per script (x is the size the script varies). */
const X_LABEL: Record<string, string> = { lap: 'matrix side n', score: 'photos n', train: 'input size (px)' };

interface Args {
  full: boolean;
  only: string[] | null;
  out: string;
  timeoutMin: number;
}

interface Outcome {
  name: string;
  args: string[];
  code: number | null;
  seconds: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { full: false, only: null, out: path.join(import.meta.dirname, 'results.md'), timeoutMin: 20 };
  for (let k = 0; k < argv.length; k++) {
    const flag = argv[k];
    const value = (): string => argv[++k] ?? '';
    if (flag === '--full') args.full = true;
    else if (flag === '--only') args.only = value().split(',').filter(Boolean);
    else if (flag === '--out') args.out = path.resolve(value());
    else if (flag === '--timeout-min') args.timeoutMin = parseIntOption(flag, value(), 1, 24 * 60);
    else throw invalidParameterError('argument', '--full, --only, --out or --timeout-min', flag);
  }
  return args;
}

/** Runs one script with tsx, echoing its output live (it can take minutes) and keeping it. */
function runScript(file: string, args: string[], timeoutMs: number): Promise<Outcome> {
  const name = path.basename(file, '.ts');
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: path.dirname(import.meta.dirname), env: { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      process.stderr.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      process.stderr.write(d);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ name, args, code, seconds: (performance.now() - t0) / 1000, stdout, stderr, timedOut });
    });
  });
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Lines a script printed outside its tables: its setting and notes, kept short. */
function notes(stdout: string): string[] {
  return stdout.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('|')).slice(0, 20);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = import.meta.dirname;
  const scripts = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run-all.ts').map((f) => f.slice(0, -3)).filter((s) => !NOT_HERE.has(s)).sort();
  const chosen = args.only ?? scripts;
  const unknown = chosen.filter((s) => !scripts.includes(s));
  if (unknown.length) throw invalidParameterError('--only', `names among ${scripts.join(', ')}`, unknown.join(','));
  const loadBefore = os.loadavg()[0];
  const outcomes: Outcome[] = [];
  for (const name of chosen) {
    const a = args.full ? [] : (QUICK[name] ?? []);
    process.stderr.write(`\n== bench:${name} ${a.join(' ')}\n`);
    outcomes.push(await runScript(path.join(dir, `${name}.ts`), a, args.timeoutMin * 60_000));
  }
  const figures: Figure[] = outcomes.flatMap((o) => extractFigures(o.name, o.stdout));
  const plotDir = path.join(path.dirname(args.out), 'plots');
  const plots = new Map<string, string>();
  for (const o of outcomes) {
    const p = plotSeries(figures.filter((f) => f.bench === o.name));
    if (!p) continue;
    mkdirSync(plotDir, { recursive: true });
    const file = path.join(plotDir, `${o.name}.png`);
    await writeFileAtomic(file, await sharp(Buffer.from(linePlotSvg(`bench:${o.name}`, X_LABEL[o.name] ?? 'size', p.unit, p.series))).png().toBuffer());
    plots.set(o.name, path.relative(path.dirname(args.out), file));
  }
  const md: string[] = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench${args.full ? ' -- --full' : ''}\` (bench/run-all.ts) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, commit ${gitCommit()}, Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), load ${loadBefore.toFixed(1)} before the run.`,
    `${args.full ? 'Each script ran with its own default arguments.' : 'Quick arguments (`--full` for each script\'s defaults); the arguments are listed per script below.'} The machine may be shared: absolute figures drift, the ratio of two figures from the same run is what counts.`,
    '',
    '## All figures',
    '',
    'ratio: how many times better the figure is than its peer measured in the same run (throughput: figure / peer; time: peer / figure), so > 1 means the figure wins.',
    '',
    ...summaryTable(figures),
    '',
  ];
  for (const o of outcomes) {
    const status = o.timedOut ? `TIMED OUT after ${args.timeoutMin} min` : o.code === 0 ? 'ok' : `FAILED (exit ${o.code})`;
    md.push(`## bench:${o.name}`, '', `\`npx tsx bench/${o.name}.ts ${o.args.join(' ')}\`: ${status}, ${o.seconds.toFixed(0)} s.`, '');
    const n = notes(o.stdout);
    if (n.length) md.push('```', ...n, '```', '');
    for (const t of markdownTables(o.stdout)) md.push(...t.rows.map((r, k) => (k === 1 ? [`|${r.map(() => '---').join('|')}|`, `| ${r.join(' | ')} |`] : [`| ${r.join(' | ')} |`])).flat(), '');
    if (plots.has(o.name)) md.push(`![bench:${o.name}](${plots.get(o.name)})`, '');
    if (o.code !== 0 || o.timedOut) md.push('stderr (last lines):', '```', ...o.stderr.trim().split('\n').slice(-8), '```', '');
  }
  await writeFileAtomic(args.out, md.join('\n'));
  const bad = outcomes.filter((o) => o.code !== 0 || o.timedOut);
  console.log(`wrote ${args.out}: ${figures.length} figures from ${outcomes.length} scripts${plots.size ? `, ${plots.size} plot(s) in ${plotDir}` : ''}${bad.length ? `; failed: ${bad.map((o) => o.name).join(', ')}` : ''}`);
  if (bad.length) process.exitCode = 1;
}

await main();
