// Branch inference throughput (photos/s) of the same network on every engine we have, in one run:
// tfjs-wasm (single-threaded SIMD build, the training engine), ONNX Runtime on our own ONNX export
// (2 threads with and without spinning, and 1 for scale), and PyTorch when `python3 -c "import torch"`
// works, and the int8 branch (whaleid quantize's QDQ graph, calibrated here on the timed photos) on
// ONNX Runtime. Also the head's pairs/s (tfjs-wasm vs ORT), which bounds score-matrix time.
// Random weights; warm-up first, then the median of a few timed batches, the engines taking turns
// (PyTorch, another process, runs after them). The machine is shared: absolute figures drift, the
// ratios within one run are what count.
// `--runs a,b`: the validation MAP@5 of each trained run in float32 and int8 (quantized first when
// it has no onnx/branch.int8.onnx).
// Usage: npx tsx bench/infer.ts [--size 384] [--batch 16] [--iters 3] [--threads 2] [--no-torch] [--runs RUN,...]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { createBranch, featureCount, MODEL_PRESETS, type ModelPreset } from '../src/model/network/branch.js';
import { initEngine } from '../src/model/tfjs/tfjs-backend.js';
import { createHead } from '../src/model/network/head.js';
import { exportBranchOnnx, exportHeadOnnx } from '../src/model/onnx/onnx-export.js';
import { calibrationTensors, quantizeOnnxModel, withExtraOutputs } from '../src/model/onnx/onnx-quantize.js';
import { decodeOnnxModel, encodeOnnxModel } from '../src/model/onnx/onnx-proto.js';
import { openOrtSession } from '../src/infer/ort-session.js';
import * as ort from 'onnxruntime-node';
import { createOrtModel, createOrtHead } from '../src/infer/ort-session.js';
import { invalidParameterError, parseIntOption } from '../src/util/errors.js';
import { createRng } from '../src/util/random.js';

interface Args {
  size: number;
  batch: number;
  iters: number;
  threads: number;
  torch: boolean;
  runs: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { size: 384, batch: 16, iters: 3, threads: 2, torch: true, runs: [] as string[] };
  for (let k = 0; k < argv.length; k++) {
    const flag = argv[k];
    const value = (): string => argv[++k] ?? '';
    if (flag === '--size') args.size = parseIntOption(flag, value(), 63, 1024);
    else if (flag === '--batch') args.batch = parseIntOption(flag, value(), 1, 256);
    else if (flag === '--iters') args.iters = parseIntOption(flag, value(), 1, 50);
    else if (flag === '--threads') args.threads = parseIntOption(flag, value(), 1, 64);
    else if (flag === '--no-torch') args.torch = false;
    else if (flag === '--runs') args.runs = value().split(',').filter((r) => r.length > 0);
    else throw invalidParameterError('argument', '--size, --batch, --iters, --threads, --no-torch or --runs', flag);
  }
  return args;
}

/** One engine configuration to time: `run` processes `items` photos or pairs. */
interface Runner {
  engine: string;
  threads: number;
  note: string;
  items: number;
  run: () => Promise<Float32Array>;
}

/**
 * Times the runners round-robin (one warm-up call each, then `iters` rounds of one call each) so
 * that load changes on the shared machine hit every engine alike; rows carry the median rate and
 * the relative difference of each output to the first runner's (on the items both computed).
 */
async function interleaved(runners: Runner[], iters: number): Promise<Row[]> {
  const outputs: Float32Array[] = [];
  for (const r of runners) outputs.push(await r.run());
  const times: number[][] = runners.map(() => []);
  for (let i = 0; i < iters; i++) {
    for (const [k, r] of runners.entries()) {
      const start = performance.now();
      outputs[k] = await r.run();
      times[k].push((performance.now() - start) / 1000);
    }
  }
  return runners.map((r, k) => {
    const sorted = [...times[k]].sort((x, y) => x - y);
    const reference = outputs[0];
    const diff = k === 0 ? '' : `; rel. diff to ${runners[0].engine} ${relError(outputs[k].subarray(0, reference.length), reference).toExponential(1)}`;
    return { engine: r.engine, threads: String(r.threads), perSecond: r.items / sorted[Math.floor(sorted.length / 2)], note: r.note + diff };
  });
}

