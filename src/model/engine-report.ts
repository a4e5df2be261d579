/**
 * What this machine can train on, for `whaleid doctor`: the wasm engine (always), the native
 * engine (built or not, and why; the libtorch it links, its version and CUDA support, the GPUs it
 * sees, its threads), and which engine `--engine auto` picks.
 */
import os from 'node:os';
import { loadNativeAddon, type NativeBuildStatus, type TorchInfo } from './native/native-addon.js';
import { MAX_WASM_THREADS } from './tfjs/wasm-threads.js';
import type { TrainingEngineName } from './training-engines.js';

/** The training engines of this machine. */
export interface EngineReport {
  /** Logical cores Node sees. */
  readonly cores: number;
  /** The wasm engine: always there; its threaded build's thread cap. */
  readonly wasm: { readonly maxThreads: number };
  /** The native engine: loaded (with what its libtorch says) or why not. */
  readonly native:
    | { readonly available: true; readonly file: string; readonly build: NativeBuildStatus | null; readonly torch: TorchInfo; readonly ompWaitPolicy: string | undefined }
    | { readonly available: false; readonly reason: string; readonly build: NativeBuildStatus | null };
  /** The devices training can run on: `cpu`, and `cuda:N` per GPU the native engine sees. */
  readonly devices: readonly string[];
  /** What `--engine auto` trains on. */
  readonly auto: TrainingEngineName;
}

/**
 * Inspects the training engines (loads the native addon when it is built).
 *
 * @returns the report; never throws for a missing or broken addon (it says why)
 * @example
 * const r = engineReport();
 * console.log(`--engine auto trains on ${r.auto}`);
 */
export function engineReport(): EngineReport {
  const loaded = loadNativeAddon();
  const cores = os.availableParallelism();
  if (!loaded.available) {
    return { cores, wasm: { maxThreads: MAX_WASM_THREADS }, native: { available: false, reason: loaded.reason, build: loaded.build }, devices: ['cpu'], auto: 'wasm' };
  }
  const torch = loaded.addon.torchInfo();
  const gpus = Array.from({ length: torch.cudaDevices }, (_, i) => `cuda:${i}`);
  return {
    cores,
    wasm: { maxThreads: MAX_WASM_THREADS },
    native: { available: true, file: loaded.file, build: loaded.build, torch, ompWaitPolicy: process.env.OMP_WAIT_POLICY },
    devices: ['cpu', ...gpus],
    auto: 'native',
  };
}
