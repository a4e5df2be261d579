/**
 * Data-parallel training: R copies of the Siamese network, this thread's and R-1 worker
 * threads', each on single-threaded wasm, compute the gradients of 1/R of every batch; the
 * pair-weighted mean gradient takes one optimiser step here.
 *
 * Why: tfjs's multi-threaded wasm build runs only XNNPACK's convolutions and matrix products on
 * several threads (2 threads: 1.22x at 192 px); every other kernel (elementwise ops, BatchNorm,
 * pooling gradients, our composed gradient kernels' copies) stays on one. Replicas run ALL of a
 * step's kernels in parallel.
 *
 * BatchNorm: each replica normalises its share with that share's statistics (as training over
 * micro-batches does: "ghost" batches of batch/R pairs), and the moving averages become the mean
 * of the replicas' updated averages (the same as one update with the mean of their batch means).
 * With one replica a step is exactly {@link accumulateGradients}' step.
 *
 * This module is also the workers' entry (see `startModuleWorker`).
 */
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { createSiamese, type SiameseConfig } from '../network/siamese.js';
import { invalidParameterError, WhaleidError } from '../../util/errors.js';
import { startModuleWorker } from '../../util/module-worker.js';
import { accumulateGradients, applyGradientSums, type GradientSums, type MicroBatch } from './accumulate.js';

/** A tensor as it crosses threads. */
interface WireTensor {
  data: Float32Array;
  shape: number[];
}

/** One replica's work: the weights to start from and its share of the batch. */
interface ReplicaRequest {
  weights: Float32Array[];
  inputs: WireTensor[];
  y: WireTensor;
  microBatch: number;
}

/** A replica's answer: gradient sums in trainable-weight order, and its updated non-trainable weights. */
type ReplicaReply = { grads: Float32Array[]; lossSum: number; total: number; stats: Float32Array[] } | { error: string };

/** A pool of data-parallel replicas of one Siamese network. */
export interface ReplicaPool {
  /** Replicas, this thread's included. */
  readonly replicas: number;
  /**
   * One optimiser step of `model` on `batch` (not disposed here): the shares' gradients averaged
   * by pair count, BatchNorm moving averages averaged over replicas.
   *
   * @param model - the compiled pair model (built with the pool's configuration)
   * @param batch - the step's inputs and labels
   * @param microBatch - pairs per micro-batch within each replica's share (memory); default all
   * @returns the batch's mean loss
   */
  step(model: tf.LayersModel, batch: MicroBatch, microBatch?: number): Promise<number>;
  /** Stops the workers. */
  close(): Promise<void>;
}

function toWire(t: tf.Tensor): WireTensor {
  return { data: t.dataSync() as Float32Array, shape: t.shape.slice() };
}

function readAll(weights: readonly tf.LayerVariable[]): Float32Array[] {
  return weights.map((w) => w.read().dataSync() as Float32Array);
}

/** Rows [lo, hi) of a micro-batch, as new tensors. */
function rows(batch: MicroBatch, lo: number, hi: number): MicroBatch {
  const take = (t: tf.Tensor): tf.Tensor => tf.slice(t, lo, hi - lo);
  return { inputs: batch.inputs.map(take), y: take(batch.y) };
}

/** Gradient sums of `share` in `microBatch`-pair pieces. */
function shareGradients(model: tf.LayersModel, share: MicroBatch, microBatch: number): Promise<GradientSums> {
  const n = share.y.shape[0];
  const micro = Math.min(n, microBatch);
  return accumulateGradients(model, Math.ceil(n / micro), async (i) => rows(share, i * micro, Math.min(n, (i + 1) * micro)));
}

/** Worker side: builds the network, then answers requests one at a time. */
async function serveReplica(config: SiameseConfig): Promise<void> {
  const { initEngine } = await import('./tfjs-backend.js');
  await initEngine({ backend: 'wasm' });
  const { model } = createSiamese(config);
  const names = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
  const port = parentPort!;
  port.on('message', (req: ReplicaRequest) => {
    void (async () => {
      const share: MicroBatch = { inputs: req.inputs.map((t) => tf.tensor(t.data, t.shape)), y: tf.tensor(req.y.data, req.y.shape) };
      try {
        const start = req.weights.map((w, i) => tf.tensor(w, model.weights[i].shape as number[]));
        model.setWeights(start);
        tf.dispose(start);
        const sums = await shareGradients(model, share, req.microBatch);
        const grads = names.map((k) => sums.grads[k].dataSync() as Float32Array);
        tf.dispose(Object.values(sums.grads));
        const reply: ReplicaReply = { grads, lossSum: sums.lossSum, total: sums.total, stats: readAll(model.nonTrainableWeights) };
        port.postMessage(reply, [...grads.map((g) => g.buffer as ArrayBuffer)]);
      } catch (err) {
        port.postMessage({ error: err instanceof Error ? err.message : String(err) } satisfies ReplicaReply);
      } finally {
        tf.dispose([...share.inputs, share.y]);
      }
    })();
  });
  port.postMessage({ ready: model.weights.length });
}

