// Training throughput of the method's Siamese network (method preset) on the native engine
// (libtorch through our addon) and on tfjs-wasm (with our Conv2D gradient kernels), and, when a
// Python with torch is there, of the same network in PyTorch with the same threads, device,
// precision and pairs per step, in the same run; beside them, the photos/s of the image pipeline
// that feeds the steps. Photos/s = 2 x pairs per step / median step time.
// Usage: npm run bench:train [-- --sizes 192,384 --batch 16 --steps 3 --threads 2
// --engines native,wasm --device auto|cpu|cuda --precision fp32[,bf16] (both: the bf16 rows, ours
// vs PyTorch's bf16 autocast and PyTorch float32) --rounds 2 --compare-stock
// --replicas 2 (wasm) --ceiling-size 192 (0 skips the convolution ceiling) --big-size 512 (0 skips it)
// --pipeline 0 (skips the image pipeline)]
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/model/tfjs/tfjs-backend.js';
import { createSiamese } from '../src/model/network/siamese.js';
import { createBranch } from '../src/model/network/branch.js';
import { trainOnMicroBatches } from '../src/model/tfjs/accumulate.js';
import { createReplicaPool } from '../src/model/tfjs/replicas.js';
import { registerBatchNormGradient, unregisterBatchNormGradient } from '../src/model/tfjs/batch-norm-grad.js';
import { registerReduceKernels, unregisterReduceKernels } from '../src/model/tfjs/reduce-kernels.js';
import { loadNativeAddon } from '../src/model/native/native-addon.js';
import type { NativePrecision } from '../src/model/native/native-training-engine.js';
import { resolveNativeChoice } from '../src/model/training-engines.js';
import { flagValue } from './lib/args.js';
import { imagePipelinePhotosPerSecond, medianSeconds, nativePhotosPerSecond, pythonWithTorch, torchPhotosPerSecond } from './lib/train-native.js';

const opt = flagValue;
const sizes = opt('sizes', '192,384').split(',').map(Number);
const batch = Number(opt('batch', '16'));
const steps = Number(opt('steps', '3'));
const threads = Number(opt('threads', '2'));
// native and PyTorch alternate `rounds` times and each keeps its best round: on a shared machine
// the least disturbed figures, taken under the same conditions
const rounds = Number(opt('rounds', '2'));
const precisions = opt('precision', 'fp32').split(',') as NativePrecision[];
const native = loadNativeAddon();
const engines = opt('engines', native.available ? 'native,wasm' : 'wasm').split(',');
const withNative = engines.includes('native');
const withWasm = engines.includes('wasm');
if (withNative && !native.available) throw new Error(`bench:train --engines native: ${native.reason}`);
const choice = withNative ? resolveNativeChoice({ device: opt('device', 'auto') as 'auto', threads, precision: precisions[0] }) : null;
// the method's full-size configuration, trained through micro-batches (0 skips it)
const bigSize = Number(opt('big-size', withWasm ? '512' : '0'));
const bigPairs = Number(opt('big-pairs', '8'));
const microPairs = Number(opt('micro-pairs', '2'));
// wasm memory is capped at 4 GB: at 384 px a pair step of 8 pairs (16 photos' activations kept for
// the backward pass) aborts (measured); 4 pairs fit. Every engine gets the same batch in the same run.
const batchFor = (s: number): number => (s >= 384 && withWasm ? Math.min(batch, 4) : batch);

/** `n` random pairs of `s` px photos with alternating labels (seeds `seed`, `seed + 1`). */
function randomPairs(n: number, s: number, seed = 1): { inputs: tf.Tensor[]; y: tf.Tensor } {
  return {
    inputs: [tf.randomNormal([n, s, s, 1], 0, 1, 'float32', seed), tf.randomNormal([n, s, s, 1], 0, 1, 'float32', seed + 1)],
    y: tf.tensor2d(Array.from({ length: n }, (_, i) => i % 2), [n, 1]),
  };
}

// --compare-stock: also time our engine without the BatchNorm-gradient and Sum/Mean kernels
// (tfjs's own), to show what they bring in the same run
const compareStock = process.argv.includes('--compare-stock');

