/**
 * Benchmark of `solveLap` against scipy.optimize.linear_sum_assignment on the same matrices.
 *
 *   npx tsx bench/lap.ts [--sizes 1000,2000,5000] [--kinds uniform,score] [--seed 1] [--no-scipy]
 *
 * Each matrix is solved here (Float64Array, then the same values as a Float32Array, the training
 * format), written to a temp file as float64, and solved right away by a python3 child that times
 * only the `linear_sum_assignment` call. Both optimal costs must agree within 1e-6 relative (the
 * exit code is 1 otherwise). Times are single cold-ish runs after a small JIT warm-up.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { solveLap } from '../src/train/lap.js';
import { createRng } from '../src/util/random.js';
import { WhaleidError, invalidParameterError, parseIntOption } from '../src/util/errors.js';

type Kind = 'uniform' | 'score';

interface Args {
  sizes: number[];
  kinds: Kind[];
  seed: number;
  scipy: boolean;
}

interface Row {
  n: number;
  kind: Kind;
  file: string;
  oursMs: number;
  ours32Ms: number;
  cost: number;
}

/** Huge cost of forbidden (same-whale) cells, as training uses. */
const FORBIDDEN = 1e9;

function parseArgs(argv: string[]): Args {
  const args: Args = { sizes: [1000, 2000, 5000], kinds: ['uniform', 'score'], seed: 1, scipy: true };
  for (let k = 0; k < argv.length; k++) {
    const flag = argv[k];
    const value = (): string => {
      const v = argv[++k];
      if (v === undefined) throw invalidParameterError(flag, 'a value', v);
      return v;
    };
    if (flag === '--sizes') args.sizes = value().split(',').map((s) => parseIntOption('--sizes', s, 1, 30000));
    else if (flag === '--kinds') {
      args.kinds = value().split(',').map((s) => {
        if (s !== 'uniform' && s !== 'score') throw invalidParameterError('--kinds', 'uniform or score', s);
        return s;
      });
    } else if (flag === '--seed') args.seed = parseIntOption('--seed', value());
    else if (flag === '--no-scipy') args.scipy = false;
    else throw invalidParameterError('argument', '--sizes, --kinds, --seed or --no-scipy', flag);
  }
  return args;
}

/**
 * Uniform [0,1) costs, or training-like costs -(S + 0.5*U): photos in whales of 1-4 photos, a few
 * blocks of look-alike photos with S near 1, S near 0 elsewhere, same-whale cells forbidden.
 */
function makeMatrix(n: number, kind: Kind, seed: number): Float64Array {
  const rng = createRng(`lap-bench-${kind}-${n}-${seed}`);
  const c = new Float64Array(n * n);
  if (kind === 'uniform') {
    for (let k = 0; k < c.length; k++) c[k] = rng.next();
    return c;
  }
  const whale = new Int32Array(n);
  for (let i = 0, id = 0; i < n; id++) {
    const size = 1 + rng.int(4);
    for (let s = 0; s < size && i < n; s++) whale[i++] = id;
  }
  const block = Int32Array.from({ length: n }, () => rng.int(5));
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const near = block[i] === block[j] ? rng.chance(0.6) : rng.chance(0.02);
      const s = near ? 1 - 0.05 * rng.next() ** 4 : 0.05 * rng.next() ** 4;
      const same = whale[i] === whale[j];
      c[i * n + j] = same ? FORBIDDEN : -(s + 0.5 * rng.next());
      c[j * n + i] = same ? FORBIDDEN : -(s + 0.5 * rng.next());
    }
  }
  return c;
}

function timeOurs(c: Float32Array | Float64Array, n: number): { ms: number; cost: number } {
  const t0 = performance.now();
  const { cost } = solveLap(c, n);
  return { ms: performance.now() - t0, cost };
}

const PYTHON = `
import json, sys, time
import numpy as np
from scipy.optimize import linear_sum_assignment
for job in json.loads(sys.argv[1]):
    n = job["n"]
    m = np.fromfile(job["file"], dtype=np.float64).reshape(n, n)
    t0 = time.perf_counter()
    r, c = linear_sum_assignment(m)
    ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({"file": job["file"], "ms": ms, "cost": float(m[r, c].sum())}), flush=True)
`;

