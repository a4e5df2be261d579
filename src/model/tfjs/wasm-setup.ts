/**
 * What every start of the tfjs wasm backend needs, single- or multi-threaded: the local binaries,
 * our kernels registered before the backend starts, and the removal of Emscripten's noisy process
 * handlers.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { registerBatchNormGradient } from './batch-norm-grad.js';
import { convGradKernelsRegistered, registerConvGradKernels } from './conv-grad-kernels.js';
import { registerReduceKernels } from './reduce-kernels.js';

/**
 * Folder of the installed wasm binaries, resolved from this module (works from src and dist):
 * they are loaded from the package, never downloaded.
 *
 * @returns the folder, with a trailing separator (as `setWasmPaths` wants it)
 * @throws Error when the binaries are missing
 */
export function wasmDistFolder(): string {
  const require = createRequire(import.meta.url);
  // The package's main entry lives in dist/, next to the .wasm files.
  const folder = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  if (!existsSync(path.join(folder, 'tfjs-backend-wasm-simd.wasm'))) {
    throw new Error(`tfjs wasm binaries not found in ${folder}; reinstall @tensorflow/tfjs-backend-wasm`);
  }
  return folder + path.sep;
}

/**
 * Registers our kernels and gradients for wasm: the Conv2D gradients, Sum/Mean over leading axes
 * and the BatchNorm gradient (the last is for every backend). Idempotent; before the backend
 * starts, so that the stock kernels' setup still runs.
 */
export function registerWasmTrainingKernels(): void {
  registerBatchNormGradient();
  if (!convGradKernelsRegistered('wasm')) registerConvGradKernels('wasm');
  registerReduceKernels('wasm');
}

/** The listeners of the process error events, to tell later which ones start-up added. */
export function processErrorListeners(): Set<unknown> {
  return new Set<unknown>([...process.listeners('uncaughtException'), ...process.listeners('unhandledRejection')]);
}

/**
 * Emscripten's Node glue installs process handlers that re-throw every uncaught exception and
 * unhandled rejection from inside its minified bundle, so any crash prints a 30 kB source line.
 * They add nothing else; remove those (recognised by their source) that appeared during start-up.
 *
 * @param before - the listeners before start-up ({@link processErrorListeners})
 */
export function removeEmscriptenProcessHandlers(before: Set<unknown>): void {
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
