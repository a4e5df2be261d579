/**
 * The schedule's groups, one after another: for each, the learning rate, a validation, the score
 * matrix and pair miner, the group's epochs of steps through the training engine, and a
 * checkpoint. All randomness of a group derives from (seed, group number), so a run resumed at a
 * group boundary continues exactly as one that never stopped.
 */
import { randomAugmentation } from '../image/affine.js';
import { loadCropBuffer } from '../image/crop.js';
import { readHeadWeights } from '../model/network/head.js';
import { rebuildSiamese, type Siamese } from '../model/network/siamese.js';
import type { PairBatch, TrainingEngine } from '../model/training-engine.js';
import { createTrainingEngine } from '../model/training-engines.js';
import { createRng, type Rng } from '../util/random.js';
import { prefetched } from '../util/prefetch.js';
import { saveCheckpoint } from './checkpoint.js';
import { createPairMiner, type EpochPairs } from './pairs.js';
import { scoreAllPairsParallel } from '../infer/score-matrix.js';
import type { TrainingData } from './training-data.js';
import type { TrainingRun } from './training-run.js';

/** How the loop ended: the schedule done, the time budget spent, or stopped by the caller. */
export type LoopEnd = 'done' | 'out-of-time' | 'stopped';

/** A training pair: indices into `split.train` and the label (1 = same whale). */
type Pair = [number, number, number];

/**
 * Trains the schedule's remaining groups, writing a checkpoint after each. An engine is made for
 * the network once, and anew after the L2 rebuild (state written back, new network, new engine).
 *
 * @param run - the run (its state advances here)
 * @param start - the network to start from (fresh or resumed)
 * @returns the network at the end (another object after a rebuild; the caller disposes it) and why
 *   the loop ended
 * @example
 * const { siamese, end } = await trainGroups(run, siamese);
 */
export async function trainGroups(run: TrainingRun, start: Siamese): Promise<{ siamese: Siamese; end: LoopEnd }> {
  const { state, schedule, config } = run;
  let siamese = start;
  let engine: TrainingEngine | null = null;
  try {
    for (let g = state.groupsDone; g < schedule.groups.length; g++) {
      if (run.options.signal?.aborted) return { siamese, end: 'stopped' };
      // never before the first group: a warm-up may have used the budget, and an unfitted head
      // would be left (a run without a warm-up starts its first group at once anyway)
      if (g > 0 && config.maxMinutes !== undefined && (Date.now() - run.started) / 60000 >= config.maxMinutes) {
        run.say(`time budget of ${config.maxMinutes} min reached after ${state.epochsDone} epochs: finishing here`);
        return { siamese, end: 'out-of-time' };
      }
      const group = schedule.groups[g];
      if (group.rebuildL2 !== undefined) {
        if (engine) await engine.writeTo(siamese);
        await engine?.dispose();
        engine = null;
        const next = rebuildSiamese(siamese, { l2: group.rebuildL2, lr: group.lr * config.lrScale });
        siamese.model.dispose();
        siamese = next;
        run.say(`rebuilt the model with L2 ${group.rebuildL2}`);
      }
      engine ??= await createTrainingEngine(siamese, { engine: run.engine, replicas: config.replicas, microBatch: config.microBatch });
      if (!(await trainGroup(run, siamese, engine, g))) return { siamese, end: 'stopped' };
      state.groupsDone = g + 1;
      await engine.writeTo(siamese);
      await saveCheckpoint(run.runDir, siamese, state);
      run.options.onCheckpoint?.(state.groupsDone, state.epochsDone);
    }
    return { siamese, end: 'done' };
  } finally {
    await engine?.dispose();
  }
}

/** Group g: validation, score matrix, its epochs. False when the caller stopped the run. */
async function trainGroup(run: TrainingRun, siamese: Siamese, engine: TrainingEngine, g: number): Promise<boolean> {
  const group = run.schedule.groups[g];
  const rng: Rng = createRng(run.config.seed).fork(`group-${g}`);
  engine.setLearningRate(group.lr * run.config.lrScale);
  await engine.writeTo(siamese);
  const feats = await run.validator.run(siamese, run.state.epochsDone);
  const F = siamese.branch.outputs[0].shape[1] as number;
  const n = run.data.split.train.length;
  const score = await scoreAllPairsParallel(run.validator.trainFeatures(feats, F), n, readHeadWeights(siamese.head));
  const nextEpoch = createPairMiner(score, run.pairs.whaleOf, group.K, rng.fork('mine'), run.pairs.viewOf);
  for (let e = 0; e < group.epochs; e++) {
    if (!(await trainEpoch(run, engine, g, nextEpoch(), rng.fork(`augment-${e}`)))) return false;
  }
  return true;
}

