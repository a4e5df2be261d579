/**
 * The wasm training engine: tfjs (wasm backend with our kernels, or the cpu backend in parity
 * tests) training the Siamese network's own variables. Three step strategies, one chosen when the
 * engine is made:
 * - whole steps: `trainOnBatch` on all pairs of a step;
 * - micro-batches: a step's gradients accumulated over micro-batches loaded one at a time
 *   (accumulate.ts: memory of one micro-batch, how 512 px fits wasm's 4 GB); a step no larger
 *   than a micro-batch is one whole step;
 * - replicas: data-parallel copies on worker threads, each computing its share's gradients
 *   (replicas.ts), in micro-batches when a size is given.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { invalidParameterError } from '../../util/errors.js';
import { trainOnMicroBatches, type MicroBatch } from './accumulate.js';
import { createReplicaPool, type ReplicaPool } from './replicas.js';
import { setLearningRate, type Siamese } from '../network/siamese.js';
import { readAdamState, readSiameseWeights, restoreAdamState, writeSiameseWeights } from '../network/siamese-state.js';
import type { PairBatch, TrainingEngine, TrainingEngineInfo } from '../training-engine.js';

/** Options of {@link createWasmTrainingEngine}. */
export interface WasmTrainingEngineOptions {
  /** Data-parallel replicas, this thread's included; 1 (default): none. */
  readonly replicas?: number;
  /** Pairs per micro-batch; unset: whole steps (within each replica's share with replicas). */
  readonly microBatch?: number;
}

/** One optimiser step over `pairs` pairs loaded by `load`; returns the mean loss. */
type StepStrategy = (load: (lo: number, hi: number) => Promise<PairBatch>, pairs: number) => Promise<number>;

/**
 * A pair batch as the pair model's inputs and targets (caller disposes).
 *
 * @throws {@link WhaleidError} when the arrays do not have the sizes `count` and `size` give
 */
function toTensors(batch: PairBatch): MicroBatch {
  const { a, b, labels, count, size } = batch;
  const n = count * size * size;
  if (a.length !== n || b.length !== n) throw invalidParameterError('PairBatch.a/b', `${n} values (${count} crops of ${size}x${size})`, `${a.length} and ${b.length} values`);
  if (labels.length !== count) throw invalidParameterError('PairBatch.labels', `${count} values`, `${labels.length} values`);
  const shape: [number, number, number, number] = [count, size, size, 1];
  return { inputs: [tf.tensor4d(a, shape), tf.tensor4d(b, shape)], y: tf.tensor2d(labels, [count, 1]) };
}

function disposeBatch(batch: MicroBatch): void {
  tf.dispose([...batch.inputs, batch.y]);
}

function wholeSteps(model: tf.LayersModel): StepStrategy {
  return async (load, pairs) => {
    const batch = toTensors(await load(0, pairs));
    try {
      const out = await model.trainOnBatch(batch.inputs, batch.y);
      return Array.isArray(out) ? out[0] : out;
    } finally {
      disposeBatch(batch);
    }
  };
}

function microBatchSteps(model: tf.LayersModel, micro: number): StepStrategy {
  const whole = wholeSteps(model);
  return (load, pairs) => {
    if (pairs <= micro) return whole(load, pairs);
    return trainOnMicroBatches(model, Math.ceil(pairs / micro), async (i) => toTensors(await load(i * micro, Math.min(pairs, (i + 1) * micro))));
  };
}

function replicaSteps(model: tf.LayersModel, pool: ReplicaPool, micro: number | undefined): StepStrategy {
  return async (load, pairs) => {
    const batch = toTensors(await load(0, pairs));
    try {
      return await pool.step(model, batch, micro ?? pairs);
    } finally {
      disposeBatch(batch);
    }
  };
}

function describeEngine(replicas: number): TrainingEngineInfo {
  const device = tf.getBackend();
  const threads = replicas > 1 ? replicas : device === 'wasm' ? getThreadsCount() : 1;
  const how = replicas > 1 ? `${replicas} data-parallel replicas of 1 thread` : `${threads} thread(s)`;
  // steps (replicas' included) are driven from the JS thread: loading ahead would compete with them
  return { engine: 'wasm', device, threads, description: `wasm (tfjs ${device}, ${how})`, computesOffThread: false };
}

/**
 * A training engine on tfjs that trains `siamese`'s own variables with the active tfjs backend
 * (start it first with `initEngine`; single-threaded with replicas, or they compete for cores).
 *
 * Why it trains the Siamese in place rather than a copy: the tfjs network is what checkpoints,
 * validation and export read, so the wasm engine's {@link TrainingEngine.writeTo} costs nothing.
 *
 * @param siamese - the compiled network (weights, moving averages and Adam state as they stand)
 * @param options - replicas and micro-batch size: the step strategy, fixed here
 * @returns the engine; dispose it to stop the replicas' workers (the Siamese stays the caller's)
 * @throws {@link WhaleidError} for a bad replica count or micro-batch size, or a replica that fails to start
 * @example
 * const engine = await createWasmTrainingEngine(siamese, { microBatch: 2 });
 * const loss = await engine.step(loadPairs, 32);
 */
export async function createWasmTrainingEngine(siamese: Siamese, options: WasmTrainingEngineOptions = {}): Promise<TrainingEngine> {
  const replicas = options.replicas ?? 1;
  const micro = options.microBatch;
  if (micro !== undefined && (!Number.isSafeInteger(micro) || micro < 1)) throw invalidParameterError('microBatch', 'a positive integer', micro);
  if (!Number.isSafeInteger(replicas) || replicas < 1) throw invalidParameterError('replicas', 'a positive integer', replicas);
  const model = siamese.model;
  const pool = replicas > 1 ? await createReplicaPool(replicas, siamese.config) : null;
  const step: StepStrategy = pool ? replicaSteps(model, pool, micro) : micro !== undefined ? microBatchSteps(model, micro) : wholeSteps(model);
  return {
    info: describeEngine(replicas),
    step,
    setLearningRate: (lr) => setLearningRate(model, lr),
    getWeights: () => Promise.resolve(readSiameseWeights(siamese)),
    setWeights: (weights) => Promise.resolve(writeSiameseWeights(siamese, weights)),
    getOptimizerState: () => readAdamState(model),
    setOptimizerState: (state) => restoreAdamState(model, state),
    async writeTo(target) {
      if (target === siamese) return;
      writeSiameseWeights(target, readSiameseWeights(siamese));
      await restoreAdamState(target.model, await readAdamState(model));
    },
    async dispose() {
      await pool?.close();
    },
  };
}
