/**
 * Benchmark of the score matrix (the head on every pair of photos) against the PyTorch head in the
 * same run.
 *
 *   npx tsx bench/score.ts [--sizes 1000,4000] [--threads 2] [--torch-seconds 15] [--topk-known 20000]
 *     [--topk-queries 64] [--seed 1] [--no-torch]
 *
 * For each n: random features (relu of normals, like branch outputs) and random head weights
 * (F = 512, mid 32), the full symmetric matrix on worker threads (pairs/s over the upper triangle),
 * and bench/peers/torch_head.py (Debian python3-torch, same threads) on the same features and
 * weights for --torch-seconds; row 0 of both must agree within 1e-5 (exit code 1 otherwise).
 * First, before anything large is allocated: top-K prediction of --topk-queries photos against
 * --topk-known photos, with the process's peak RSS (the n*n matrix is never held).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { HeadWeights } from '../src/model/network/head.js';
import { scoreAllPairsParallel, scoreQueriesTopK } from '../src/infer/score-matrix.js';
import { createRng } from '../src/util/random.js';
import { invalidParameterError, parseIntOption } from '../src/util/errors.js';

interface Args {
  sizes: number[];
  threads: number;
  torchSeconds: number;
  topkKnown: number;
  topkQueries: number;
  seed: number;
  torch: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { sizes: [1000, 4000], threads: 2, torchSeconds: 15, topkKnown: 20000, topkQueries: 64, seed: 1, torch: true };
  for (let k = 0; k < argv.length; k++) {
    const flag = argv[k];
    const value = (): string => {
      const v = argv[++k];
      if (v === undefined) throw invalidParameterError(flag, 'a value', v);
      return v;
    };
    if (flag === '--sizes') args.sizes = value().split(',').map((s) => parseIntOption('--sizes', s, 1, 30000));
    else if (flag === '--threads') args.threads = parseIntOption('--threads', value(), 1, 256);
    else if (flag === '--torch-seconds') args.torchSeconds = parseIntOption('--torch-seconds', value(), 1, 3600);
    else if (flag === '--topk-known') args.topkKnown = parseIntOption('--topk-known', value(), 0, 100000);
    else if (flag === '--topk-queries') args.topkQueries = parseIntOption('--topk-queries', value(), 1, 100000);
    else if (flag === '--seed') args.seed = parseIntOption('--seed', value());
    else if (flag === '--no-torch') args.torch = false;
    else throw invalidParameterError('argument', '--sizes, --threads, --torch-seconds, --topk-known, --topk-queries, --seed or --no-torch', flag);
  }
  return args;
}

const F = 512;
const MID = 32;

/** Glorot-uniform-sized random head weights with non-zero biases. */
function randomHead(seed: number): HeadWeights {
  const rng = createRng(seed).fork('head');
  const u = (len: number, fanIn: number, fanOut: number): Float32Array => {
    const lim = Math.sqrt(6 / (fanIn + fanOut));
    return Float32Array.from({ length: len }, () => rng.uniform(-lim, lim));
  };
  return { features: F, mid: MID, w1: u(4 * MID, 4, MID), b1: u(MID, 4, MID), w2: u(MID, MID, 1), b2: 0.05, w3: u(F, F, 1), b3: -0.1 };
}

function randomFeatures(n: number, seed: number): Float32Array {
  const rng = createRng(seed).fork('features');
  return Float32Array.from({ length: n * F }, () => Math.max(0, rng.normal(0.3, 0.5)));
}

interface TorchResult {
  pairs: number;
  seconds: number;
  pairs_per_s: number;
  pairs_per_cpu_s: number;
  row0: number[];
  torch: string;
}

