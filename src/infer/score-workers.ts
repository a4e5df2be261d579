/**
 * The score kernel on every core: worker threads pull blocks of rows from a shared counter and
 * write straight into shared memory (the full matrix, or each row's top K for prediction).
 *
 * This module is also the workers' entry: loaded as a worker with a `whaleidScore` job it runs the
 * job. Why not a separate file or an eval'd string: the same file then works from compiled `dist/`
 * (.js) and from sources under tsx/vitest (.ts; see `startModuleWorker`).
 */
import { type Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { HeadWeights } from '../model/network/head-weights.js';
import { invalidParameterError } from '../util/errors.js';
import { startModuleWorker } from '../util/module-worker.js';
import { createScoreKernel } from './score-kernel.js';

/** A job for one worker (every field structured-cloneable; buffers shared). */
interface ScoreJob {
  whaleidScore: true;
  /** `pairs`: rows = columns, upper triangle + mirror; `queries`: every row against every column. */
  mode: 'pairs' | 'queries';
  w: HeadWeights;
  rows: Float32Array;
  columns: Float32Array;
  /** nr*ng scores (shared), or null in top-K mode. */
  out: Float32Array | null;
  /** Top-K mode: nr*k column indices and scores (shared). */
  topIndex: Int32Array | null;
  topScore: Float32Array | null;
  k: number;
  counter: Int32Array;
  blockRows: number;
}

/**
 * Keeps the k best (score descending, then index ascending) of one row: insertion into a sorted
 * list, O(ng) for the usual row where few scores beat the k-th.
 */
function selectTop(row: Float32Array, k: number, index: Int32Array, score: Float32Array, at: number): void {
  let count = 0;
  for (let j = 0; j < row.length; j++) {
    const s = row[j];
    if (count === k && !(s > score[at + k - 1])) continue;
    let p = count < k ? count++ : k - 1;
    while (p > 0 && s > score[at + p - 1]) {
      score[at + p] = score[at + p - 1];
      index[at + p] = index[at + p - 1];
      p--;
    }
    score[at + p] = s;
    index[at + p] = j;
  }
  for (let p = count; p < k; p++) {
    score[at + p] = Number.NaN;
    index[at + p] = -1;
  }
}

/** Runs a job in this thread (a worker, or the caller with threads = 1); reports rows done. */
function runJob(job: ScoreJob, onRows: (rows: number) => void): void {
  const F = job.w.features;
  const nr = job.rows.length / F;
  const ng = job.columns.length / F;
  const kernel = createScoreKernel(job.w, job.columns);
  const rowBuf = new Float32Array(ng);
  for (;;) {
    const r0 = Atomics.add(job.counter, 0, job.blockRows);
    if (r0 >= nr) return;
    const r1 = Math.min(nr, r0 + job.blockRows);
    for (let i = r0; i < r1; i++) {
      const row = job.rows.subarray(i * F, (i + 1) * F);
      if (job.mode === 'pairs') {
        const out = job.out as Float32Array;
        kernel.scoreRow(row, i, ng, out, i * ng + i);
        for (let j = i + 1; j < ng; j++) out[j * ng + i] = out[i * ng + j];
      } else if (job.out) {
        kernel.scoreRow(row, 0, ng, job.out, i * ng);
      } else {
        kernel.scoreRow(row, 0, ng, rowBuf, 0);
        selectTop(rowBuf, job.k, job.topIndex as Int32Array, job.topScore as Float32Array, i * job.k);
      }
    }
    onRows(r1 - r0);
  }
}

if (!isMainThread && (workerData as ScoreJob | undefined)?.whaleidScore === true) {
  runJob(workerData as ScoreJob, (rows) => parentPort?.postMessage(rows));
}

/** Options of the parallel scorers. */
export interface ParallelScoreOptions {
  /** Worker threads; default: the machine's cores, or 1 (this thread) for small jobs. */
  threads?: number;
  /** Rows a worker takes at a time (load balance vs. messages). Default 8. */
  blockRows?: number;
  /** Called as blocks of rows finish, with rows done so far. */
  onProgress?: (rowsDone: number, rows: number) => void;
}

/** Float32Array copy of `src` on shared memory (workers read it without copying). */
function sharedCopy(src: Float32Array): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(Math.max(4, src.length * 4)), 0, src.length);
  out.set(src);
  return out;
}

/** Starts workers on `job` (or runs it here for threads = 1); resolves when all rows are done. */
async function runParallel(job: ScoreJob, pairs: number, options: ParallelScoreOptions): Promise<void> {
  const nr = job.rows.length / job.w.features;
  // Below ~0.1 s of work, starting workers costs more than it saves.
  const threads = options.threads ?? (pairs * job.w.features * job.w.mid < 1e9 ? 1 : availableParallelism());
  if (!Number.isSafeInteger(threads) || threads < 1) throw invalidParameterError('threads', 'a positive integer', threads);
  let done = 0;
  const onRows = (rows: number): void => {
    done += rows;
    options.onProgress?.(done, nr);
  };
  if (threads === 1 || nr === 0) {
    runJob(job, onRows);
    return;
  }
  const start = (): Worker => startModuleWorker(import.meta.url, { ...job });
  const workers = Array.from({ length: Math.min(threads, nr) }, start);
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            worker.on('message', (rows: number) => onRows(rows));
            worker.on('error', reject);
            worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`score worker exited with code ${code}`))));
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