// --threads N: threads of every engine (default 2; wasm's 1 = the single-threaded build).
// --replicas R: wasm data-parallel copies instead (src/model/tfjs/replicas.ts), each single-threaded.
const replicas = Number(opt('replicas', '1'));
// tfjs starts for the wasm measurements (and, single-threaded, for the network's definition)
const engine = await initEngine({ backend: 'wasm', threads: !withWasm || replicas > 1 ? 1 : threads });

/** Training photos/s of the method preset at `s` px on tfjs-wasm, median of `steps` steps after a warm-up. */
async function photosPerSecond(s: number): Promise<number> {
  const b = batchFor(s);
  const { model, config } = createSiamese({ preset: 'method', inputSize: s, seed: 0 });
  const pool = replicas > 1 ? await createReplicaPool(replicas, config) : null;
  const pairs = randomPairs(b, s);
  const seconds = await medianSeconds(steps, () => (pool ? pool.step(model, pairs) : model.trainOnBatch(pairs.inputs, pairs.y)));
  tf.dispose([...pairs.inputs, pairs.y]);
  await pool?.close();
  model.dispose();
  return (2 * b) / seconds;
}

const python = pythonWithTorch();
const device = choice?.device ?? 'cpu';
const ours: Record<number, number> = {};
const stock: Record<number, number> = {};
const nativeRate: Record<string, number> = {};
const torchRate: Record<string, number> = {};
const pipeline: Record<number, number> = {};
let torchVersion = 'PyTorch';
const key = (s: number, p: string): string => `${s}:${p}`;
// per size, every engine back to back, so a ratio compares figures taken under the same load
for (const s of sizes) {
  const b = batchFor(s);
  for (const precision of withNative ? precisions : ['fp32' as const]) {
    const k = key(s, precision);
    for (let r = 0; r < rounds; r++) {
      if (withNative) nativeRate[k] = Math.max(nativeRate[k] ?? 0, (await nativePhotosPerSecond(s, b, steps, { device, threads, precision })).rate);
      if (!python) continue;
      const t = torchPhotosPerSecond(python, s, b, steps, { threads: replicas > 1 && !withNative ? replicas : threads, device, precision });
      if ('error' in t) console.log(`PyTorch peer failed at ${s} px (${precision}): ${t.error}`);
      else {
        torchRate[k] = Math.max(torchRate[k] ?? 0, t.rate);
        torchVersion = `PyTorch ${t.version}`;
      }
    }
  }
  if (withWasm) ours[s] = await photosPerSecond(s);
  if (opt('pipeline', '1') !== '0') pipeline[s] = await imagePipelinePhotosPerSecond(s, 2 * b, steps);
}
if (compareStock && withWasm) {
  unregisterBatchNormGradient();
  unregisterReduceKernels('wasm');
  for (const s of sizes) stock[s] = await photosPerSecond(s);
  registerBatchNormGradient();
  registerReduceKernels('wasm');
}
const fmt = (v: number | undefined): string => (v === undefined ? 'n/a' : v.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined): string => (a && b ? (a / b).toFixed(3) : 'n/a');
console.log(`Siamese training, method preset (native and PyTorch: best of ${rounds} alternating rounds, each the median of ${steps} steps), ${batch} pairs per step${withWasm ? ` (${batchFor(384)} at 384 px: wasm memory)` : ''}, same for every engine and PyTorch; ${threads} threads${replicas > 1 ? ` (wasm: ${replicas} data-parallel replicas of 1 thread)` : ''}`);
if (choice) console.log(`native engine: ${choice.description.replace(/, (fp32|bf16)\)$/, ')')}; ${python ? `${torchVersion}, same threads and device` : 'no Python with torch: no PyTorch peer'}`);
const pipelineNote = 'image pipeline: augmented crops of cached synthetic photos, as a step loads them';
if (withNative) {
  for (const precision of precisions) {
    console.log(`\nNative engine vs ${torchVersion} (${device}, ${precision}); ${pipelineNote}`);
    console.log('\n| input | native photos/s | image pipeline photos/s | PyTorch photos/s | native / PyTorch |\n|---|---|---|---|---|');
    for (const s of sizes) console.log(`| ${s} | ${fmt(nativeRate[key(s, precision)])} | ${fmt(pipeline[s])} | ${fmt(torchRate[key(s, precision)])} | ${ratio(nativeRate[key(s, precision)], torchRate[key(s, precision)])} |`);
  }
}
if (withNative && precisions.includes('bf16') && precisions.includes('fp32')) {
  // issue 30's bf16 rows: ours in bf16 against PyTorch's bf16 autocast and PyTorch float32, same run
  const [nb, tb, tf32, nf] = [(x: number) => nativeRate[key(x, 'bf16')], (x: number) => torchRate[key(x, 'bf16')], (x: number) => torchRate[key(x, 'fp32')], (x: number) => nativeRate[key(x, 'fp32')]];
  console.log(`\nbf16 (${device}): native bf16 vs ${torchVersion} bf16 autocast and float32, same run`);
  console.log('\n| input | native bf16 photos/s | PyTorch bf16 photos/s | PyTorch fp32 photos/s | native fp32 photos/s | native bf16 / PyTorch bf16 | native bf16 / PyTorch fp32 | native bf16 / native fp32 |\n|---|---|---|---|---|---|---|---|');
  for (const s of sizes) console.log(`| ${s} | ${fmt(nb(s))} | ${fmt(tb(s))} | ${fmt(tf32(s))} | ${fmt(nf(s))} | ${ratio(nb(s), tb(s))} | ${ratio(nb(s), tf32(s))} | ${ratio(nb(s), nf(s))} |`);
}
if (withNative && withWasm) {
  console.log(`\nNative engine (${device}, ${precisions[0]}) vs tfjs-wasm (${replicas > 1 ? `${replicas} replicas` : `${engine.threads} thread(s)`})`);
  console.log('\n| input | native photos/s | wasm photos/s | native / wasm |\n|---|---|---|---|');
  for (const s of sizes) console.log(`| ${s} | ${fmt(nativeRate[key(s, precisions[0])])} | ${fmt(ours[s])} | ${ratio(nativeRate[key(s, precisions[0])], ours[s])} |`);
}
if (withWasm) {
  console.log(`\ntfjs-wasm (${replicas > 1 ? `${replicas} data-parallel replicas of 1 thread` : `${engine.threads} thread(s)`}) vs ${torchVersion} (cpu, fp32)`);
  console.log('\n| input | wasm photos/s | PyTorch photos/s | wasm / PyTorch |\n|---|---|---|---|');
  for (const s of sizes) console.log(`| ${s} | ${fmt(ours[s])} | ${fmt(device === 'cpu' ? torchRate[key(s, 'fp32')] : undefined)} | ${device === 'cpu' ? ratio(ours[s], torchRate[key(s, 'fp32')]) : 'n/a (PyTorch ran on cuda)'} |`);
}
if (compareStock && withWasm) {
  console.log('\n| input | whaleid photos/s | with tfjs\'s own BatchNorm gradient and Sum/Mean | gain |\n|---|---|---|---|');
  for (const s of sizes) console.log(`| ${s} | ${ours[s].toFixed(2)} | ${stock[s].toFixed(2)} | ${(ours[s] / stock[s]).toFixed(2)}x |`);
}

