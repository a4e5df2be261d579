// Training of the method's Siamese network (method preset) on tfjs's WebGPU backend in Node, through
// the `webgpu` npm package (Dawn; on Linux it needs a Vulkan loader and driver). Checks that training
// works (forward output matches the cpu backend, gradients our wasm engine; the loss of a fixed
// batch falls) and times trainOnBatch: photos/s = 2 x pairs per step / median step time.
//
// Neither @tensorflow/tfjs-backend-webgpu nor webgpu is a dependency of whaleid, so they are loaded
// by name at run time, from node_modules beside the running file. To run it (on a machine with a GPU):
//   mkdir gpu && cd gpu && npm init -y && npm i @tensorflow/tfjs@4.22.0 @tensorflow/tfjs-backend-wasm@4.22.0 \
//     @tensorflow/tfjs-backend-webgpu@4.22.0 webgpu@0.6.2
//   npx esbuild ../bench/train-webgpu.ts --bundle --platform=node --format=esm \
//     --external:@tensorflow/* --external:webgpu --outfile=train-webgpu.mjs
//   node train-webgpu.mjs [--sizes 192,384] [--batches 16,32] [--warmup 2] [--steps 5] [--budget-s 300]
// (bundling makes the external tfjs imports resolve from gpu/node_modules, so one tfjs-core is used).
// Exit status: 0 done, 2 no WebGPU adapter or device.
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../src/model/tfjs/tfjs-backend.js';
import { createSiamese } from '../src/model/network/siamese.js';
import { flagValue } from './lib/args.js';

const opt = flagValue;
const list = (s: string): number[] => s.split(',').filter(Boolean).map(Number);
const sizes = list(opt('sizes', '192,384'));
const batches = list(opt('batches', '16,32'));
const warmup = Number(opt('warmup', '2'));
const steps = Number(opt('steps', '5'));
const lossSteps = Number(opt('loss-steps', '30'));
const lossSize = Number(opt('loss-size', '192'));
// At 64 px with 2 pairs the last stage's BatchNorm normalises 2 values per channel in training, which
// amplifies fp32 rounding differences ~1e4-fold; at 128 px with 8 pairs it sees 32.
const paritySize = Number(opt('parity-size', '128'));
const parityPairs = Number(opt('parity-pairs', '8'));
const budgetS = Number(opt('budget-s', '300'));
const dawnFlags = opt('dawn', '').split(',').filter(Boolean);
const t0 = performance.now();
const elapsed = (): number => (performance.now() - t0) / 1000;
const log = (...parts: unknown[]): void => console.log(`[${elapsed().toFixed(1)}s]`, ...parts);
const errLine = (e: unknown): string => String(e instanceof Error ? e.message : e).split('\n')[0].slice(0, 300);

interface GpuAdapterLike {
  info?: Record<string, unknown>;
  features: Set<string>;
  limits: Record<string, number>;
}
interface GpuLike {
  requestAdapter(o?: object): Promise<GpuAdapterLike | null>;
}

// Dynamic imports by a computed name: typechecking and linting need neither package installed.
const load = (name: string): Promise<Record<string, unknown>> => import(name) as Promise<Record<string, unknown>>;
const dawn = (await load('webgpu')) as { create(flags: string[]): GpuLike; globals: Record<string, unknown> };
Object.assign(globalThis, dawn.globals);
const gpu = dawn.create(dawnFlags);
// tfjs-backend-webgpu registers the backend at import time, only if navigator.gpu exists.
Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  log('no WebGPU adapter (Dawn found no usable Vulkan driver); nothing to measure');
  process.exit(2);
}
const info = adapter.info ?? {};
log('adapter:', JSON.stringify({ vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description }));
log('limits: maxBufferSize', adapter.limits.maxBufferSize, 'maxStorageBufferBindingSize', adapter.limits.maxStorageBufferBindingSize, '| timestamp-query:', adapter.features.has('timestamp-query'));
await load('@tensorflow/tfjs-backend-webgpu');
try {
  if (!(await tf.setBackend('webgpu'))) throw new Error('setBackend returned false');
  await tf.ready();
} catch (e) {
  log('webgpu backend failed to start:', errLine(e));
  process.exit(2);
}
log(`tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}; Conv2DBackpropFilter/Input kernels:`, Boolean(tf.getKernel('Conv2DBackpropFilter', 'webgpu')), Boolean(tf.getKernel('Conv2DBackpropInput', 'webgpu')));

