import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadUsableDataset, type LabelledPhoto } from '../data/dataset.js';
import { readLabels } from '../data/labels.js';
import { readPhotoList } from '../image/photo-lists.js';
import { createImageCache, type ImageCache } from '../image/image-cache.js';
import { decodeSideFor, type CropRequest, type CropSettings } from '../image/crop.js';
import { randomAugmentation } from '../image/affine.js';
import { loadPhotoExtras, type PhotoExtras } from '../image/photo-extras.js';
import { findDuplicates } from '../image/duplicates.js';
import { createSiamese, rebuildSiamese, MODEL_PRESETS, type Siamese } from '../model/siamese.js';
import { readHeadWeights, initHeadAsDistance } from '../model/head.js';
import { saveSiamese } from '../model/model-io.js';
import { exportSiameseOnnx } from '../model/onnx-export.js';
import { createRng, type Rng } from '../util/random.js';
import { WhaleidError } from '../util/errors.js';
import { hasCheckpoint, runPaths, writeRunConfig, writeRunValidation } from '../model/run-folder.js';
import { resolveSchedule, totalEpochs, type Schedule } from './schedule.js';
import { splitByIndividuals, type TrainValidationSplit } from './split.js';
import { computeFeaturesOnnx, loadBatch } from './features.js';
import { createTrainingEngine } from '../model/training-engines.js';
import type { PairBatch, TrainingEngine } from '../model/training-engine.js';
import { loadCropBuffer } from '../image/crop.js';
import { scoreAllPairsParallel } from './score-matrix.js';
import { createPairMiner } from './pairs.js';
import { evaluateValidation, type ValidationResult } from './validation.js';
import { saveCheckpoint, loadCheckpoint, writeLog, type TrainState } from './checkpoint.js';
import { writeTrainingReport } from './report.js';
import { buildReportGallery } from './report-gallery.js';
import { readStoredTrainConfig, resolveTrainConfig, trainedWithBoxes, viewRegExp, type TrainConfig } from './train-config.js';
import { fillMissingBoxes } from '../boxes/box-fallback.js';

/** Callbacks of a run: progress display and messages. */
export interface TrainHooks {
  /** Total steps known: called once at start (and after a resume with the steps already done). */
  onStart?: (totalSteps: number, doneSteps: number) => void;
  /** After each training step, with a short status (loss, last validation). */
  onStep?: (status: string) => void;
  /** A line for the user (stage changes, validation results). */
  onMessage?: (line: string) => void;
  /** Stop after this many schedule groups (tests of resume). */
  stopAfterGroups?: number;
}

/** The outcome of a run. */
export interface TrainResult {
  runDir: string;
  validation: ValidationResult | null;
  epochs: number;
  seconds: number;
}

interface Prepared {
  photos: LabelledPhoto[];
  ids: string[];
  extras: PhotoExtras;
  split: TrainValidationSplit;
}

async function prepareData(config: TrainConfig, cache: ImageCache, runDir: string, say: (l: string) => void): Promise<Prepared> {
  const ds = await loadUsableDataset(config.data, say);
  let extras = await loadPhotoExtras(ds.root, { boxes: config.boxes, rotate: config.rotate });
  const exclude = config.exclude ? await readPhotoList(config.exclude) : new Set<string>();
  let photos = ds.train.filter((p) => !exclude.has(p.image));
  if (config.pseudoLabels) {
    const labelled = new Set(ds.train.map((p) => p.image));
    const testFile = new Map(ds.test.map((p) => [p.image, p.file]));
    let added = 0;
    for (const row of await readLabels(config.pseudoLabels)) {
      const file = testFile.get(row.image);
      if (labelled.has(row.image) || !file || exclude.has(row.image)) continue; // the user's labels win
      photos.push({ image: row.image, id: row.id, file });
      added++;
    }
    say(`pseudo-labels: ${added} test photos added from ${config.pseudoLabels}`);
  }
  if (config.dedup) {
    const { groups, failures } = await findDuplicates(photos.map((p) => ({ key: p.image, file: p.file })), cache);
    const drop = new Set(groups.flatMap((g) => g.members.filter((m) => m !== g.preferred)));
    const bad = new Set(failures.map((f) => f.key));
    for (const f of failures) say(`error: ${f.message} (left out)`);
    photos = photos.filter((p) => !drop.has(p.image) && !bad.has(p.image));
    say(`duplicates: ${groups.length} groups, ${drop.size} photos collapsed`);
  }
  if (trainedWithBoxes(config)) {
    // photos without a CSV box get the box model's, as prediction gives them: same crops in both
    const filled = await fillMissingBoxes(photos, extras.of, { boxModel: config.boxModel, cacheFile: runPaths(runDir).predictedBoxes, cacheDir: config.cacheDir, onMessage: say });
    extras = { ...extras, of: filled.of };
  }
  const ids = photos.map((p) => p.id);
  const split = splitByIndividuals(ids, { valShare: config.valShare, newShare: config.newShare, seed: config.seed });
  if (split.train.length < 2) throw new WhaleidError(`${config.data}: fewer than 2 training photos of whales with 2+ photos; nothing to learn from`);
  return { photos, ids, extras, split };
}