function checkFeatures(name: string, features: Float32Array, F: number): number {
  if (features.length % F !== 0) throw invalidParameterError(name, `a multiple of F = ${F}`, features.length);
  return features.length / F;
}

/**
 * {@link scoreAllPairs} on worker threads: the symmetric n*n matrix of the head's probabilities,
 * upper triangle computed, mirrored, on shared memory. Memory: the n*n result plus one copy of the
 * features per worker.
 *
 * @param features - n*F floats, row-major
 * @param n - number of photos
 * @param w - head weights
 * @param options - threads, block size, progress
 * @returns the n*n matrix (backed by a SharedArrayBuffer)
 * @throws {@link WhaleidError} when `features.length !== n * F` or `threads` is not a positive integer
 * @example
 * const S = await scoreAllPairsParallel(features, n, readHeadWeights(head), { threads: 2 });
 */
export async function scoreAllPairsParallel(features: Float32Array, n: number, w: HeadWeights, options: ParallelScoreOptions = {}): Promise<Float32Array> {
  if (features.length !== n * w.features) throw invalidParameterError('features.length', `n * F = ${n * w.features}`, features.length);
  const shared = sharedCopy(features);
  const out = new Float32Array(new SharedArrayBuffer(Math.max(4, n * n * 4)), 0, n * n);
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const job: ScoreJob = { whaleidScore: true, mode: 'pairs', w, rows: shared, columns: shared, out, topIndex: null, topScore: null, k: 0, counter, blockRows: options.blockRows ?? 8 };
  await runParallel(job, (n * (n + 1)) / 2, options);
  return out;
}

/**
 * {@link scoreQueries} on worker threads: every query against every known photo.
 *
 * @param queries - nq*F floats
 * @param known - ng*F floats
 * @param w - head weights
 * @param options - threads, block size, progress
 * @returns nq*ng probabilities, row per query (backed by a SharedArrayBuffer)
 * @throws {@link WhaleidError} when a length is not a multiple of F
 * @example
 * const scores = await scoreQueriesParallel(testFeatures, trainFeatures, readHeadWeights(head));
 */
export async function scoreQueriesParallel(queries: Float32Array, known: Float32Array, w: HeadWeights, options: ParallelScoreOptions = {}): Promise<Float32Array> {
  const nq = checkFeatures('queries.length', queries, w.features);
  const ng = checkFeatures('known.length', known, w.features);
  const out = new Float32Array(new SharedArrayBuffer(Math.max(4, nq * ng * 4)), 0, nq * ng);
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const job: ScoreJob = { whaleidScore: true, mode: 'queries', w, rows: sharedCopy(queries), columns: sharedCopy(known), out, topIndex: null, topScore: null, k: 0, counter, blockRows: options.blockRows ?? 8 };
  await runParallel(job, nq * ng, options);
  return out;
}

/** Each query's best known photos, from {@link scoreQueriesTopK}. */
export interface TopK {
  /** Candidates per query. */
  readonly k: number;
  /** nq*k known-photo indices, best first (-1 where fewer than k photos are known). */
  readonly index: Int32Array;
  /** nq*k probabilities matching `index` (NaN where the index is -1). */
  readonly score: Float32Array;
}

/**
 * Every query against every known photo, keeping only each query's k best (score descending, ties
 * by index): memory is the features plus nq*k, never nq*ng, so it suits any catalog size.
 *
 * @param queries - nq*F floats
 * @param known - ng*F floats
 * @param w - head weights
 * @param k - candidates kept per query (>= 1)
 * @param options - threads, block size, progress
 * @returns the top-K lists
 * @throws {@link WhaleidError} when a length is not a multiple of F or k is not a positive integer
 * @example
 * const { index, score } = await scoreQueriesTopK(testFeatures, trainFeatures, w, 20);
 */
export async function scoreQueriesTopK(queries: Float32Array, known: Float32Array, w: HeadWeights, k: number, options: ParallelScoreOptions = {}): Promise<TopK> {
  if (!Number.isSafeInteger(k) || k < 1) throw invalidParameterError('k', 'a positive integer', k);
  const nq = checkFeatures('queries.length', queries, w.features);
  const ng = checkFeatures('known.length', known, w.features);
  const index = new Int32Array(new SharedArrayBuffer(Math.max(4, nq * k * 4)), 0, nq * k);
  const score = new Float32Array(new SharedArrayBuffer(Math.max(4, nq * k * 4)), 0, nq * k);
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const job: ScoreJob = { whaleidScore: true, mode: 'queries', w, rows: sharedCopy(queries), columns: sharedCopy(known), out: null, topIndex: index, topScore: score, k, counter, blockRows: options.blockRows ?? 8 };
  await runParallel(job, nq * ng, options);
  return { k, index, score };
}