function randomData(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / (scale + 1e-6);
}

// The same branch in PyTorch (NCHW, channels_last memory, BN in eval mode, TF 'same' pads applied
// explicitly so the stride-2 stem pads more at the end as in tfjs). Prints one JSON line.
const TORCH_SCRIPT = String.raw`
import json, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
preset, size, batch, iters = cfg["preset"], cfg["size"], cfg["batch"], cfg["iters"]

def same_pads(n, k, s):
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2

class Conv(nn.Module):
    def __init__(self, cin, cout, k, stride, relu, size_in):
        super().__init__()
        b, a = same_pads(size_in, k, stride)
        # Symmetric pads inside the conv; only an asymmetric one (the stride-2 stem) needs F.pad.
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=b if b == a else 0)
        self.pad = (b, a, b, a) if b != a else None
        self.relu = relu
    def forward(self, x):
        if self.pad:
            x = F.pad(x, self.pad)
        x = self.conv(x)
        return F.relu(x) if self.relu else x

class Sub(nn.Module):
    def __init__(self, c, w, s):
        super().__init__()
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm2d(c, eps=1e-3), nn.BatchNorm2d(w, eps=1e-3), nn.BatchNorm2d(w, eps=1e-3)
        self.reduce, self.conv3, self.restore = Conv(c, w, 1, 1, True, s), Conv(w, w, 3, 1, True, s), Conv(w, c, 1, 1, False, s)
    def forward(self, x):
        xin = self.bn1(x)
        y = self.restore(self.bn3(self.conv3(self.bn2(self.reduce(xin)))))
        return F.relu(xin + y)

def branch():
    layers, s, c = [], size, preset["stemFilters"]
    layers.append(Conv(1, c, preset["stemKernel"], 2, True, s)); s = -(-s // 2)
    layers.append(nn.MaxPool2d(2)); s //= 2
    for _ in range(preset["stemConvs"]):
        layers += [nn.BatchNorm2d(c, eps=1e-3), Conv(c, c, 3, 1, True, s)]
    for st in preset["stages"]:
        layers.append(nn.MaxPool2d(2)); s //= 2
        layers += [nn.BatchNorm2d(c, eps=1e-3), Conv(c, st["channels"], 1, 1, True, s)]
        c = st["channels"]
        layers += [Sub(c, st["width"], s) for _ in range(st["subblocks"])]
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers)

model = branch().eval().to(memory_format=torch.channels_last)
params = sum(p.numel() for p in model.parameters()) + sum(b.numel() for n, b in model.named_buffers() if "running" in n)
x = torch.randn(batch, 1, size, size).to(memory_format=torch.channels_last)
with torch.inference_mode():
    model(x)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter(); model(x); times.append(time.perf_counter() - t0)
times.sort()
print(json.dumps({"seconds": times[len(times) // 2], "params": params, "version": torch.__version__}))
`;

interface Row {
  engine: string;
  threads: string;
  perSecond: number | null;
  note: string;
}

/**
 * PyTorch rows (the requested threads, then 1), each a separate python3 run of TORCH_SCRIPT.
 * OpenMP threads busy-wait by default; on this shared 2-core machine that made 2 threads 12x
 * slower than 1 (1.84 s vs 0.15 s per batch at 128 px), so like our ORT sessions PyTorch runs
 * with passive waiting (OMP_WAIT_POLICY=PASSIVE) unless the caller set the variable.
 */
