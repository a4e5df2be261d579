/**
 * The classification warm-up (TrainConfig.warmupEpochs): before the schedule's pair groups, the
 * branch learns to classify the training photos by individual (softmax over every training
 * identity, see model/branch-classifier.ts), on the run's engine, with the pair phase's crops and
 * augmentation. Then a `distance` head is started again from the new features and a checkpoint
 * is written, so a resume never repeats the warm-up; a run stopped during it starts it over.
 */
import { randomAugmentation } from '../image/affine.js';
import { loadCropBuffer } from '../image/crop.js';
import { prefetched } from '../util/prefetch.js';
import { createBranchClassifier, type ClassBatch } from '../model/branch-classifier.js';
import type { Siamese } from '../model/siamese.js';
import { createRng, type Rng } from '../util/random.js';
import { saveCheckpoint } from './checkpoint.js';
import { initHeadFromTrainingPhotos } from './head-init.js';
import type { TrainingRun } from './training-run.js';
import type { TrainConfig } from './train-config.js';
import { planEpisodes, type EpisodePhoto, type EpisodePlan } from './warmup-episodes.js';

/** The history entry that marks a finished warm-up. */
const WARMUP_DONE = 'warmup-done';

/**
 * Whether the run still has its warm-up to do (configured, and not done before a resume).
 *
 * @param run - the run
 * @returns true when {@link warmUpBranch} should run
 */
export function warmupPending(run: Pick<TrainingRun, 'config' | 'state'>): boolean {
  return run.config.warmupEpochs > 0 && run.state.groupsDone === 0 && !run.state.history.some((h) => h.kind === WARMUP_DONE);
}

/**
 * Steps of the warm-up: softmax: each epoch shows every training photo once, up to
 * `2 x batchSize` photos a step (as many crops as a pair step), the steps of equal size;
 * prototypical: each epoch is as many episodes as make the training photos.
 *
 * @param run - the run
 * @returns steps over all warm-up epochs
 */
export function warmupSteps(run: Pick<TrainingRun, 'config' | 'data' | 'pairs'>): number {
  const { plan } = warmupClasses(run);
  return run.config.warmupEpochs * (plan ? plan.perEpoch : Math.ceil(run.data.split.train.length / (2 * run.config.batchSize)));
}

/**
 * The warm-up's classes: one per individual, or per individual and view when views carry
 * different marks (a nyala's left and right flanks share no stripes: one class could only be
 * learnt from scenery); and with the prototypical loss, its episodes.
 */
function warmupClasses(run: Pick<TrainingRun, 'config' | 'data' | 'pairs'>): { labels: Int32Array; names: string[]; plan: EpisodePlan | null } {
  const { config } = run;
  const { whaleOf, viewOf } = run.pairs;
  const keys = Array.from(run.data.split.train, (_, k) => (viewOf ? `${whaleOf[k]}|${viewOf[k]}` : `${whaleOf[k]}`));
  const names = [...new Set(keys)];
  const classOf = new Map(names.map((key, c) => [key, c]));
  const labels = Int32Array.from(keys, (key) => classOf.get(key)!);
  const plan = config.warmupLoss === 'prototypical' && config.warmupEpochs > 0 ? planEpisodes(labels, config.warmupRotations, { ways: config.warmupWays, shots: config.warmupShots, queries: config.warmupQueries }) : null;
  return { labels, names, plan };
}

/**
 * Runs the warm-up on `siamese` (its branch), then re-initialises the head (with `distance`
 * heads) and writes a checkpoint.
 *
 * @param run - the run (its log gets one `warmup` record per epoch)
 * @param siamese - the network; its branch is trained in place
 * @returns false when the caller stopped the run during the warm-up
 * @throws {@link WhaleidError} with fewer than 2 training individuals, or from the engine
 * @example
 * if (warmupPending(run) && !(await warmUpBranch(run, siamese))) return 'stopped';
 */