const result: Record<string, unknown> = { adapter: info.description ?? info.device ?? null };

/** A fixed pair batch: even pairs show the same photo (label 1), odd pairs two photos (label 0). */
function pairBatch(s: number, b: number, seed: number): { xa: tf.Tensor4D; xb: tf.Tensor4D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const xa = tf.randomNormal([b, s, s, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
    const other = tf.randomNormal([b, s, s, 1], 0, 1, 'float32', seed + 1);
    const same = tf.tensor4d(Array.from({ length: b }, (_, i) => (i % 2 === 0 ? 1 : 0)), [b, 1, 1, 1]);
    const xb = tf.add(tf.mul(same, xa), tf.mul(tf.sub(1, same), other)) as tf.Tensor4D;
    return { xa, xb, y: tf.reshape(same, [b, 1]) as tf.Tensor2D };
  });
}

async function lossOf(out: tf.Scalar | tf.Scalar[] | number | number[]): Promise<number> {
  const v = Array.isArray(out) ? out[0] : out;
  return typeof v === 'number' ? v : (await v.data())[0];
}

// 1. Parity, same weights and inputs. Forward (branch features in inference mode; pair output in
// training mode, BatchNorm on batch statistics) against the cpu backend, the reference. Gradients of
// the loss with BatchNorm in inference mode (with batch statistics a few values per channel in the
// last stage turn rounding into large gradient differences) against our wasm engine, whose Conv2D
// gradient kernels are tested against cpu's: cpu's own convolution gradients take minutes here.
// (Measured with a software Vulkan driver at 128 px, 8 pairs: training-mode features differ from cpu's
// by 5e-4 on webgpu but 9e-3 on wasm; inference-mode features agree to 3e-7 on both.)
type Net = ReturnType<typeof createSiamese>;
async function forward(net: Net, s: number): Promise<{ feat: Float32Array; prob: Float32Array }> {
  const { xa, xb } = pairBatch(s, parityPairs, 7);
  const feat = (await (net.branch.predict(xa) as tf.Tensor).data()) as Float32Array;
  // Read asynchronously: the webgpu backend's dataSync needs OffscreenCanvas, which Node lacks.
  const prob = (await (net.model.apply([xa, xb], { training: true }) as tf.Tensor).data()) as Float32Array;
  return { feat, prob };
}
async function gradients(net: Net, s: number): Promise<{ loss: number; grads: Float32Array[] }> {
  const { xa, xb, y } = pairBatch(s, parityPairs, 7);
  const vars = net.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => {
    const p = net.model.apply([xa, xb], { training: false }) as tf.Tensor;
    return tf.mean(tf.metrics.binaryCrossentropy(y, p)) as tf.Scalar;
  }, vars);
  const out: Float32Array[] = [];
  for (const v of vars) out.push((await grads[v.name].data()) as Float32Array);
  return { loss: (await value.data())[0], grads: out };
}
const maxAbs = (x: Float32Array): number => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const diff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
try {
  const s = paritySize;
  await initEngine({ backend: 'cpu' });
  const cpuNet = createSiamese({ preset: 'method', inputSize: s, seed: 0 });
  const weights = cpuNet.model.getWeights().map((w) => ({ data: w.dataSync().slice(), shape: w.shape }));
  const withWeights = (net: Net): Net => {
    net.model.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
    return net;
  };
  const fwdCpu = await forward(cpuNet, s);
  log('parity: cpu forward done');
  await initEngine({ backend: 'wasm' });
  const gradWasm = await gradients(withWeights(createSiamese({ preset: 'method', inputSize: s, seed: 0 })), s);
  log('parity: wasm gradients done');
  await tf.setBackend('webgpu');
  const gpuNet = withWeights(createSiamese({ preset: 'method', inputSize: s, seed: 0 }));
  // Gradients first: the training-mode forward pass updates BatchNorm's moving statistics.
  const gradGpu = await gradients(gpuNet, s);
  const fwdGpu = await forward(gpuNet, s);
  // Per weight: max|diff| relative to the largest entry of that weight's reference gradient.
  const rel = gradWasm.grads.map((g, i) => diff(g, gradGpu.grads[i]) / Math.max(maxAbs(g), 1e-12)).sort((p, q) => p - q);
  const r = {
    size: s, pairs: parityPairs, featureDiff: diff(fwdCpu.feat, fwdGpu.feat), featureMax: maxAbs(fwdCpu.feat),
    trainProbDiff: diff(fwdCpu.prob, fwdGpu.prob), lossWasm: gradWasm.loss, lossGpu: gradGpu.loss,
    gradRelDiffMedian: rel[Math.floor(rel.length / 2)], gradRelDiffMax: rel.at(-1) ?? NaN, gradCount: rel.length,
  };
  log(`parity at ${s} px, ${parityPairs} pairs: vs cpu: features max|diff| ${r.featureDiff.toExponential(2)} (max|feature| ${r.featureMax.toFixed(3)}), training-mode output max|diff| ${r.trainProbDiff.toExponential(2)}; vs wasm (BatchNorm frozen): loss ${r.lossWasm.toFixed(6)} vs ${r.lossGpu.toFixed(6)}, gradients of ${r.gradCount} weights, max|diff|/max|grad| median ${r.gradRelDiffMedian.toExponential(2)} worst ${r.gradRelDiffMax.toExponential(2)}`);
  result.parity = r;
} catch (e) {
  log('parity check failed:', errLine(e));
  result.parity = { error: errLine(e) };
}
await tf.setBackend('webgpu');

