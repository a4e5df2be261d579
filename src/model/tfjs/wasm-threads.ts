/**
 * Starts the MULTI-THREADED SIMD build of the tfjs wasm backend
 * (`tfjs-backend-wasm-threaded-simd.wasm`) in Node 20, without patching node_modules, so that
 * XNNPACK computes with several threads.
 *
 * As shipped, that build never starts in Node. Each workaround below answers one obstacle:
 *
 * 1. The `WASM_HAS_MULTITHREAD_SUPPORT` flag is hard-coded to false when `IS_NODE`
 *    (tfjs issue 3830): we set it to true before the backend starts.
 * 2. The pthread worker script (`*.worker.js`) is handed to `new Worker()` as a `blob:` URL made
 *    with `URL.createObjectURL`, which Node's worker_threads Worker rejects. During start-up only,
 *    `URL.createObjectURL` is replaced so that, for that one Blob, it writes the script to a
 *    temporary `.cjs` file and returns the file's path instead. A `.cjs` file runs as CommonJS,
 *    which is what the script's Node branch expects (`require`, `__filename`).
 * 3. Blob contents can only be read asynchronously, but `URL.createObjectURL` must answer at once:
 *    during start-up `Blob` is replaced by a subclass that remembers the text it was built from.
 * 4. Each worker then receives the main script (`mainScriptUrlOrBlob`) as a Blob, turns it into a
 *    `blob:` URL and `importScripts()` it, i.e. reads it with `fs.readFileSync`, which fails for a
 *    `blob:` URL. The main script is therefore also written to a temporary file, and the worker
 *    file ends with a line that makes the worker's own `URL.createObjectURL` return that path.
 * 5. That main script is the factory's `toString()`, cut out of the CommonJS bundle: it refers to
 *    the bundle's module-level locals (`require$$0`... for fs, path, perf_hooks and os,
 *    `commonjsGlobal`, and tslib's `__values`, `__read`, `__spreadArray`), which do not exist in
 *    the worker. The temporary main script defines them first.
 * 6. The native side caps XNNPACK's pool at min(requested, 8, logical cores / 2), the core count
 *    being read once, by a C++ global initialiser, from `os.cpus().length` (so 1 thread on a
 *    2-core machine, whatever `setThreadsCount()` asks for). The count is set with
 *    `setThreadsCount()` and, during start-up only, `os.cpus()` reports at least twice that many
 *    entries (the real ones, repeated).
 * 7. The XNNPACK pool threads are Emscripten workers that are `ref()`ed while they run, so the
 *    process never exits by itself. Once started, every worker is `unref()`ed (a worker only
 *    computes while the main thread waits for it synchronously, so nothing is lost), and the
 *    pool workers XNNPACK did not take are terminated (they would only hold memory).
 * 8. Like the single-threaded build, the glue installs process handlers that re-throw every
 *    uncaught exception from inside the 400 kB bundle; they are removed as in `engine.ts`.
 *
 * The temporary files live in a fresh `os.tmpdir()` folder that is deleted once the backend has
 * started (every worker has read both files by then: Emscripten waits for its whole worker pool
 * to load before it resolves).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { invalidParameterError } from '../../util/errors.js';
import { processErrorListeners, registerWasmTrainingKernels, removeEmscriptenProcessHandlers, wasmDistFolder } from './wasm-setup.js';

/**
 * Most threads the threaded build can use: its C++ side caps the pool at 8, which is also the
 * size of Emscripten's pre-loaded worker pool (XNNPACK waits synchronously for its workers on
 * start-up, so it could not use a worker created later).
 */
export const MAX_WASM_THREADS = 8;

/** What {@link startThreadedWasm} set up. */
export interface ThreadedWasm {
  /** Threads XNNPACK computes with (`getThreadsCount()`). */
  threads: number;
  /**
   * Disposes the wasm backend (`tf.removeBackend('wasm')`): its tensors become invalid, its
   * worker threads are terminated, and wasm cannot be started again in this process. Not needed
   * for the process to exit. Idempotent.
   */
  release(): void;
}

/** The parts of an Emscripten pthread worker (a worker_threads Worker) used here. */
interface PThreadWorker {
  ref(): void;
  unref(): void;
  terminate(): unknown;
}

/** Emscripten's `Module.PThread` registry (not in tfjs's typings). */
interface PThreadRegistry {
  unusedWorkers: PThreadWorker[];
  runningWorkers: PThreadWorker[];
}

const MAIN_SCRIPT_PREFIX = 'var WasmBackendModuleThreadedSimd = ';

/**
 * Definitions of the CommonJS bundle's module-level locals that the factory source refers to
 * (workaround 5). The tslib helpers are reduced to what the factory does with them: iterate
 * arrays and spread `arguments`.
 */
const MAIN_SCRIPT_PRELUDE = [
  'var require$$0 = require("fs");',
  'var require$$1 = require("path");',
  'var require$$3 = require("perf_hooks");',
  'var require$$4 = require("os");',
  'var commonjsGlobal = globalThis;',
  'var __values = function (o) { return o[Symbol.iterator](); };',
  'var __read = function (o, n) { var a = []; for (var v of o) { if (n !== undefined && a.length >= n) break; a.push(v); } return a; };',
  'var __spreadArray = function (to, from) { return to.concat(Array.prototype.slice.call(from)); };',
  '',
].join('\n');

let started: Promise<ThreadedWasm> | undefined;

