/**
 * bench:train's measurements beside tfjs-wasm's: the native engine's training steps, the image
 * pipeline that feeds them, and the PyTorch peer (bench/peers/torch_siamese.py) with the same
 * threads, device, precision and pairs per step.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { randomAugmentation } from '../../src/image/affine.js';
import { decodeSideFor, loadCropBuffer, type CropRequest } from '../../src/image/crop.js';
import { createImageCache } from '../../src/image/image-cache.js';
import { createNativeTrainingEngine, type NativeEngineSettings } from '../../src/model/native/native-training-engine.js';
import { resolveNativeChoice } from '../../src/model/training-engines.js';
import { createSiamese } from '../../src/model/network/siamese.js';
import type { PairBatch } from '../../src/model/training-engine.js';
import { createRng } from '../../src/util/random.js';

/** Median of `steps` timed runs of `once` after one warm-up, in seconds. */
export async function medianSeconds(steps: number, once: () => Promise<unknown>): Promise<number> {
  await once();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    await once();
    times.push((performance.now() - t) / 1000);
  }
  times.sort((p, q) => p - q);
  return times[Math.floor(times.length / 2)];
}

/** `n` pairs of `s` px photos (values in [-2, 2)) with alternating labels, as arrays. */
function randomPairBatch(n: number, s: number): PairBatch {
  const rng = createRng('bench-native');
  const fill = (): Float32Array => Float32Array.from({ length: n * s * s }, () => rng.uniform(-2, 2));
  return { a: fill(), b: fill(), labels: Float32Array.from({ length: n }, (_, i) => i % 2), count: n, size: s };
}

/**
 * Training photos/s of the method preset on the native engine at `s` px: 2 x pairs per step over
 * the median step (forward, backward, Adam), crops already in memory.
 *
 * @param s - input size
 * @param pairs - pairs per step
 * @param steps - timed steps
 * @param settings - device, threads, precision
 * @returns photos/s and the engine's description
 */
export async function nativePhotosPerSecond(s: number, pairs: number, steps: number, settings: NativeEngineSettings): Promise<{ rate: number; description: string }> {
  const siamese = createSiamese({ preset: 'method', inputSize: s, seed: 0 });
  const engine = await createNativeTrainingEngine(siamese, { choice: resolveNativeChoice(settings) });
  const batch = randomPairBatch(pairs, s);
  try {
    const seconds = await medianSeconds(steps, () => engine.step(async () => batch, pairs));
    return { rate: (2 * pairs) / seconds, description: engine.info.description };
  } finally {
    await engine.dispose();
    siamese.model.dispose();
  }
}

/**
 * Photos/s of the image pipeline that feeds training at `s` px: augmented crops of cached photos
 * (`loadCropBuffer`, as a step's loader does), steady state (the cache filled by a first pass).
 *
 * @param s - crop size
 * @param photos - crops per timed pass
 * @param steps - timed passes
 * @returns photos/s
 */
export async function imagePipelinePhotosPerSecond(s: number, photos: number, steps: number): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'whaleid-bench-crops-'));
  try {
    await generateSynthCatalog({ out: path.join(dir, 'catalog'), individuals: 8, photosPerIndividual: 3, seed: 1 });
    const cache = createImageCache({ dir: path.join(dir, 'cache'), maxSide: decodeSideFor(s) });
    const train = path.join(dir, 'catalog', 'train');
    const files = readdirSync(train).map((f) => path.join(train, f));
    const rng = createRng('bench-crops');
    const requests = (): CropRequest[] => Array.from({ length: photos }, (_, i) => ({ file: files[i % files.length], augmentation: randomAugmentation(rng) }));
    const seconds = await medianSeconds(steps, () => loadCropBuffer(cache, requests(), { size: s }));
    return photos / seconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The Python with torch (Debian's python3-torch first), or null. */
export function pythonWithTorch(): string | null {
  return ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) ?? null;
}

/**
 * PyTorch's photos/s for the same network and step (bench/peers/torch_siamese.py).
 *
 * @param python - the interpreter
 * @param s - input size
 * @param pairs - pairs per step
 * @param steps - timed steps
 * @param how - threads, device (`cpu`/`cuda`) and precision (`fp32`/`bf16`)
 * @returns photos/s and the torch version, or the failure's last lines
 */
export function torchPhotosPerSecond(python: string, s: number, pairs: number, steps: number, how: { threads: number; device: string; precision: string }): { rate: number; version: string } | { error: string } {
  // OMP's default busy-waiting makes 2-thread PyTorch several times slower on a shared 2-core machine
  const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
  const args = ['--sizes', String(s), '--batch', String(pairs), '--steps', String(steps), '--threads', String(how.threads), '--device', how.device, '--precision', how.precision];
  const r = spawnSync(python, [path.join(import.meta.dirname, '..', 'peers', 'torch_siamese.py'), ...args], { encoding: 'utf8', env });
  if (r.status !== 0) return { error: r.stderr.split('\n').slice(-3).join(' ') };
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number | string>;
  return { rate: out[String(s)] as number, version: String(out.torch) };
}
