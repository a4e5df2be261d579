/**
 * The classification warm-up (TrainConfig.warmupEpochs): before the schedule's pair groups, the
 * branch learns to classify the training photos by individual (softmax over every training
 * identity, see model/branch-classifier.ts), on the run's engine, with the pair phase's crops and
 * augmentation. Then a `distance` head is started again from the new features and a checkpoint
 * is written, so a resume never repeats the warm-up; a run stopped during it starts it over.
 *
 * `--loss arcface|subcenter-arcface` trains here too, with the margin head in place of the softmax
 * layer: the warm-up is the one phase that classifies photos by individual, with its epochs,
 * augmentation, time budget and checkpoint already in place, and the pair groups after it fit the
 * pair head to the new features as they do after a softmax warm-up.
 */
import { randomAugmentation } from '../image/affine.js';
import { loadCropBuffer } from '../image/crop.js';
import { prefetched } from '../util/prefetch.js';
import { createBranchClassifier, type ClassBatch } from '../model/branch-classifier.js';
import { marginOptions } from '../model/native/margin-head.js';
import type { Siamese } from '../model/network/siamese.js';
import { createRng, type Rng } from '../util/random.js';
import { saveCheckpoint } from './checkpoint.js';
import { marginSettings } from './train-config.js';
import { initHeadFromTrainingPhotos } from './head-init.js';
import type { TrainingRun } from './training-run.js';

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
 * Steps of the warm-up: each epoch shows every training photo once, up to `2 x batchSize` photos
 * a step (as many crops as a pair step), the steps of equal size.
 *
 * @param run - the run
 * @returns steps over all warm-up epochs
 */
export function warmupSteps(run: Pick<TrainingRun, 'config' | 'data'>): number {
  return run.config.warmupEpochs * Math.ceil(run.data.split.train.length / (2 * run.config.batchSize));
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
  // one class per individual, or per individual and view when views carry different marks (a
  // nyala's left and right flanks share no stripes: one class could only be learnt from scenery)
  const { whaleOf, viewOf } = run.pairs;
  const keys = Array.from(train, (_, k) => (viewOf ? `${whaleOf[k]}|${viewOf[k]}` : `${whaleOf[k]}`));
  const names = [...new Set(keys)];
  const classOf = new Map(names.map((key, c) => [key, c]));
  const labels = Int32Array.from(keys, (key) => classOf.get(key)!);
  const turns = config.warmupRotations;
  const margin = marginHead(config, labels, names.length, turns);
  const classifier = await createBranchClassifier(siamese, names.length * turns, { engine: run.engine, lr: config.warmupLr, seed: config.seed, margin, lossName: config.loss });
  const loss = margin ? `${config.loss}, s ${config.arcfaceScale}, margins ${Math.min(...margin.margins).toFixed(3)}-${Math.max(...margin.margins).toFixed(3)}${margin.subcenters > 1 ? `, ${margin.subcenters} sub-centres` : ''}` : 'softmax';
  run.say(`classification warm-up: ${config.warmupEpochs} epochs over ${train.length} photos of ${names.length} ${viewOf ? 'individual views' : 'individuals'}${turns > 1 ? ` x ${turns} turns` : ''} (${classifier.engine}, ${loss}, lr ${config.warmupLr})`);
  const rng = createRng(config.seed).fork('warmup');
  const perStep = 2 * config.batchSize;
  let epochs = 0;
  try {
    for (let e = 0; e < config.warmupEpochs; e++) {
      const order = rng.fork(`order-${e}`).shuffle(Array.from(train, (_, k) => k));
      const augRng = rng.fork(`augment-${e}`);
      let lossSum = 0;
      // steps of equal size (within one photo): a last step of a few photos would normalise
      // BatchNorm over almost nothing
      const steps = Math.ceil(order.length / perStep);
      const slice = (k: number): number[] => order.slice(Math.round((k * order.length) / steps), Math.round(((k + 1) * order.length) / steps));
      for await (const batch of prefetched(steps, (k) => loadBatch(run, slice(k), labels, turns, augRng))) {
        if (run.options.signal?.aborted) return false;
        const loss = await classifier.step(batch);
        lossSum += loss;
        run.options.onStep?.(`warm-up epoch ${e + 1} loss ${loss.toFixed(4)}`);
      }
      await run.record({ kind: 'warmup', epoch: e + 1, loss: lossSum / Math.max(1, steps), classes: names.length * turns, seconds: (Date.now() - run.started) / 1000 });
      epochs = e + 1;
      // the budget ends the warm-up too (a shared machine can be slower than the recipe's): the
      // pair phase's first group still runs (group-loop.ts), so the head is fitted to the features
      if (epochs < config.warmupEpochs && config.maxMinutes !== undefined && (Date.now() - run.started) / 60000 >= config.maxMinutes) {
        run.say(`time budget of ${config.maxMinutes} min reached after ${epochs} of ${config.warmupEpochs} warm-up epochs: the warm-up ends here`);
        break;
      }
    }
    await classifier.writeTo(siamese);
  } finally {
    classifier.dispose();
  }
  if (config.headInit === 'distance') await initHeadFromTrainingPhotos(siamese, data);
  await run.record({ kind: WARMUP_DONE, epochs });
  await saveCheckpoint(run.runDir, siamese, run.state);
  return true;
}

/**
 * The margin head of a margin loss (null for the pair loss): each class's margin from its training
 * photos (a turned copy of a class counts its individual's photos).
 */
function marginHead(config: TrainingRun['config'], labels: Int32Array, classes: number, turns: number): ReturnType<typeof marginOptions> | undefined {
  const settings = marginSettings(config);
  if (!settings) return undefined;
  const photos = new Array<number>(classes).fill(0);
  for (const c of labels) photos[c]++;
  // features: the branch's, filled in by the classifier
  return marginOptions(settings, photos.flatMap((n) => new Array<number>(turns).fill(n)), 0);
}

/**
 * Crops of training photos (positions in split.train) with their class numbers; augmentations
 * drawn now, in order. With `turns` 4 each crop is also turned by a random multiple of 90
 * degrees, and its class is `individual class x 4 + quarter turns`.
 */
function loadBatch(run: TrainingRun, positions: readonly number[], labels: Int32Array, turns: number, augRng: Rng): Promise<ClassBatch> {
  const { data } = run;
  const turn = positions.map(() => (turns > 1 ? augRng.int(turns) : 0));
  // always augmented: a classifier over a few photos per individual memorises them otherwise
  const requests = positions.map((k, j) => {
    const aug = randomAugmentation(augRng);
    return data.request(data.split.train[k], { ...aug, rotation: aug.rotation + 90 * turn[j] });
  });
  return loadCropBuffer(data.cache, requests, data.crop).then((images) => ({ images, labels: Int32Array.from(positions, (k, j) => labels[k] * turns + turn[j]), count: positions.length, size: data.crop.size }));
}