if (!isMainThread && (workerData as { whaleidReplica?: boolean } | undefined)?.whaleidReplica === true) {
  void serveReplica((workerData as { config: SiameseConfig }).config);
}

/** The next message of `worker` (rejects on a worker error or exit). */
function nextMessage<T>(worker: Worker): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (m: T): void => { cleanup(); resolve(m); };
    const onError = (e: Error): void => { cleanup(); reject(e); };
    const onExit = (code: number): void => { cleanup(); reject(new WhaleidError(`replica worker exited with code ${code}`)); };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * Starts `replicas - 1` worker threads, each building the network of `config` on
 * single-threaded wasm; this thread is the first replica (its engine should be single-threaded
 * too, or the replicas compete for cores).
 *
 * @param replicas - copies of the network, this thread's included (1 = no workers)
 * @param config - the network's configuration (`siamese.config`)
 * @returns the pool; close it when training ends
 * @throws {@link WhaleidError} when replicas is not a positive integer or a worker fails to start
 * @example
 * const pool = await createReplicaPool(2, siamese.config);
 * const loss = await pool.step(siamese.model, { inputs: [a, b], y });
 * await pool.close();
 */
export async function createReplicaPool(replicas: number, config: SiameseConfig): Promise<ReplicaPool> {
  if (!Number.isSafeInteger(replicas) || replicas < 1) throw invalidParameterError('replicas', 'a positive integer', replicas);
  const workers = Array.from({ length: replicas - 1 }, () => startModuleWorker(import.meta.url, { whaleidReplica: true, config }));
  try {
    await Promise.all(workers.map((w) => nextMessage<{ ready: number }>(w)));
  } catch (err) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw new WhaleidError(`a replica worker failed to start: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    replicas,
    async step(model, batch, microBatch = Number.MAX_SAFE_INTEGER) {
      const n = batch.y.shape[0];
      const used = Math.min(replicas, n);
      const bounds = Array.from({ length: used + 1 }, (_, k) => Math.round((k * n) / used));
      const weights = readAll(model.weights);
      // hand the workers their shares first, then compute this thread's while they run
      const replies = workers.slice(0, used - 1).map((worker, k) => {
        const share = rows(batch, bounds[k + 1], bounds[k + 2]);
        const req: ReplicaRequest = { weights, inputs: share.inputs.map(toWire), y: toWire(share.y), microBatch };
        tf.dispose([...share.inputs, share.y]);
        const reply = nextMessage<ReplicaReply>(worker);
        worker.postMessage(req);
        return reply;
      });
      const myShare = rows(batch, 0, bounds[1]);
      let mine: GradientSums;
      try {
        mine = await shareGradients(model, myShare, microBatch);
      } finally {
        tf.dispose([...myShare.inputs, myShare.y]);
      }
      const parts: GradientSums[] = [mine];
      try {
        const names = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
        const stats = readAll(model.nonTrainableWeights);
        for (const reply of await Promise.all(replies)) {
          if ('error' in reply) throw new WhaleidError(`replica failed: ${reply.error}`);
          parts.push({ grads: Object.fromEntries(names.map((k, i) => [k, tf.tensor(reply.grads[i], model.trainableWeights[i].shape as number[])])), lossSum: reply.lossSum, total: reply.total });
          reply.stats.forEach((s, i) => { for (let j = 0; j < s.length; j++) stats[i][j] += s[j]; });
        }
        applyGradientSums(model, parts);
        if (used > 1) {
          model.nonTrainableWeights.forEach((w, i) => {
            const mean = tf.tidy(() => tf.div(tf.tensor(stats[i], w.shape as number[]), used));
            w.write(mean);
            mean.dispose();
          });
        }
        return parts.reduce((s, p) => s + p.lossSum, 0) / n;
      } finally {
        for (const p of parts) tf.dispose(Object.values(p.grads));
      }
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
