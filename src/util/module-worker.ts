/**
 * Starting a worker thread on one of our own modules, from compiled `dist/` (.js) and from the
 * TypeScript sources under tsx or vitest (.ts) alike.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** Worker script for TypeScript sources: imports the module through tsx (which then runs it). */
const TS_BOOT = `const { workerData } = require('node:worker_threads');
import(workerData.boot.tsx).then((api) => api.tsImport(workerData.boot.url, workerData.boot.url)).catch((err) => { setImmediate(() => { throw err; }); });`;

/**
 * A worker thread running the module at `moduleUrl` (typically the caller's `import.meta.url`)
 * with `data` as its `workerData`. Why not a plain `new Worker(url)`: Node 20 workers do not
 * inherit tsx's loader hooks, so under tsx/vitest a small script loads the module through tsx's
 * `tsImport`; compiled modules start directly.
 *
 * @param moduleUrl - file URL of the module to run
 * @param data - structured-cloneable worker data (the module reads it from `workerData`)
 * @returns the started worker
 * @example
 * const worker = startModuleWorker(import.meta.url, { whaleidScore: true, ...job });
 */
export function startModuleWorker(moduleUrl: string, data: Record<string, unknown>): Worker {
  const url = new URL(moduleUrl);
  if (url.pathname.endsWith('.ts')) {
    const tsx = pathToFileURL(createRequire(moduleUrl).resolve('tsx/esm/api')).href.replace(/\.cjs$/, '.mjs');
    return new Worker(TS_BOOT, { eval: true, workerData: { ...data, boot: { url: url.href, tsx } } });
  }
  // --input-type (node -e) is refused for a file entry
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  return new Worker(url, { workerData: data, execArgv });
}