/** One epoch: matching and non-matching pairs alternated, in steps of `batchSize` pairs. */
async function trainEpoch(run: TrainingRun, engine: TrainingEngine, g: number, mined: EpochPairs, augRng: Rng): Promise<boolean> {
  const { config, state } = run;
  const group = run.schedule.groups[g];
  const pairs = alternate(mined);
  const augment = state.epochsDone >= config.augmentFromEpoch;
  let lossSum = 0;
  let stepsDone = 0;
  // an engine computing off the JS thread gets the next step's crops loaded during this step
  const ahead = engine.info.computesOffThread;
  const loaderAt = (s: number): { load: StepLoad; count: number } => {
    const count = Math.min(config.batchSize, pairs.length - s);
    const load = pairLoader(run.data, pairs.slice(s, s + count), augment ? augRng : null);
    return { load: ahead ? loadedAhead(load, count) : load, count };
  };
  const steps = Math.ceil(pairs.length / config.batchSize);
  for await (const { load, count } of prefetched(steps, (k) => Promise.resolve(loaderAt(k * config.batchSize)))) {
    if (run.options.signal?.aborted) return false;
    const loss = await engine.step(load, count);
    lossSum += loss;
    stepsDone++;
    const v = run.validator.last();
    run.options.onStep?.(`epoch ${state.epochsDone + 1} loss ${loss.toFixed(4)}${v ? ` val MAP@5 ${v.map5.toFixed(3)}` : ''}`);
  }
  state.epochsDone++;
  await run.record({ kind: 'epoch', epoch: state.epochsDone, group: g, loss: lossSum / Math.max(1, stepsDone), lr: group.lr * config.lrScale, K: group.K, pairs: pairs.length, seconds: (Date.now() - run.started) / 1000 });
  return true;
}

/** Each matching pair followed by a non-matching one (the non-matching list cycled). */
function alternate({ matches, unmatches }: EpochPairs): Pair[] {
  const pairs: Pair[] = [];
  for (let k = 0; k < matches.length; k++) {
    pairs.push([...matches[k], 1]);
    if (unmatches.length) pairs.push([...unmatches[k % unmatches.length], 0]);
  }
  return pairs;
}

/** Loads pairs [lo, hi) of a step. */
type StepLoad = (lo: number, hi: number) => Promise<PairBatch>;

/**
 * A step's loader whose crops (all `count` pairs) start loading now; the engine's calls get
 * slices of them. The augmentations were drawn when `load` was made, so loading early changes
 * nothing in the run.
 */
function loadedAhead(load: StepLoad, count: number): StepLoad {
  const whole = load(0, count);
  whole.catch(() => {}); // awaited by the step; a failure while the previous step runs must not go unhandled
  return async (lo, hi) => {
    const b = await whole;
    if (lo === 0 && hi === count) return b;
    const px = b.size * b.size;
    return { a: b.a.subarray(lo * px, hi * px), b: b.b.subarray(lo * px, hi * px), labels: b.labels.subarray(lo, hi), count: hi - lo, size: b.size };
  };
}

/**
 * The loader of one step's pairs as arrays: augmentations drawn now (first photos, then second
 * photos, in pair order: the draw order fixes the run), crops loaded when the engine asks.
 */
function pairLoader(data: TrainingData, batch: readonly Pair[], augRng: Rng | null): StepLoad {
  const photo = (k: number): number => data.split.train[k];
  const reqA = batch.map(([a]) => data.request(photo(a), augRng ? randomAugmentation(augRng) : undefined));
  const reqB = batch.map(([, b]) => data.request(photo(b), augRng ? randomAugmentation(augRng) : undefined));
  return async (lo, hi) => {
    const [a, b] = await Promise.all([loadCropBuffer(data.cache, reqA.slice(lo, hi), data.crop), loadCropBuffer(data.cache, reqB.slice(lo, hi), data.crop)]);
    return { a, b, labels: Float32Array.from(batch.slice(lo, hi), (p) => p[2]), count: hi - lo, size: data.crop.size };
  };
}