/**
 * Replaces `Blob`, `URL.createObjectURL` and `os.cpus` for the duration of start-up
 * (workarounds 2-4 and 6).
 *
 * @param dir - fresh temporary folder for the worker and main scripts
 * @param threads - threads wanted
 * @returns a function that puts the originals back
 */
function installStartupShims(dir: string, threads: number): () => void {
  // The builtin's exports object, the one the bundle's `require('os')` returns.
  const osModule = os as unknown as { cpus: () => os.CpuInfo[] };
  const originalCpus = osModule.cpus;
  osModule.cpus = () => {
    const real = originalCpus();
    const filler: os.CpuInfo = { model: '', speed: 0, times: { user: 0, nice: 0, sys: 0, idle: 0, irq: 0 } };
    return Array.from({ length: Math.max(real.length, 2 * threads) }, (_, i) => real[i % real.length] ?? filler);
  };
  const scope = globalThis as unknown as { Blob: typeof Blob };
  const OriginalBlob = scope.Blob;
  const originalCreateObjectURL = URL.createObjectURL.bind(URL);
  const texts = new WeakMap<object, string>();
  let mainScript: string | undefined;
  let workerPath: string | undefined;

  class RecordingBlob extends OriginalBlob {
    constructor(...args: ConstructorParameters<typeof Blob>) {
      super(...args);
      const parts = args[0];
      if (Array.isArray(parts) && parts.every((p) => typeof p === 'string')) {
        const text = parts.join('');
        texts.set(this, text);
        if (text.startsWith(MAIN_SCRIPT_PREFIX)) mainScript = text;
      }
    }
  }

  scope.Blob = RecordingBlob;
  URL.createObjectURL = (blob: Blob): string => {
    const text = texts.get(blob);
    if (text === undefined || mainScript === undefined || !text.includes('WasmBackendModuleThreadedSimd(Module)')) {
      return originalCreateObjectURL(blob);
    }
    if (workerPath === undefined) {
      const mainPath = path.join(dir, 'tfjs-backend-wasm-threaded-simd.main.cjs');
      writeFileSync(mainPath, MAIN_SCRIPT_PRELUDE + mainScript);
      workerPath = path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.cjs');
      // Appended, not prepended, so that the script's "use strict" directive stays first.
      const redirect = `\n;URL.createObjectURL=function(){return ${JSON.stringify(mainPath)}};URL.revokeObjectURL=function(){};\n`;
      writeFileSync(workerPath, text + redirect);
    }
    return workerPath;
  };
  return () => {
    osModule.cpus = originalCpus;
    scope.Blob = OriginalBlob;
    URL.createObjectURL = originalCreateObjectURL;
  };
}

/** The active wasm backend's Emscripten pthread registry. */
function pthreadRegistry(): PThreadRegistry | undefined {
  const backend = tf.findBackend('wasm') as unknown as { wasm?: { PThread?: PThreadRegistry } } | null;
  return backend?.wasm?.PThread;
}

/**
 * Starts the multi-threaded SIMD wasm backend and makes it the active tfjs backend, with the
 * project's gradient and reduction kernels registered as in `initEngine()` (see the module
 * comment for the workarounds). Once per process: later calls return the same result, and
 * `initEngine()` called afterwards keeps this backend and reports its thread count.
 *
 * @param threads - threads for XNNPACK, 1 to {@link MAX_WASM_THREADS}
 * @returns the thread count in use and a `release()` that disposes the backend
 * @throws {@link WhaleidError} for a thread count out of range
 * @throws Error when the single-threaded wasm backend already started in this process, when
 *   the runtime lacks SIMD or SharedArrayBuffer, or when the backend fails to start
 * @example
 * const { threads } = await startThreadedWasm(2);
 * console.log(tf.getBackend(), threads); // wasm 2
 */
export function startThreadedWasm(threads: number): Promise<ThreadedWasm> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS) {
    return Promise.reject(invalidParameterError('threads', `an integer from 1 to ${MAX_WASM_THREADS}`, threads));
  }
  if (started === undefined) {
    started = start(threads);
    started.catch(() => {
      started = undefined;
    });
  }
  return started;
}

async function start(threads: number): Promise<ThreadedWasm> {
  if (tf.findBackend('wasm') != null) {
    throw new Error('the wasm backend already started (single-threaded) in this process; start the threaded one first');
  }
  if (typeof SharedArrayBuffer !== 'function' || !(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) {
    throw new Error('the threaded wasm backend needs WebAssembly SIMD and SharedArrayBuffer');
  }
  registerWasmTrainingKernels();
  setWasmPaths(wasmDistFolder());
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  setThreadsCount(threads);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'whaleid-wasm-threads-'));
  const before = processErrorListeners();
  const restore = installStartupShims(dir, threads);
  let ok: boolean;
  try {
    ok = await tf.setBackend('wasm');
  } finally {
    restore();
    removeEmscriptenProcessHandlers(before);
    rmSync(dir, { recursive: true, force: true });
  }
  if (!ok) throw new Error('tfjs threaded wasm backend failed to start');
  await tf.ready();

  const registry = pthreadRegistry();
  if (registry === undefined) throw new Error('the wasm backend started without threads (single-threaded build)');
  for (const worker of registry.runningWorkers) worker.unref();
  for (const worker of registry.unusedWorkers.splice(0)) void worker.terminate();

  let released = false;
  return {
    threads: getThreadsCount(),
    release(): void {
      if (released) return;
      released = true;
      if (tf.engine().registryFactory.wasm != null) tf.removeBackend('wasm');
    },
  };
}