/**
 * Trains a Siamese network with the method's pair mining and schedule, writing RUN_DIR:
 * `config.json`, `log.jsonl` (one record per epoch and per validation), `checkpoint/` (at every
 * schedule group), `model/` (the final network) and `report.html`. With `resume`, training
 * continues from the last checkpoint with the stored configuration and gives the same result as
 * an uninterrupted run: all randomness of a group derives from (seed, group number), and the
 * checkpoint holds the weights, BatchNorm statistics and Adam's moments.
 *
 * @param runDir - the run folder
 * @param partial - configuration (ignored on resume: the stored one is used)
 * @param options - resume flag and hooks
 * @returns where the run is, its last validation and its duration
 * @throws {@link WhaleidError} for a bad dataset or configuration, or a resume without a run
 * @example
 * await trainSiamese('runs/demo', { data: 'catalog', preset: 'tiny', schedule: 'short' });
 */
export async function trainSiamese(runDir: string, partial: Partial<TrainConfig> & { data: string }, options: { resume?: boolean } & TrainHooks = {}): Promise<TrainResult> {
  const t0 = Date.now();
  const say = options.onMessage ?? (() => {});
  const paths = runPaths(runDir);
  let config: TrainConfig;
  if (options.resume) {
    const stored = readStoredTrainConfig(runDir);
    if (!stored) throw new WhaleidError(`${runDir}: no training run to resume (config.json missing)`);
    config = stored;
  } else {
    config = resolveTrainConfig(partial);
    if (hasCheckpoint(runDir)) throw new WhaleidError(`${runDir}: a run is already there; use --resume to continue it or choose another --out`);
    await fs.mkdir(runDir, { recursive: true });
    await writeRunConfig(runDir, config);
  }
  const schedule: Schedule = resolveSchedule(config.schedule);
  const presetSize = createSiameseSize(config);
  const crop: CropSettings = { size: presetSize, margin: config.margin, aspect: config.aspect };
  const cache = createImageCache({ dir: config.cacheDir, maxSide: decodeSideFor(presetSize) });
  const data = await prepareData(config, cache, runDir, say);
  const { photos, ids, split } = data;
  say(`${split.train.length} training photos of ${new Set(split.train.map((i) => ids[i])).size} whales; ${split.queries.length} validation queries against ${split.gallery.length} known photos`);

  let siamese: Siamese;
  let state: TrainState;
  const resumed = options.resume ? await loadCheckpoint(runDir, say) : null;
  if (resumed) {
    siamese = resumed.siamese;
    state = resumed.state;
    say(`resuming after ${state.epochsDone} epochs (${state.groupsDone} groups)`);
  } else {
    siamese = createSiamese({ preset: config.preset, inputSize: config.inputSize, seed: config.seed, lr: schedule.groups[0].lr * config.lrScale });
    state = { groupsDone: 0, epochsDone: 0, history: [] };
  }
  await writeLog(runDir, state.history);

  const request = (i: number, aug?: ReturnType<typeof randomAugmentation>): CropRequest => {
    const p = photos[i];
    return { file: p.file, ...data.extras.of(p.image), augmentation: aug };
  };
  if (!resumed && config.headInit === 'distance') {
    // mean |a - b| of random pairs, with batch statistics as in training (the stored ones are still empty)
    const sample = split.train.slice(0, Math.min(32, split.train.length - (split.train.length % 2)));
    const x = await loadBatch(cache, sample.map((i) => request(i)), crop);
    const d = tf.tidy(() => {
      const f = siamese.branch.apply(x, { training: true }) as tf.Tensor;
      const h = sample.length / 2;
      return f.slice([0, 0], [h, -1]).sub(f.slice([h, 0], [h, -1])).abs().mean().dataSync()[0];
    });
    x.dispose();
    initHeadAsDistance(siamese.head, d);
  }
  const evalPhotos = [...new Set([...split.gallery, ...split.queries.map((q) => q.index)])].sort((a, b) => a - b);
  const rowOf = new Map(evalPhotos.map((p, r) => [p, r]));
  const trainWhale = new Map<string, number>();
  const whaleOf = Int32Array.from(split.train, (i) => {
    if (!trainWhale.has(ids[i])) trainWhale.set(ids[i], trainWhale.size);
    return trainWhale.get(ids[i])!;
  });
  // views (e.g. flanks): matching pairs only within a whale's view; names without a match share one view
  const viewExp = config.viewPattern !== undefined ? viewRegExp(config.viewPattern) : null;
  const viewIndex = new Map<string, number>();
  const viewOf = viewExp
    ? Int32Array.from(split.train, (i) => {
        const v = (viewExp.exec(photos[i].image)?.[0] ?? '').toLowerCase();
        if (!viewIndex.has(v)) viewIndex.set(v, viewIndex.size);
        return viewIndex.get(v)!;
      })
    : undefined;
  if (viewExp) say(`views by /${config.viewPattern}/: ${[...viewIndex.keys()].map((v) => v || '(none)').join(', ')}`);
  const stepsPerEpoch = Math.ceil((2 * split.train.length) / config.batchSize);
  const doneSteps = state.epochsDone * stepsPerEpoch;
  options.onStart?.(totalEpochs(schedule) * stepsPerEpoch, doneSteps);
  let lastVal: ValidationResult | null = null;
  const record = async (r: Record<string, unknown>): Promise<void> => {
    state.history.push(r);
    await fs.appendFile(paths.log, JSON.stringify(r) + '\n');
  };
  const validate = async (): Promise<Float32Array> => {
    // features for the score matrix and validation through ONNX Runtime: 3-7x faster than tfjs-wasm
    const feats = await computeFeaturesOnnx(siamese.branch, cache, evalPhotos.map((i) => request(i)), crop);
    if (split.queries.length > 0) {
      lastVal = evaluateValidation(feats, rowOf, ids, split, readHeadWeights(siamese.head));
      await record({ kind: 'validation', epoch: state.epochsDone, map5: lastVal.map5, threshold: lastVal.threshold, top1: lastVal.top1, closedTop1: lastVal.closedTop1, queries: lastVal.queries, newWhaleBaseline: lastVal.newWhaleBaseline, chance: lastVal.chance, curve: lastVal.curve.map((c) => [c.threshold, c.map5]) });
      say(`epoch ${state.epochsDone}: validation MAP@5 ${lastVal.map5.toFixed(4)} (threshold ${lastVal.threshold}), top-1 ${lastVal.top1.toFixed(3)}, closed-set top-1 ${lastVal.closedTop1.toFixed(3)}`);
    }
    return feats;
  };

  let outOfTime = false;
  // the engine trains the current network; made anew when it is rebuilt
  let engine: TrainingEngine | null = null;
  try {
    for (let g = state.groupsDone; g < schedule.groups.length; g++) {
      if (options.stopAfterGroups !== undefined && g >= options.stopAfterGroups) break;
      if (config.maxMinutes !== undefined && (Date.now() - t0) / 60000 >= config.maxMinutes) {
        say(`time budget of ${config.maxMinutes} min reached after ${state.epochsDone} epochs: finishing here`);
        outOfTime = true;
        break;
      }
      const group = schedule.groups[g];
      const rng: Rng = createRng(config.seed).fork(`group-${g}`);
      if (group.rebuildL2 !== undefined) {
        await engine?.writeTo(siamese);
        await engine?.dispose();
        engine = null;
        const next = rebuildSiamese(siamese, { l2: group.rebuildL2, lr: group.lr * config.lrScale });
        siamese.model.dispose();
        siamese = next;
        say(`rebuilt the model with L2 ${group.rebuildL2}`);
      }
      engine ??= await createTrainingEngine(siamese, { engine: 'wasm', replicas: config.replicas, microBatch: config.microBatch });
      engine.setLearningRate(group.lr * config.lrScale);
      await engine.writeTo(siamese);
      const feats = await validate();
      const F = siamese.branch.outputs[0].shape[1] as number;
      const trainFeats = new Float32Array(split.train.length * F);
      split.train.forEach((p, k) => trainFeats.set(feats.subarray(rowOf.get(p)! * F, (rowOf.get(p)! + 1) * F), k * F));
      const score = await scoreAllPairsParallel(trainFeats, split.train.length, readHeadWeights(siamese.head));
      const nextEpoch = createPairMiner(score, whaleOf, group.K, rng.fork('mine'), viewOf);
      for (let e = 0; e < group.epochs; e++) {
        const { matches, unmatches } = nextEpoch();
        const augRng = rng.fork(`augment-${e}`);
        const pairs: [number, number, number][] = [];
        for (let k = 0; k < matches.length; k++) {
          pairs.push([...matches[k], 1]);
          if (unmatches.length) pairs.push([...unmatches[k % unmatches.length], 0]);
        }
        let lossSum = 0;
        let steps = 0;
        for (let s = 0; s < pairs.length; s += config.batchSize) {
          const batch = pairs.slice(s, s + config.batchSize);
          const augment = state.epochsDone >= config.augmentFromEpoch;
          const reqA = batch.map(([a]) => request(split.train[a], augment ? randomAugmentation(augRng) : undefined));
          const reqB = batch.map(([, b]) => request(split.train[b], augment ? randomAugmentation(augRng) : undefined));
          // pairs [lo, hi) of the step as arrays
          const load = async (lo: number, hi: number): Promise<PairBatch> => {
            const [a, b] = await Promise.all([loadCropBuffer(cache, reqA.slice(lo, hi), crop), loadCropBuffer(cache, reqB.slice(lo, hi), crop)]);
            return { a, b, labels: Float32Array.from(batch.slice(lo, hi), (p) => p[2]), count: hi - lo, size: crop.size };
          };
          const lastLoss = await engine.step(load, batch.length);
          lossSum += lastLoss;
          steps++;
          const v = lastVal as ValidationResult | null;
          options.onStep?.(`epoch ${state.epochsDone + 1} loss ${lastLoss.toFixed(4)}${v ? ` val MAP@5 ${v.map5.toFixed(3)}` : ''}`);
        }
        state.epochsDone++;
        await record({ kind: 'epoch', epoch: state.epochsDone, group: g, loss: lossSum / Math.max(1, steps), lr: group.lr * config.lrScale, K: group.K, pairs: pairs.length, seconds: (Date.now() - t0) / 1000 });
      }
      state.groupsDone = g + 1;
      await engine.writeTo(siamese);
      await saveCheckpoint(runDir, siamese, state);
    }
  } finally {
    await engine?.dispose();
  }
  const finished = state.groupsDone >= schedule.groups.length || outOfTime;
  if (finished) {
    await validate();
    await saveCheckpoint(runDir, siamese, state);
    await saveSiamese(siamese, paths.model);
    // Prediction runs on ONNX Runtime (several times faster than tfjs-wasm on this CPU).
    await exportSiameseOnnx(siamese, paths.onnx);
    const v = lastVal as ValidationResult | null;
    if (v) await writeRunValidation(runDir, v);
  }
  const finalVal = lastVal as ValidationResult | null;
  // the gallery shows the final model's answers: only once the run is finished
  const gallery = finished && finalVal ? await buildReportGallery(finalVal.examples, (i) => request(i), (i) => photos[i].image, cache, crop) : undefined;
  await writeTrainingReport(runDir, state.history, { title: `whaleid training: ${path.basename(runDir)}`, config, gallery });
  siamese.model.dispose();
  return { runDir, validation: lastVal, epochs: state.epochsDone, seconds: (Date.now() - t0) / 1000 };
}

function createSiameseSize(config: TrainConfig): number {
  return config.inputSize ?? MODEL_PRESETS[config.preset].inputSize;
}
