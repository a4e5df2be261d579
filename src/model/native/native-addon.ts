/**
 * Loading the native training engine's addon (`native/`, libtorch through N-API), built at
 * install time by `scripts/build-native.mjs`. Absent or broken, whaleid trains on tfjs-wasm; this
 * module says why, from the build's own record (`native/build/status.json`) or the load error.
 *
 * Environment: `WHALEID_NATIVE=off` disables the addon; `WHALEID_NATIVE_ADDON=FILE` loads another
 * build. OpenMP's idle threads spin by default, which on a shared CPU steals time from Node's own
 * threads (the image pipeline); `OMP_WAIT_POLICY=PASSIVE` (unless set) makes them sleep. It must be
 * set before libgomp loads, i.e. before the addon.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { LayerSpec } from '../network/layer-spec.js';

/** A named array as the addon passes it: tfjs layout. */
export interface AddonArray {
  readonly name: string;
  readonly shape?: readonly number[];
  readonly values: Float32Array;
}

/** Options of the addon's `Net`. */
export interface AddonNetOptions {
  device: 'cpu' | 'cuda';
  threads: number;
  bf16?: boolean;
  channelsLast?: boolean;
  deterministic?: boolean;
  /** Compute in float64: a reference for tests (weights still cross as float32). */
  float64?: boolean;
  /**
   * `binary` (default): the output is a pair's probability, labels 0/1 (the Siamese network).
   * `softmax`: the output is a photo's class logits, labels are class numbers (the branch's
   * classification warm-up; the network has one input, `a`).
   */
  loss?: 'binary' | 'softmax' | 'arcface';
  /** `arcface`: the margin head (the network's output is the embedding). */
  margin?: AddonMarginOptions;
  /** A TorchScript network: seeds libtorch's generator per step (dropout draws the same in a resumed run). */
  seed?: number;
}

/** The margin head of the ArcFace losses (see native/src/net.h, MarginOptions). */
export interface AddonMarginOptions {
  /** Classes (>= 2). */
  readonly classes: number;
  /** Sub-centres per class (1: plain ArcFace). */
  readonly subcenters: number;
  /** Embedding size. */
  readonly features: number;
  /** s: the logits are s x cos. */
  readonly scale: number;
  /** One margin per class, in radians. */
  readonly margins: Float32Array;
}

/** A TorchScript network instead of a layer spec: its file and how many of its last parameter tensors train (0: all). */
export interface AddonTorchScript {
  readonly torchscript: string;
  readonly trainable?: number;
}

/** The addon's network: one call at a time (a second while a step runs is refused). */
export interface AddonNet {
  /** Forward + backward of one micro-batch, gradients scaled by `scale` added up; resolves the loss. */
  accumulate(a: Float32Array, b: Float32Array, labels: Float32Array, count: number, size: number, scale: number): Promise<number>;
  /** Adam with the accumulated gradients, then clears them. */
  applyAdam(): Promise<void>;
  /** Inference-mode probabilities. */
  predict(a: Float32Array, b: Float32Array, count: number, size: number): Promise<Float32Array>;
  gradients(): AddonArray[];
  clearGradients(): void;
  setLearningRate(lr: number): void;
  getWeights(): AddonArray[];
  setWeights(weights: readonly AddonArray[]): void;
  getOptimizerState(): { iterations: number; m: AddonArray[]; v: AddonArray[] };
  setOptimizerState(state: { iterations: number; m: readonly AddonArray[]; v: readonly AddonArray[] }): void;
  /** Writes a TorchScript network (fine-tuned) as a TorchScript file; a layer-spec network throws. */
  save(file: string): void;
  dispose(): void;
}

/** What the addon's libtorch is and sees. */
export interface TorchInfo {
  /** libtorch's header version, e.g. `1.13.0`. */
  readonly version: string;
  readonly cudaAvailable: boolean;
  readonly cudaDevices: number;
  readonly cudnn: boolean;
  readonly defaultThreads: number;
  /** at::get_parallel_info(): OpenMP, oneDNN, MKL. */
  readonly parallel: string;
}

/** The compiled addon's exports. */
export interface NativeAddon {
  Net: new (spec: LayerSpec | AddonTorchScript, options: AddonNetOptions) => AddonNet;
  torchInfo(): TorchInfo;
}

/** The build's record (`native/build/status.json`). */
export interface NativeBuildStatus {
  readonly ok: boolean;
  readonly reason?: string;
  readonly libtorch?: { source: string; dir: string; version: string; cuda: string | null; abi: number };
  readonly seconds?: number;
}

/** The addon, or why there is none. */
export type NativeAvailability =
  | { readonly available: true; readonly addon: NativeAddon; readonly file: string; readonly build: NativeBuildStatus | null }
  | { readonly available: false; readonly reason: string; readonly build: NativeBuildStatus | null };

function packageRoot(): string {
  let dir = import.meta.dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'whaleid') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('whaleid: package root not found above ' + import.meta.dirname);
    dir = up;
  }
}

function readBuildStatus(root: string): NativeBuildStatus | null {
  const file = path.join(root, 'native', 'build', 'status.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as NativeBuildStatus;
  } catch {
    return null;
  }
}

let cached: NativeAvailability | null = null;

/**
 * Loads the native addon once per process.
 *
 * @returns the addon, or `available: false` with a one-line reason (never throws)
 * @example
 * const native = loadNativeAddon();
 * if (!native.available) console.log(`tfjs-wasm: ${native.reason}`);
 */
export function loadNativeAddon(): NativeAvailability {
  if (cached) return cached;
  const root = packageRoot();
  const build = readBuildStatus(root);
  if ((process.env.WHALEID_NATIVE ?? '').toLowerCase() === 'off') {
    cached = { available: false, reason: 'the native engine is switched off (WHALEID_NATIVE=off)', build };
    return cached;
  }
  const file = process.env.WHALEID_NATIVE_ADDON ?? path.join(root, 'native', 'build', 'Release', 'whaleid_native.node');
  if (!existsSync(file)) {
    const why = build && !build.ok && build.reason ? build.reason : 'it was not built (run `npm rebuild whaleid` or `node scripts/build-native.mjs` with a libtorch installed)';
    cached = { available: false, reason: `no native engine: ${why}`, build };
    return cached;
  }
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    const addon = createRequire(import.meta.url)(file) as NativeAddon;
    cached = { available: true, addon, file, build };
  } catch (e) {
    const first = ((e as Error).message ?? String(e)).split('\n')[0];
    cached = { available: false, reason: `the native engine ${file} did not load: ${first}`, build };
  }
  return cached;
}
