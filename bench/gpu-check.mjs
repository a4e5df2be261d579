// The native engine on a CUDA GPU, with no project dependencies (plain Node + the compiled addon +
// .gpu/fixtures from bench/gpu-prepare.ts): (1) parity: the small preset's loss and weight
// gradients on cuda (and on this machine's cpu) against tfjs's cpu backend; (2) training photos/s
// of the method preset at the fixture's size on cuda, fp32 and bf16, beside Python PyTorch's
// (bench/peers/torch_siamese.py) on the same GPU with the same pairs per step.
// Run by bench/gpu-check.sh: node bench/gpu-check.mjs ADDON FIXTURES [--pairs 32 --steps 5 --python python3]
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
const [addonFile, fixtures] = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const pairs = Number(flag('pairs', '32'));
const steps = Number(flag('steps', '5'));
const python = flag('python', 'python3');
const addon = createRequire(import.meta.url)(path.resolve(addonFile));
const info = addon.torchInfo();
console.log(`libtorch ${info.version}; CUDA available ${info.cudaAvailable}, ${info.cudaDevices} device(s), cuDNN ${info.cudnn}`);

const f32 = (b64) => {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
};
const relError = (ours, ref) => {
  let d = 0;
  let s = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(ours[i] - ref[i]));
    s = Math.max(s, Math.abs(ref[i]));
  }
  return s === 0 ? d : d / s;
};
const median = (xs) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];

// (1) parity
const parity = JSON.parse(readFileSync(path.join(fixtures, 'parity-small.json'), 'utf8'));
const weights = parity.weights.map((w) => ({ name: w.name, values: f32(w.values) }));
const batch = { a: f32(parity.batch.a), b: f32(parity.batch.b), labels: f32(parity.batch.labels) };
for (const [device, bf16] of [['cpu', false], ['cuda', false], ['cuda', true]]) {
  if (device === 'cuda' && !info.cudaAvailable) continue;
  const net = new addon.Net(parity.spec, { device, threads: 4, channelsLast: device === 'cuda', bf16 });
  net.setWeights(weights);
  const loss = await net.accumulate(batch.a, batch.b, batch.labels, parity.batch.count, parity.batch.size, 1);
  const grads = new Map(net.gradients().map((g) => [g.name, g.values]));
  const errors = parity.reference.grads.map((g) => relError(grads.get(g.name), f32(g.values))).sort((p, q) => p - q);
  console.log(`parity (small preset, ${device}${bf16 ? ', bf16' : ''}) vs ${parity.reference.backend}: loss ${loss} vs ${parity.reference.loss}; ${errors.length} weight gradients, relative error median ${median(errors).toExponential(2)}, max ${errors.at(-1).toExponential(2)}${bf16 ? ' (bf16: not expected within 1e-4)' : errors.at(-1) < 1e-4 ? ' (within 1e-4)' : ' (OVER 1e-4)'}`);
  await net.applyAdam();
  net.dispose();
}
if (!info.cudaAvailable) process.exit(1);

// (2) training photos/s on the GPU
const methodFile = readdirSync(fixtures).find((n) => /^method-\d+\.json$/.test(n));
const method = JSON.parse(readFileSync(path.join(fixtures, methodFile), 'utf8'));
const s = method.size;
let seed = 1;
const uniform = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
/** Glorot-uniform kernels, BatchNorm at its start (gamma 1, beta 0, moving 0 / 1), zero biases. */
const initial = method.spec.params.map((p) => {
  const n = p.shape.reduce((a, b) => a * b, 1);
  const short = p.name.split('/').pop();
  const values = new Float32Array(n);
  if (short === 'kernel') {
    const fanIn = p.shape.length === 4 ? p.shape[0] * p.shape[1] * p.shape[2] : p.shape[0];
    const fanOut = p.shape.length === 4 ? p.shape[0] * p.shape[1] * p.shape[3] : p.shape[1];
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < n; i++) values[i] = uniform() * limit;
  } else if (short === 'gamma' || short === 'moving_variance') values.fill(1);
  return { name: p.name, values };
});
const photosA = Float32Array.from({ length: pairs * s * s }, () => uniform() * 2);
const photosB = Float32Array.from({ length: pairs * s * s }, () => uniform() * 2);
const labels = Float32Array.from({ length: pairs }, (_, i) => i % 2);
const rows = [];
for (const precision of ['fp32', 'bf16']) {
  for (const deterministic of [true, false]) {
    const net = new addon.Net(method.spec, { device: 'cuda', threads: 4, channelsLast: true, bf16: precision === 'bf16', deterministic });
    net.setWeights(initial);
    net.setLearningRate(64e-5);
    const times = [];
    for (let i = 0; i < steps + 2; i++) {
      const t = performance.now();
      await net.accumulate(photosA, photosB, labels, pairs, s, 1); // its loss.item() synchronises with the GPU
      await net.applyAdam();
      if (i >= 2) times.push((performance.now() - t) / 1000);
    }
    net.dispose();
    rows.push({ precision, deterministic, native: (2 * pairs) / median(times) });
  }
  const r = spawnSync(python, [path.join(import.meta.dirname, 'peers', 'torch_siamese.py'), '--device', 'cuda', '--sizes', String(s), '--batch', String(pairs), '--steps', String(steps), '--warmup', '2', '--precision', precision], { encoding: 'utf8' });
  const torch = r.status === 0 ? JSON.parse(r.stdout.trim().split('\n').at(-1)) : null;
  if (!torch) console.log(`PyTorch peer failed (${precision}): ${r.stderr.split('\n').slice(-3).join(' ')}`);
  for (const row of rows.filter((x) => x.precision === precision)) Object.assign(row, { torch: torch?.[String(s)], torchVersion: torch?.torch });
}
console.log(`\nSiamese training on cuda, method preset, ${s} px, ${pairs} pairs per step (channels_last; native: cuDNN deterministic or benchmarked, PyTorch: its defaults)\n`);
console.log('| precision | cuDNN | native photos/s | PyTorch photos/s | native / PyTorch |\n|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.precision} | ${r.deterministic ? 'deterministic' : 'benchmark'} | ${r.native.toFixed(1)} | ${r.torch ? `${r.torch.toFixed(1)} (torch ${r.torchVersion})` : 'n/a'} | ${r.torch ? (r.native / r.torch).toFixed(3) : 'n/a'} |`);
