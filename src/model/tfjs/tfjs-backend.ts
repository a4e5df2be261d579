/**
 * tfjs engine setup: the wasm backend (default) or the pure-JS cpu backend, with our kernels
 * registered for wasm (Conv2D gradients, Sum/Mean, BatchNorm gradient) so that tfjs-layers
 * models train on it, and fast.
 *
 * The wasm binaries are loaded from the installed `@tensorflow/tfjs-backend-wasm/dist/` folder,
 * never downloaded. One thread: the single-threaded SIMD build. More: the multi-threaded SIMD
 * build, which does not start in Node 20 as shipped; `wasm-threads.ts` starts it. The first start
 * in a process decides which build runs.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { invalidParameterError, WhaleidError } from '../../util/errors.js';
import { registerBatchNormGradient } from './batch-norm-grad.js';
import { MAX_WASM_THREADS, startThreadedWasm } from './wasm-threads.js';
import { processErrorListeners, registerWasmTrainingKernels, removeEmscriptenProcessHandlers, wasmDistFolder } from './wasm-setup.js';

/** Which tfjs backend to run on. */
export type EngineBackend = 'wasm' | 'cpu';

/** Options for {@link initEngine}. */
export interface EngineOptions {
  /** Backend; default 'wasm'. 'cpu' is the pure-JavaScript reference backend (slow). */
  backend?: EngineBackend;
  /**
   * Threads for wasm, 1 (default) to 8. Only the first wasm start of a process decides: later
   * calls report the threads actually in use.
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

/**
 * Makes `backend` the active tfjs backend, once per process: wasm binaries from the local
 * package (the threaded build for `threads` > 1), our kernels registered for wasm. Later calls
 * only switch backends.
 *
 * @param options - backend ('wasm' by default or 'cpu') and threads wanted
 * @returns the active backend and the number of threads it actually uses
 * @throws {@link WhaleidError} for an unknown backend or a thread count out of 1-8
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
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    throw invalidParameterError('threads', `an integer from 1 to ${MAX_WASM_THREADS}`, options.threads);
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
  if (threads > 1 && tf.findBackend('wasm') == null) {
    // the first start decides: threaded build for more than one thread (see wasm-threads.ts)
    try {
      const started = await startThreadedWasm(threads);
      return { backend: tf.getBackend(), threads: started.threads };
    } catch (e) {
      if (e instanceof WhaleidError) throw e;
      throw new WhaleidError(`the multi-threaded wasm build did not start (${(e as Error).message}); use 1 thread (--threads 1)`);
    }
  }
  if (!wasmPathsSet) {
    setWasmPaths(wasmDistFolder());
    wasmPathsSet = true;
  }
  registerWasmTrainingKernels();
  const before = processErrorListeners();
  const ok = await tf.setBackend('wasm');
  removeEmscriptenProcessHandlers(before);
  if (!ok) throw new Error('tfjs wasm backend failed to start');
  await tf.ready();
  return { backend: tf.getBackend(), threads: getThreadsCount() };
}
