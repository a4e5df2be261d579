/**
 * Fine-tuning a pretrained TorchScript backbone (`whaleid train --backbone FILE.pt`) on the native
 * engine: the backbone and a margin head (`--loss arcface|subcenter-arcface`, one class per
 * training individual, dynamic margins from its photo count) learn for `--warmup-epochs` epochs
 * at `--warmup-lr`, as the branch's margin warm-up does; there is no pair phase (the backbone is
 * scored by the cosine of its embeddings, as an imported model is).
 *
 * Photos go in as an imported model takes them (image/embedding-input.ts: RGB, ImageNet mean and
 * std, the box with `--margin`, squashed to `--input-size`), so training and identification see
 * the same tensors; they are prepared once (no augmentation: inference takes none either).
 *
 * A checkpoint after every epoch (RUN/checkpoint/: every parameter, buffer, the head and Adam's
 * state as float32, the log so far) lets `--resume` continue bit for bit after a kill: each epoch's
 * order comes from (seed, epoch), libtorch's generator is seeded per step. At the end RUN/model/ is
 * a model folder (embedding.pt, preprocessing.json, manifest.json) that predict, serve and every
 * `--model` take; libtorch runs it.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_PREPROCESSING, embeddingInputBuffer, type Preprocessing } from '../image/embedding-input.js';
import { marginOptions } from '../model/native/margin-head.js';
import { EMBEDDING_TORCHSCRIPT, PREPROCESSING_JSON, writeModelManifest } from '../model/folders/model-folder.js';
import type { AddonNet } from '../model/native/native-addon.js';
import { backboneFeatures, createBackboneNet, readBackboneState, writeBackboneState } from '../model/native/native-backbone.js';
import { initialMarginKernel, MARGIN_KERNEL } from '../model/native/margin-head.js';
import { runPaths } from '../model/folders/run-folder.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { WhaleidError } from '../util/errors.js';
import { createRng } from '../util/random.js';
import { readBackboneCheckpoint, writeBackboneCheckpoint } from './backbone-checkpoint.js';
import { writeLog } from './checkpoint.js';
import { marginSettings, type TrainConfig } from './train-config.js';
import { prepareTrainingData, type TrainingData } from './training-data.js';
import type { TrainOptions } from './training-run.js';
import type { EngineSelection } from '../model/training-engines.js';

/** What a backbone run returns (the fields of a pair run's result that apply). */
export interface BackboneResult {
  readonly runDir: string;
  readonly epochs: number;
  readonly seconds: number;
  readonly stopped: boolean;
  readonly skipped: number;
}

/** The preprocessing of a backbone run: an ImageNet backbone's, at the run's input size and crop margin. */
export function backbonePreprocessing(config: TrainConfig): Preprocessing {
  return { ...DEFAULT_PREPROCESSING, mean: [...DEFAULT_PREPROCESSING.mean], std: [...DEFAULT_PREPROCESSING.std], inputSize: config.inputSize ?? DEFAULT_PREPROCESSING.inputSize, margin: config.margin };
}

/**
 * Trains (or resumes) a backbone run.
 *
 * @param runDir - the run folder (config.json written)
 * @param config - the run's configuration (`backbone` set)
 * @param resume - continue from RUN/checkpoint/
 * @param options - messages, steps, stop signal
 * @param engine - the run's engine (resolved once, by the trainer)
 * @returns epochs done, time, whether it was stopped
 * @throws {@link WhaleidError} without the addon, for a backbone libtorch cannot load, or fewer than 2 individuals
 * @example
 * await runBackboneTraining('runs/b', config, false, {}, resolveEngine('native', { device: 'cpu' }));
 */