// The ceiling: the forward pass of every Conv2D of the branch alone, in tfjs's stock XNNPACK
// kernel (no project code) and in PyTorch's oneDNN, same shapes and threads. A training step is
// mostly convolutions (forward, input gradient = a convolution, filter gradient = a matrix product
// of the same size), so this ratio bounds what kernel work around them can reach.
const ceilingSize = withWasm ? Number(opt('ceiling-size', String(sizes[0]))) : 0;
if (ceilingSize > 0) {
  const branch = createBranch({ preset: 'method', inputSize: ceilingSize, seed: 0 });
  const n = 2 * batchFor(ceilingSize);
  const shapes = branch.layers.filter((l) => l.getClassName() === 'Conv2D').map((l) => {
    const c = l.getConfig() as { filters: number; kernelSize: number[]; strides: number[]; padding: string };
    const [, h, w, cin] = (l.input as tf.SymbolicTensor).shape as number[];
    return { n, h, w, cin, cout: c.filters, k: c.kernelSize[0], stride: c.strides[0], pad: c.padding };
  });
  branch.dispose();
  const work = shapes.map((c) => ({ c, x: tf.randomNormal([c.n, c.h, c.w, c.cin], 0, 1, 'float32', 3), f: tf.randomNormal([c.k, c.k, c.cin, c.cout], 0, 0.1, 'float32', 4) }));
  const once = async (): Promise<number> => {
    const t = performance.now();
    for (const { c, x, f } of work) {
      const y = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.stride, c.pad as 'same' | 'valid');
      await y.data();
      y.dispose();
    }
    return (performance.now() - t) / 1000;
  };
  await once();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) times.push(await once());
  times.sort((p, q) => p - q);
  const ourConv = times[Math.floor(times.length / 2)];
  for (const { x, f } of work) tf.dispose([x, f]);
  let torchConv: number | null = null;
  if (python) {
    const torchEnv = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
    const r = spawnSync(python, [path.join(import.meta.dirname, 'peers/torch_convs.py'), '--threads', String(engine.threads), '--steps', String(steps)], { encoding: 'utf8', env: torchEnv, input: shapes.map((c) => JSON.stringify(c)).join('\n') });
    if (r.status === 0) torchConv = (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { seconds: number }).seconds;
    else console.log(`PyTorch convolution peer failed: ${r.stderr.split('\n').slice(-3).join(' ')}`);
  }
  console.log(`\nCeiling: the forward pass of the branch's ${shapes.length} convolutions alone at ${ceilingSize} px, ${n} photos (tfjs's stock wasm kernel, no project code, vs PyTorch; same threads)`);
  console.log('\n| convolutions | whaleid s | PyTorch s | whaleid / PyTorch (photos/s) |\n|---|---|---|---|');
  console.log(`| forward, ${ceilingSize} px | ${ourConv.toFixed(3)} | ${torchConv ? torchConv.toFixed(3) : 'n/a'} | ${torchConv ? (torchConv / ourConv).toFixed(3) : 'n/a'} |`);
}