function torchRows(args: Args, preset: ModelPreset): Row[] {
  const engine = 'PyTorch CPU, channels_last';
  const threadCounts = [args.threads, 1].filter((t, i, all) => all.indexOf(t) === i);
  const none = (note: string): Row[] => [{ engine, threads: String(args.threads), perSecond: null, note }];
  if (!args.torch) return none('skipped (--no-torch)');
  // Debian's python3-torch lives in the system python; a venv's python3 may come first in PATH.
  const python = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
  if (python === undefined) return none('not run: python3 cannot import torch here');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'whaleid-bench-'));
  try {
    const script = path.join(dir, 'torch_branch.py');
    writeFileSync(script, TORCH_SCRIPT);
    const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
    return threadCounts.map((threads): Row => {
      const cfg = JSON.stringify({ preset, size: args.size, batch: args.batch, iters: args.iters, threads });
      const run = spawnSync(python, [script, cfg], { encoding: 'utf8', timeout: 300_000, env });
      const line = run.stdout?.trim().split('\n').pop() ?? '';
      if (run.status !== 0 || !line.startsWith('{')) {
        return { engine, threads: String(threads), perSecond: null, note: `failed: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}` };
      }
      const out = JSON.parse(line) as { seconds: number; params: number; version: string };
      const note = `torch ${out.version}, ${out.params} parameters, OMP_WAIT_POLICY=${env.OMP_WAIT_POLICY}; runs after the others`;
      return { engine, threads: String(threads), perSecond: args.batch / out.seconds, note };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The branch quantized with activation ranges measured on the bench's own photos. */
async function quantizeForBench(floatBytes: Uint8Array, batch: Float32Array, a: Args): Promise<Uint8Array> {
  const model = decodeOnnxModel(floatBytes);
  const names = calibrationTensors(model);
  const probe = await openOrtSession(encodeOnnxModel(withExtraOutputs(model, names)), { threads: a.threads });
  const out = await probe.run({ [probe.inputNames[0]]: new ort.Tensor('float32', batch, [a.batch, a.size, a.size, 1]) }, names);
  await probe.release();
  const ranges = new Map(names.map((n) => {
    const d = out[n].data as Float32Array;
    let min = Infinity;
    let max = -Infinity;
    for (const v of d) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    return [n, { min, max }];
  }));
  return encodeOnnxModel(quantizeOnnxModel(model, ranges).model);
}

/** Validation MAP@5 of trained runs in float32 and int8 (quantizing a run that has no int8 branch). */
async function precisionRows(runs: readonly string[]): Promise<void> {
  if (runs.length === 0) return;
  const { quantizeRun, runValidationMap5 } = await import('../src/pipeline/quantize-run.js');
  const { existsSync } = await import('node:fs');
  const { runPaths } = await import('../src/model/folders/run-folder.js');
  const report = { step: () => {}, detail: () => {}, progress: () => () => {}, training: () => { throw new Error('no training here'); } };
  console.log('\nValidation MAP@5, float32 vs int8 branch (the run\'s own validation queries)\n\n| run | queries | float32 MAP@5 | int8 MAP@5 | difference (points) | float32 top-1 | int8 top-1 |\n|---|---|---|---|---|---|---|');
  for (const run of runs) {
    if (!existsSync(runPaths(run).branchInt8Onnx)) await quantizeRun({ runDir: run }, report);
    const f = await runValidationMap5(run, 'float32', report);
    const q = await runValidationMap5(run, 'int8', report, f.data);
    console.log(`| ${run} | ${f.queries} | ${f.map5.toFixed(4)} | ${q.map5.toFixed(4)} | ${(100 * (q.map5 - f.map5)).toFixed(2)} | ${f.top1.toFixed(3)} | ${q.top1.toFixed(3)} |`);
  }
}

function table(title: string, unit: string, rows: Row[]): void {
  const base = rows[0].perSecond ?? 1;
  console.log(`\n${title}\n\n| engine | threads | ${unit} | vs ${rows[0].engine} | note |\n|---|---|---|---|---|`);
  for (const r of rows) {
    const v = r.perSecond === null ? '-' : r.perSecond.toFixed(r.perSecond < 100 ? 1 : 0);
    const ratio = r.perSecond === null ? '-' : `${(r.perSecond / base).toFixed(2)}x`;
    console.log(`| ${r.engine} | ${r.threads} | ${v} | ${ratio} | ${r.note} |`);
  }
}

const args = parseArgs(process.argv.slice(2));
const preset = MODEL_PRESETS.method;
const features = featureCount(preset);
const engine = await initEngine({ backend: 'wasm' });
console.log(`bench:infer: method branch at ${args.size} px, batch ${args.batch}, median of ${args.iters} interleaved rounds after a warm-up; ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`);

const branch = createBranch({ preset, inputSize: args.size, seed: 1 });
const photos = randomData(args.batch * args.size * args.size, 2);
const t0 = performance.now();
const bytes = exportBranchOnnx(branch);
const exportMs = performance.now() - t0;
const branchRunners: Runner[] = [
  {
    engine: 'tfjs 4.22 wasm (SIMD)',
    threads: engine.threads,
    note: 'training engine',
    items: args.batch,
    run: async () => {
      const out = tf.tidy(() => branch.predict(tf.tensor4d(photos, [args.batch, args.size, args.size, 1])) as tf.Tensor);
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
  },
];
// No spinning (our default) vs spinning (ORT's default) at the requested threads, and 1 thread.
const variants = [
  { threads: args.threads, spin: false },
  { threads: args.threads, spin: true },
  { threads: 1, spin: false },
].filter((v, i) => i < 2 || args.threads !== 1);
const branchSessions = await Promise.all(variants.map((v) => createOrtModel(bytes, v)));
variants.forEach(({ threads, spin }, i) => {
  branchRunners.push({
    engine: 'onnxruntime-node 1.30, our export',
    threads,
    note: spin ? 'spinning threads' : 'no spinning',
    items: args.batch,
    run: () => branchSessions[i].features(photos, args.batch),
  });
});
// int8: the same branch quantized as `whaleid quantize` does, calibrated on the timed photos
const int8Bytes = await quantizeForBench(bytes, photos, args);
const int8Variants = [args.threads, 1].filter((t, i, all) => all.indexOf(t) === i);
const int8Sessions = await Promise.all(int8Variants.map((threads) => createOrtModel(int8Bytes, { threads })));
int8Variants.forEach((threads, i) => {
  branchRunners.push({ engine: 'onnxruntime-node 1.30, int8 QDQ', threads, note: `no spinning, ${(int8Bytes.length / 1e6).toFixed(1)} MB`, items: args.batch, run: () => int8Sessions[i].features(photos, args.batch) });
});
const rows = await interleaved(branchRunners, args.iters);
for (const s of int8Sessions) await s.dispose();
for (const s of branchSessions) await s.dispose();
branch.dispose();
rows.push(...torchRows(args, preset));
table(`Branch photos/s (export took ${exportMs.toFixed(0)} ms, ${(bytes.length / 1e6).toFixed(1)} MB)`, 'photos/s', rows);

// Head: pairs/s on random feature pairs (tfjs-wasm is slow here: fewer pairs for it).
const pairs = 8192;
const wasmPairs = 1024;
const head = createHead({ features, mid: preset.headMid, seed: 1 });
const a = randomData(pairs * features, 3).map(Math.abs);
const b = randomData(pairs * features, 4).map(Math.abs);
const headRunners: Runner[] = [
  {
    engine: 'tfjs 4.22 wasm (SIMD)',
    threads: engine.threads,
    note: `${wasmPairs} pairs per call`,
    items: wasmPairs,
    run: async () => {
      const [ta, tb] = [a, b].map((v) => tf.tensor2d(v.subarray(0, wasmPairs * features), [wasmPairs, features]));
      const out = head.predict([ta, tb]) as tf.Tensor;
      const data = (await out.data()) as Float32Array;
      tf.dispose([ta, tb, out]);
      return data;
    },
  },
];
const headBytes = exportHeadOnnx(head);
const headVariants = [
  { threads: args.threads, chunk: 64 },
  { threads: 1, chunk: 64 },
  { threads: args.threads, chunk: pairs },
];
const headSessions = await Promise.all(headVariants.map((v) => createOrtHead(headBytes, v)));
headVariants.forEach(({ threads, chunk }, i) => {
  headRunners.push({
    engine: 'onnxruntime-node 1.30, our export',
    threads,
    note: `${chunk} pairs per run`,
    items: pairs,
    run: () => headSessions[i].score(a, b, pairs),
  });
});
const headRows = await interleaved(headRunners, args.iters);
for (const s of headSessions) await s.dispose();
head.dispose();
table(`Head pairs/s (F=${features}, mid ${preset.headMid})`, 'pairs/s', headRows);

await precisionRows(args.runs);