function runTorch(dir: string, features: Float32Array, n: number, w: HeadWeights, args: Args): TorchResult | string {
  const fPath = join(dir, `features-${n}.bin`);
  const wPath = join(dir, 'weights.json');
  writeFileSync(fPath, Buffer.from(features.buffer, features.byteOffset, features.byteLength));
  writeFileSync(wPath, JSON.stringify({ ...w, w1: [...w.w1], b1: [...w.b1], w2: [...w.w2], w3: [...w.w3] }));
  const script = new URL('./peers/torch_head.py', import.meta.url).pathname;
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'; // Debian's, where python3-torch lives
  const res = spawnSync(python, [script, '--features', fPath, '--weights', wPath, '--n', String(n), '--seconds', String(args.torchSeconds), '--threads', String(args.threads)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) return `python3 torch_head.py failed: ${(res.stderr || res.error?.message || '').trim().split('\n').pop()}`;
  return JSON.parse(res.stdout.trim().split('\n').pop() as string) as TorchResult;
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const w = randomHead(args.seed);
  console.log(`score matrix bench: F=${F}, mid ${MID}, ${args.threads} threads`);
  if (args.topkKnown > 0) {
    const known = randomFeatures(args.topkKnown, args.seed + 1);
    const queries = randomFeatures(args.topkQueries, args.seed + 2);
    const t0 = performance.now();
    await scoreQueriesTopK(queries, known, w, 20, { threads: args.threads });
    const s = (performance.now() - t0) / 1000;
    const pairs = args.topkQueries * args.topkKnown;
    console.log(
      `top-20 of ${args.topkQueries} queries x ${args.topkKnown} known: ${(pairs / s).toFixed(0)} pairs/s, peak RSS ${mb(process.resourceUsage().maxRSS * 1024)} ` +
        `(a full ${args.topkKnown}^2 matrix would be ${mb(args.topkKnown * args.topkKnown * 4)})`,
    );
  }
  const dir = mkdtempSync(join(tmpdir(), 'whaleid-score-'));
  let failed = false;
  try {
    for (const n of args.sizes) {
      const features = randomFeatures(n, args.seed + n);
      const pairs = (n * (n + 1)) / 2;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const S = await scoreAllPairsParallel(features, n, w, { threads: args.threads });
      const s = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(c0);
      const ours = pairs / s;
      // CPU seconds of all threads: what the machine's other users do not distort
      const perCpu = pairs / ((cpu.user + cpu.system) / 1e6);
      let line = `n=${n}: whaleid ${ours.toFixed(0)} pairs/s, ${perCpu.toFixed(0)} per CPU-s (${pairs} pairs in ${s.toFixed(1)} s; 13,000 photos: ${((13000 * 13001) / 2 / ours / 60).toFixed(1)} min, ${((13000 * 13001) / 2 / perCpu / args.threads / 60).toFixed(1)} min on ${args.threads} idle cores)`;
      if (args.torch) {
        const torch = runTorch(dir, features, n, w, args);
        if (typeof torch === 'string') line += `; PyTorch: ${torch}`;
        else {
          let maxErr = 0;
          for (let j = 0; j < n; j++) maxErr = Math.max(maxErr, Math.abs(torch.row0[j] - S[j]));
          if (!(maxErr < 1e-5)) failed = true;
          line += `; PyTorch ${torch.torch} ${torch.pairs_per_s.toFixed(0)} pairs/s, ${torch.pairs_per_cpu_s.toFixed(0)} per CPU-s (${torch.pairs} pairs in ${torch.seconds.toFixed(1)} s; 13,000 photos: ${((13000 * 13001) / 2 / torch.pairs_per_s / 60).toFixed(0)} min); ratio ${(ours / torch.pairs_per_s).toFixed(1)}x (per CPU-s ${(perCpu / torch.pairs_per_cpu_s).toFixed(1)}x); row 0 max |diff| ${maxErr.toExponential(1)}`;
        }
      }
      console.log(line);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`peak RSS of the run: ${mb(process.resourceUsage().maxRSS * 1024)}`);
  if (failed) {
    console.error('whaleid and PyTorch scores differ by more than 1e-5');
    process.exitCode = 1;
  }
}

await main();