if (bigSize > 0) {
  // wasm's 4 GB cannot hold a 512 px step of 32 pairs (384 px aborts at 8): gradient accumulation
  // over micro-batches of `microPairs` pairs keeps only one micro-batch's activations alive
  const { model, config } = createSiamese({ preset: 'method', inputSize: bigSize, seed: 0 });
  const count = Math.ceil(bigPairs / microPairs);
  const load = async (i: number) => randomPairs(Math.min(microPairs, bigPairs - i * microPairs), bigSize, 2 * i + 1);
  // with replicas each takes its share of the pairs (all loaded), in micro-batches of `microPairs`
  const pool = replicas > 1 ? await createReplicaPool(replicas, config) : null;
  const whole = pool ? randomPairs(bigPairs, bigSize) : null;
  const t = performance.now();
  const loss = pool && whole ? await pool.step(model, whole, microPairs) : await trainOnMicroBatches(model, count, load);
  const seconds = (performance.now() - t) / 1000;
  if (whole) tf.dispose([...whole.inputs, whole.y]);
  await pool?.close();
  const mem = (tf.memory() as { numBytes: number }).numBytes;
  console.log(`\n${bigSize} px (the method's size), ${bigPairs} pairs per step as ${pool ? `${replicas} replicas' shares in ` : ''}micro-batches of ${microPairs} pairs (gradient accumulation): 1 step in ${seconds.toFixed(1)} s = ${((2 * bigPairs) / seconds).toFixed(2)} photos/s, loss ${loss.toFixed(4)}, tensors held after the step ${(mem / 2 ** 20).toFixed(0)} MB; a 32-pair step (16 micro-batches) takes about ${((32 / bigPairs) * seconds / 60).toFixed(1)} min`);
  model.dispose();
}