export async function runBackboneTraining(runDir: string, config: TrainConfig, resume: boolean, options: TrainOptions, engine: EngineSelection): Promise<BackboneResult> {
  const started = Date.now();
  const say = options.onMessage ?? ((): void => {});
  const settings = marginSettings(config);
  if (!config.backbone || !settings) throw new WhaleidError('--backbone: give --loss arcface or subcenter-arcface and --warmup-epochs N');
  const choice = engine.traits.backbones ? engine.native : undefined;
  if (!choice) throw new WhaleidError(`--backbone: a TorchScript backbone trains on the native engine only, not on ${engine.engine}`);
  const resumed = resume ? readBackboneCheckpoint(runDir) : null;
  const data = await prepareTrainingData(config, runDir, say);
  const pre = backbonePreprocessing(config);
  const { classOf, counts } = classesOf(data);
  const probe = createBackboneNet(config.backbone, { choice });
  const features = await backboneFeatures(probe, pre.inputSize).finally(() => probe.dispose());
  const margin = marginOptions(settings, counts, features);
  const net = createBackboneNet(config.backbone, { choice, margin, trainable: config.backboneTrainable, seed: config.seed });
  try {
    net.setLearningRate(config.warmupLr);
    const history: Record<string, unknown>[] = resumed ? [...resumed.history] : [];
    if (resumed) {
      writeBackboneState(net, resumed.state);
      say(`resuming after ${resumed.epochsDone} epochs`);
    } else {
      net.setWeights([{ name: MARGIN_KERNEL, values: initialMarginKernel(margin, config.seed) }]);
    }
    say(`backbone ${config.backbone}: ${features} features, ${config.warmupEpochs} epochs of ${config.loss} over ${data.split.train.length} photos of ${counts.length} individuals (${choice.device}, ${choice.threads} threads, lr ${config.warmupLr})`);
    const inputs = await embeddingInputBuffer(data.split.train.map((i) => data.request(i)), pre);
    const epochs = await trainEpochs({ runDir, config, net, inputs, classOf, pre, history, first: resumed?.epochsDone ?? 0, started, options });
    const stopped = epochs < config.warmupEpochs;
    if (!stopped) await writeBackboneModel(runDir, net, pre, features);
    return { runDir, epochs, seconds: (Date.now() - started) / 1000, stopped, skipped: data.skipped };
  } finally {
    net.dispose();
  }
}

/** One class per training individual (position in split.train -> class) and each class's photos. */
function classesOf(data: TrainingData): { classOf: Int32Array; counts: number[] } {
  const names = new Map<string, number>();
  const classOf = Int32Array.from(data.split.train, (i) => {
    const id = data.ids[i];
    if (!names.has(id)) names.set(id, names.size);
    return names.get(id)!;
  });
  const counts = new Array<number>(names.size).fill(0);
  for (const c of classOf) counts[c]++;
  return { classOf, counts };
}

/** The epochs from `first` on, a checkpoint after each; returns the epochs done. */
async function trainEpochs(r: { runDir: string; config: TrainConfig; net: AddonNet; inputs: Float32Array; classOf: Int32Array; pre: Preprocessing; history: Record<string, unknown>[]; first: number; started: number; options: TrainOptions }): Promise<number> {
  const { config, net, inputs, classOf, pre } = r;
  const per = 3 * pre.inputSize * pre.inputSize;
  const n = classOf.length;
  const perStep = 2 * config.batchSize;
  const steps = Math.ceil(n / perStep);
  const rng = createRng(config.seed).fork('backbone');
  for (let e = r.first; e < config.warmupEpochs; e++) {
    // the order from (seed, epoch) alone: a resumed run draws what the whole run drew
    const order = rng.fork(`order-${e}`).shuffle(Array.from({ length: n }, (_, k) => k));
    let lossSum = 0;
    for (let s = 0; s < steps; s++) {
      if (r.options.signal?.aborted) return e;
      const part = order.slice(Math.round((s * n) / steps), Math.round(((s + 1) * n) / steps));
      const batch = new Float32Array(part.length * per);
      part.forEach((k, j) => batch.set(inputs.subarray(k * per, (k + 1) * per), j * per));
      const loss = await net.accumulate(batch, new Float32Array(0), Float32Array.from(part, (k) => classOf[k]), part.length, pre.inputSize, 1);
      await net.applyAdam();
      lossSum += loss;
      r.options.onStep?.(`backbone epoch ${e + 1} loss ${loss.toFixed(4)}`);
    }
    r.history.push({ kind: 'backbone', epoch: e + 1, loss: lossSum / steps, seconds: (Date.now() - r.started) / 1000 });
    await writeLog(r.runDir, r.history);
    await writeBackboneCheckpoint(r.runDir, { epochsDone: e + 1, history: r.history, state: readBackboneState(net) });
    r.options.onCheckpoint?.(0, e + 1);
  }
  return config.warmupEpochs;
}

/** RUN/model/ as a model folder: the fine-tuned backbone as TorchScript, its preprocessing, the manifest. */
async function writeBackboneModel(runDir: string, net: AddonNet, pre: Preprocessing, features: number): Promise<void> {
  const dir = runPaths(runDir).model;
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, EMBEDDING_TORCHSCRIPT);
  const tmp = `${file}.tmp-${process.pid}`;
  net.save(tmp);
  await fs.rename(tmp, file);
  await writeFileAtomic(path.join(dir, PREPROCESSING_JSON), JSON.stringify(pre, null, 2));
  await writeModelManifest(dir, { inputSize: pre.inputSize, features });
  if (!existsSync(file)) throw new WhaleidError(`${file}: not written`);
}