// 2. The loss of one fixed batch falls: gradients flow through the whole network.
try {
  const { model } = createSiamese({ preset: 'method', inputSize: lossSize, seed: 0 });
  const { xa, xb, y } = pairBatch(lossSize, 16, 11);
  const losses: number[] = [];
  for (let i = 0; i < lossSteps; i++) losses.push(await lossOf(await model.trainOnBatch([xa, xb], y)));
  log(`loss on a fixed batch (${lossSize} px, 16 pairs, ${lossSteps} steps):`, losses.filter((_, i) => i % 5 === 0 || i === losses.length - 1).map((l) => l.toFixed(4)).join(' '));
  result.loss = { size: lossSize, first: losses[0], last: losses.at(-1), finite: losses.every(Number.isFinite) };
  tf.dispose([xa, xb, y]);
  model.dispose();
} catch (e) {
  log('loss check failed:', errLine(e));
  result.loss = { error: errLine(e) };
}

// 3. Throughput, batch-major so every size gets its first batch before the time budget runs out.
const speed: Record<string, unknown> = {};
for (const b of batches) {
  for (const s of sizes) {
    const key = `${s}x${b}`;
    if (elapsed() > budgetS) {
      log(`${key}: skipped, time budget of ${budgetS} s spent`);
      speed[key] = 'skipped';
      continue;
    }
    let net: ReturnType<typeof createSiamese> | undefined;
    let batch: ReturnType<typeof pairBatch> | undefined;
    try {
      net = createSiamese({ preset: 'method', inputSize: s, seed: 0 });
      batch = pairBatch(s, b, 1);
      const inputs = [batch.xa, batch.xb];
      const first: number[] = [];
      for (let i = 0; i < warmup; i++) {
        const t = performance.now();
        await lossOf(await net.model.trainOnBatch(inputs, batch.y));
        first.push((performance.now() - t) / 1000);
      }
      const times: number[] = [];
      for (let i = 0; i < steps; i++) {
        const t = performance.now();
        await lossOf(await net.model.trainOnBatch(inputs, batch.y));
        times.push((performance.now() - t) / 1000);
      }
      const median = [...times].sort((p, q) => p - q)[Math.floor(times.length / 2)];
      const photos = (2 * b) / median;
      log(`${s} px, ${b} pairs: warm-up steps ${first.map((t) => t.toFixed(2)).join(', ')} s; steps ${times.map((t) => t.toFixed(3)).join(', ')} s; median ${median.toFixed(3)} s -> ${photos.toFixed(1)} photos/s; tf.memory ${(tf.memory().numBytes / 2 ** 20).toFixed(0)} MiB`);
      speed[key] = photos;
    } catch (e) {
      log(`${key}: failed:`, errLine(e));
      speed[key] = { error: errLine(e) };
    } finally {
      if (batch) tf.dispose([batch.xa, batch.xb, batch.y]);
      net?.model.dispose();
    }
  }
}
result.photosPerSecond = speed;
console.log(JSON.stringify(result));
// Dawn keeps the event loop alive.
process.exit(0);