function runScipy(rows: Row[]): Map<string, { ms: number; cost: number }> {
  const jobs = JSON.stringify(rows.map((r) => ({ file: r.file, n: r.n })));
  const out = spawnSync('python3', ['-c', PYTHON, jobs], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (out.status !== 0) throw new Error(`scipy child failed: ${out.stderr}`);
  const result = new Map<string, { ms: number; cost: number }>();
  for (const line of out.stdout.trim().split('\n')) {
    const r = JSON.parse(line) as { file: string; ms: number; cost: number };
    result.set(r.file, r);
  }
  return result;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const haveScipy = args.scipy && spawnSync('python3', ['-c', 'import scipy'], { stdio: 'ignore' }).status === 0;
  if (args.scipy && !haveScipy) console.log('python3 with scipy not found: timing solveLap only');
  // Warm the JIT on a small problem so the first timed size is not charged for compilation.
  solveLap(makeMatrix(300, 'score', 0), 300);
  solveLap(Float32Array.from(makeMatrix(300, 'uniform', 0)), 300);
  const dir = mkdtempSync(join(tmpdir(), 'lap-bench-'));
  const rows: Row[] = [];
  try {
    const scipy = new Map<string, { ms: number; cost: number }>();
    for (const n of args.sizes) {
      for (const kind of args.kinds) {
        const c = makeMatrix(n, kind, args.seed);
        const file = join(dir, `${kind}-${n}.f64`);
        const ours = timeOurs(c, n);
        const ours32 = timeOurs(Float32Array.from(c), n);
        const row: Row = { n, kind, file, oursMs: ours.ms, ours32Ms: ours32.ms, cost: ours.cost };
        rows.push(row);
        let line = `n=${n} ${kind}: ours ${ours.ms.toFixed(1)} ms (f32 ${ours32.ms.toFixed(1)} ms)`;
        if (haveScipy) {
          // Right after ours, so both see the same machine load; the file goes once solved.
          writeFileSync(file, new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
          const s = runScipy([row]).get(file);
          rmSync(file, { force: true });
          if (s) {
            scipy.set(file, s);
            line += `, scipy ${s.ms.toFixed(1)} ms`;
          }
        }
        console.log(line);
      }
    }
    printTable(rows, scipy);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(rows: Row[], scipy: Map<string, { ms: number; cost: number }>): void {
  const header = ['n', 'kind', 'ours ms', 'ours f32 ms', 'scipy ms', 'ratio', 'cost agrees'];
  const lines = [header];
  let mismatches = 0;
  for (const r of rows) {
    const s = scipy.get(r.file);
    let agrees = 'n/a';
    if (s) {
      const ok = Math.abs(s.cost - r.cost) <= 1e-6 * Math.max(1, Math.abs(s.cost));
      if (!ok) mismatches++;
      agrees = ok ? 'yes' : `NO (${r.cost} vs ${s.cost})`;
    }
    lines.push([
      String(r.n),
      r.kind,
      r.oursMs.toFixed(1),
      r.ours32Ms.toFixed(1),
      s ? s.ms.toFixed(1) : '-',
      s ? (s.ms / r.oursMs).toFixed(2) : '-',
      agrees,
    ]);
  }
  const widths = header.map((_, k) => Math.max(...lines.map((l) => l[k].length)));
  console.log('\nratio = scipy ms / ours ms (> 1: solveLap is faster)');
  for (const l of lines) console.log(l.map((cell, k) => cell.padStart(widths[k])).join('  '));
  if (mismatches > 0) {
    console.error(`${mismatches} optimal cost(s) disagree with scipy`);
    process.exitCode = 1;
  }
}

try {
  main();
} catch (err) {
  if (!(err instanceof WhaleidError)) throw err;
  console.error(err.message);
  process.exitCode = err.exitCode;
}