export async function warmUpBranch(run: TrainingRun, siamese: Siamese): Promise<boolean> {
  const { config, data } = run;
  const train = data.split.train;
  const { labels, names, plan } = warmupClasses(run);
  const turns = config.warmupRotations;
  const classifier = await createBranchClassifier(siamese, plan ? plan.ways : names.length * turns, { engine: run.options.engine, ...run.options.native, lr: config.warmupLr, seed: config.seed, loss: config.warmupLoss });
  const what = plan ? `prototypical episodes of ${plan.ways} classes (${config.warmupShots} support + ${config.warmupQueries} query photos each), ${plan.perEpoch} an epoch,` : 'softmax';
  run.say(`classification warm-up: ${config.warmupEpochs} epochs of ${what} over ${train.length} photos of ${names.length} ${run.pairs.viewOf ? 'individual views' : 'individuals'}${turns > 1 ? ` x ${turns} turns` : ''} (${classifier.engine}, lr ${config.warmupLr}${config.warmupLrSchedule === 'cosine' ? ' annealed along a half cosine' : ''})`);
  const rng = createRng(config.seed).fork('warmup');
  const perStep = 2 * config.batchSize;
  try {
    for (let e = 0; e < config.warmupEpochs; e++) {
      const lr = warmupLearningRate(config, e);
      classifier.setLearningRate(lr);
      const order = rng.fork(`order-${e}`).shuffle(Array.from(train, (_, k) => k));
      const augRng = rng.fork(`augment-${e}`);
      const episodeRng = rng.fork(`episodes-${e}`);
      // softmax: steps of equal size (within one photo), every photo once: a last step of a few
      // photos would normalise BatchNorm over almost nothing
      const steps = plan ? plan.perEpoch : Math.ceil(order.length / perStep);
      const slice = (k: number): number[] => order.slice(Math.round((k * order.length) / steps), Math.round(((k + 1) * order.length) / steps));
      // drawn in step order (prefetched loads step k+1 only after step k): turns, then augmentations
      const stepPhotos = (k: number): WarmupPhoto[] => {
        if (plan) return plan.draw(episodeRng);
        return slice(k).map((position) => {
          const turn = turns > 1 ? augRng.int(turns) : 0;
          return { position, turn, label: labels[position] * turns + turn };
        });
      };
      let lossSum = 0;
      for await (const batch of prefetched(steps, (k) => loadBatch(run, stepPhotos(k), augRng))) {
        if (run.options.signal?.aborted) return false;
        const loss = await classifier.step(batch);
        lossSum += loss;
        run.options.onStep?.(`warm-up epoch ${e + 1} loss ${loss.toFixed(4)}`);
      }
      await run.record({ kind: 'warmup', epoch: e + 1, loss: lossSum / Math.max(1, steps), classes: plan ? plan.ways : names.length * turns, lr, seconds: (Date.now() - run.started) / 1000 });
    }
    await classifier.writeTo(siamese);
  } finally {
    classifier.dispose();
  }
  if (config.headInit === 'distance') await initHeadFromTrainingPhotos(siamese, data);
  await run.record({ kind: WARMUP_DONE, epochs: config.warmupEpochs });
  await saveCheckpoint(run.runDir, siamese, run.state);
  return true;
}

/**
 * The warm-up's learning rate in epoch `epoch` (0-based): `warmupLr`, or with `cosine` the
 * half cosine from `warmupLr` at the first epoch towards 0 (never 0 itself: the last epoch still learns).
 *
 * @param config - warmupLr, warmupLrSchedule and warmupEpochs
 * @param epoch - 0-based epoch of the warm-up
 * @returns the learning rate
 * @example
 * warmupLearningRate({ warmupLr: 1e-3, warmupLrSchedule: 'cosine', warmupEpochs: 4 }, 2); // 5e-4
 */
export function warmupLearningRate(config: Pick<TrainConfig, 'warmupLr' | 'warmupLrSchedule' | 'warmupEpochs'>, epoch: number): number {
  if (config.warmupLrSchedule === 'constant') return config.warmupLr;
  return (config.warmupLr * (1 + Math.cos((Math.PI * epoch) / config.warmupEpochs))) / 2;
}

/** A photo of a warm-up step: its position in the training split, quarter turns and label. */
type WarmupPhoto = EpisodePhoto;

/**
 * Crops of a step's training photos, turned by their quarter turns, with their labels;
 * augmentations drawn now, in order.
 */
function loadBatch(run: TrainingRun, photos: readonly WarmupPhoto[], augRng: Rng): Promise<ClassBatch> {
  const { data } = run;
  // always augmented: a classifier over a few photos per individual memorises them otherwise
  const requests = photos.map((p) => {
    const aug = randomAugmentation(augRng);
    return data.request(data.split.train[p.position], { ...aug, rotation: aug.rotation + 90 * p.turn });
  });
  return loadCropBuffer(data.cache, requests, data.crop).then((images) => ({ images, labels: Int32Array.from(photos, (p) => p.label), count: photos.length, size: data.crop.size }));
}
