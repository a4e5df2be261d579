/**
 * tfjs engine setup: the wasm backend (default) or the pure-JS cpu backend, with our fast Conv2D
 * gradient kernels registered for wasm so that tfjs-layers models can train on it.
 *
 * The wasm binaries are loaded from the installed `@tensorflow/tfjs-backend-wasm/dist/` folder,
 * never downloaded. Only the single-threaded SIMD build is used: the multi-threaded build does not
 * start in Node 20 as shipped (its feature flag is hard-coded off in Node, its worker scripts
 * are Blob URLs that Node's Worker rejects, the worker code expects the bundle's CommonJS
 * locals, and the native side caps threads at logical cores / 2, i.e. 1 on a 2-core machine).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { invalidParameterError } from '../util/errors.js';
import { registerBatchNormGradient } from './batch-norm-grad.js';
import { convGradKernelsRegistered, registerConvGradKernels } from './conv-grad-kernels.js';
import { registerReduceKernels } from './reduce-kernels.js';

/** Which tfjs backend to run on. */
export type EngineBackend = 'wasm' | 'cpu';

/** Options for {@link initEngine}. */
export interface EngineOptions {
  /** Backend; default 'wasm'. 'cpu' is the pure-JavaScript reference backend (slow). */
  backend?: EngineBackend;
  /**
   * Threads wanted. Only 1 is available today (see the module comment); a larger request is
   * accepted and the result reports the 1 thread actually used.
   */
  threads?: number;
}

/** What {@link initEngine} set up. */
export interface EngineInfo {
  /** The active tfjs backend. */
  backend: string;
  /** Threads the backend computes with. */
  threads: number;
}

let wasmPathsSet = false;

/** Folder of the installed wasm binaries, resolved from this module (works from src and dist). */
function wasmDistFolder(): string {
  const require = createRequire(import.meta.url);
  // The package's main entry lives in dist/, next to the .wasm files.
  const folder = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  if (!existsSync(path.join(folder, 'tfjs-backend-wasm-simd.wasm'))) {
    throw new Error(`tfjs wasm binaries not found in ${folder}; reinstall @tensorflow/tfjs-backend-wasm`);
  }
  return folder + path.sep;
}

/**
 * Emscripten's Node glue installs process handlers that re-throw every uncaught exception and
 * unhandled rejection from inside its minified bundle, so any crash prints a 30 kB source line.
 * They add nothing else; remove those (recognised by their source) that appeared during start-up.
 */
function removeEmscriptenProcessHandlers(before: Set<unknown>): void {
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    // Typed loosely: the two events' listener types differ and removeListener has no union overload.
    const emitter = process as unknown as { listeners(e: string): ((...args: unknown[]) => void)[]; removeListener(e: string, l: (...args: unknown[]) => void): void };
    for (const listener of emitter.listeners(event)) {
      const source = String(listener);
      if (!before.has(listener) && (source.includes('ExitStatus') || /throw reason/.test(source))) {
        emitter.removeListener(event, listener);
      }
    }
  }
}

/**
 * Makes `backend` the active tfjs backend, once per process: wasm binaries from the local
 * package, our Conv2D gradient kernels registered for wasm. Later calls only switch backends.
 *
 * @param options - backend ('wasm' by default or 'cpu') and threads wanted
 * @returns the active backend and the number of threads it actually uses
 * @throws {@link WhaleidError} for an unknown backend or a non-positive thread count
 * @throws Error when the wasm binaries are missing or the backend fails to start
 * @example
 * const { backend, threads } = await initEngine();
 * console.log(`tfjs ${backend}, ${threads} thread(s)`); // tfjs wasm, 1 thread(s)
 */
export async function initEngine(options: EngineOptions = {}): Promise<EngineInfo> {
  const backend = options.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'cpu') {
    throw invalidParameterError('backend', "'wasm' or 'cpu'", backend);
  }
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) {
    throw invalidParameterError('threads', 'a positive integer', options.threads);
  }
  // Same formulas on every backend, so cpu stays the reference for wasm.
  registerBatchNormGradient();
  if (backend === 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new Error('tfjs cpu backend failed to start');
    await tf.ready();
    // The cpu backend prints an "install tfjs-node" banner on first use; cpu is a deliberate choice.
    const cpu = tf.backend() as unknown as { firstUse?: boolean };
    if (cpu.firstUse === true) cpu.firstUse = false;
    return { backend: tf.getBackend(), threads: 1 };
  }
  if (!wasmPathsSet) {
    setWasmPaths(wasmDistFolder());
    wasmPathsSet = true;
  }
  if (!convGradKernelsRegistered('wasm')) registerConvGradKernels('wasm');
  registerReduceKernels('wasm');
  const before = new Set<unknown>([...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')]);
  const ok = await tf.setBackend('wasm');
  removeEmscriptenProcessHandlers(before);
  if (!ok) throw new Error('tfjs wasm backend failed to start');
  await tf.ready();
  return { backend: tf.getBackend(), threads: getThreadsCount() };
}
