// Training throughput of the method's Siamese network (method preset) on our engine (tfjs wasm
// with our Conv2D gradient kernels) and, when Debian's python3-torch is importable, of the same
// network in PyTorch in the same run. Photos/s = 2 x pairs per step / median step time.
// Usage: npm run bench:train [-- --sizes 192,384 --batch 16 --steps 3 --compare-stock --threads 1
// --replicas 2 --ceiling-size 192 (0 skips the convolution ceiling) --big-size 512 (0 skips it)]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/model/engine.js';
import { createSiamese } from '../src/model/siamese.js';
import { createBranch } from '../src/model/branch.js';
import { trainOnMicroBatches } from '../src/model/accumulate.js';
import { createReplicaPool } from '../src/model/replicas.js';
import { registerBatchNormGradient, unregisterBatchNormGradient } from '../src/model/batch-norm-grad.js';
import { registerReduceKernels, unregisterReduceKernels } from '../src/model/reduce-kernels.js';
import { flagValue } from './lib/args.js';

const opt = flagValue;
const sizes = opt('sizes', '192,384').split(',').map(Number);
const batch = Number(opt('batch', '16'));
const steps = Number(opt('steps', '3'));
// the method's full-size configuration, trained through micro-batches (0 skips it)
const bigSize = Number(opt('big-size', '512'));
const bigPairs = Number(opt('big-pairs', '8'));
const microPairs = Number(opt('micro-pairs', '2'));
// wasm memory is capped at 4 GB: at 384 px a pair step of 8 pairs (16 photos' activations kept for
// the backward pass) aborts (measured); 4 pairs fit. PyTorch gets the same batch in the same run.
const batchFor = (s: number): number => (s >= 384 ? Math.min(batch, 4) : batch);

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

// --threads N: wasm threads (default 2, as many as PyTorch gets; 1 = the single-threaded build).
// --replicas R: data-parallel copies instead (src/model/replicas.ts), each single-threaded; PyTorch gets R threads.
const replicas = Number(opt('replicas', '1'));
const engine = await initEngine({ backend: 'wasm', threads: replicas > 1 ? 1 : Number(opt('threads', '2')) });
const peerThreads = replicas > 1 ? replicas : engine.threads;

/** Training photos/s of the method preset at `s` px, median of `steps` steps after a warm-up. */
async function photosPerSecond(s: number): Promise<number> {
  const b = batchFor(s);
  const { model, config } = createSiamese({ preset: 'method', inputSize: s, seed: 0 });
  const pool = replicas > 1 ? await createReplicaPool(replicas, config) : null;
  const pairs = randomPairs(b, s);
  const step = async (): Promise<unknown> => (pool ? pool.step(model, pairs) : model.trainOnBatch(pairs.inputs, pairs.y));
  await step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await step();
    times.push((performance.now() - t) / 1000);
  }
  times.sort((p, q) => p - q);
  tf.dispose([...pairs.inputs, pairs.y]);
  await pool?.close();
  model.dispose();
  return (2 * b) / times[Math.floor(times.length / 2)];
}

const ours: Record<number, number> = {};
const stock: Record<number, number> = {};
for (const s of sizes) ours[s] = await photosPerSecond(s);
if (compareStock) {
  unregisterBatchNormGradient();
  unregisterReduceKernels('wasm');
  for (const s of sizes) stock[s] = await photosPerSecond(s);
  registerBatchNormGradient();
  registerReduceKernels('wasm');
}
const python = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
// OMP's default busy-waiting makes 2-thread PyTorch several times slower on a shared 2-core machine.
const torchEnv = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
let torch: Record<string, number> | null = null;
if (python) {
  torch = {};
  for (const s of sizes) {
    const r = spawnSync(python, [path.join(import.meta.dirname, 'peers/torch_siamese.py'), '--sizes', String(s), '--batch', String(batchFor(s)), '--steps', String(steps), '--threads', String(peerThreads)], { encoding: 'utf8', env: torchEnv });
    if (r.status === 0) Object.assign(torch, JSON.parse(r.stdout.trim().split('\n').at(-1)!));
    else console.log(`PyTorch peer failed at ${s} px: ${r.stderr.split('\n').slice(-3).join(' ')}`);
  }
}
console.log(`Siamese training, method preset, tfjs ${engine.backend} (${replicas > 1 ? `${replicas} data-parallel replicas of 1 thread` : `${engine.threads} thread(s)`}; PyTorch ${peerThreads} thread(s)); pairs per step ${batch} (${batchFor(384)} at 384 px: wasm memory), same for PyTorch`);
console.log('\n| input | whaleid photos/s | PyTorch photos/s | whaleid / PyTorch |\n|---|---|---|---|');
for (const s of sizes) {
  const t = torch?.[String(s)];
  console.log(`| ${s} | ${ours[s].toFixed(2)} | ${t ? t.toFixed(2) : 'n/a'} | ${t ? (ours[s] / t).toFixed(3) : 'n/a (python3-torch not installed)'} |`);
}
if (compareStock) {
  console.log('\n| input | whaleid photos/s | with tfjs\'s own BatchNorm gradient and Sum/Mean | gain |\n|---|---|---|---|');
  for (const s of sizes) console.log(`| ${s} | ${ours[s].toFixed(2)} | ${stock[s].toFixed(2)} | ${(ours[s] / stock[s]).toFixed(2)}x |`);
}

// The ceiling: the forward pass of every Conv2D of the branch alone, in tfjs's stock XNNPACK
// kernel (no project code) and in PyTorch's oneDNN, same shapes and threads. A training step is
// mostly convolutions (forward, input gradient = a convolution, filter gradient = a matrix product
// of the same size), so this ratio bounds what kernel work around them can reach.
const ceilingSize = Number(opt('ceiling-size', String(sizes[0])));
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
