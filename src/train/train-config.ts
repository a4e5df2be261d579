import { existsSync } from 'node:fs';
import path from 'node:path';
import { invalidParameterError } from '../util/errors.js';
import { DEFAULT_CROP } from '../image/crop.js';
import { LOSS_NAMES, type LossName, type MarginSettings } from '../model/native/margin-head.js';
import { MODEL_PRESETS, type ModelPresetName } from '../model/network/presets.js';
import type { ScheduleGroup } from './schedule.js';
import { SCORER_SETTINGS, type ScorerSetting } from './scorer-choice.js';
import { SPLIT_DEFAULTS } from './split.js';

/** Everything a training run is made of; stored as RUN_DIR/config.json so a resume uses the same. */
export interface TrainConfig {
  /** Dataset folder (Kaggle layout or folder per individual). */
  data: string;
  /** The named recipe the settings came from (see recipes.ts), recorded for the reader. */
  recipe?: string;
  /** Architecture preset: `method` (the method's model), `cpu`, `small`, `tiny`. */
  preset: ModelPresetName;
  /** Input side; default the preset's. */
  inputSize?: number;
  /** Schedule preset (`method`, `long`, `short`, `smoke`) or explicit groups. */
  schedule: string | { name?: string; groups: ScheduleGroup[] };
  /** Pairs per step (half matching, half not). The method: 32. */
  batchSize: number;
  /**
   * Pairs per micro-batch: a step's gradients are accumulated over micro-batches of this size and
   * applied once (memory of one micro-batch: how the 512 px model fits wasm's 4 GB). Unset: the
   * whole step at once.
   */
  microBatch?: number;
  /**
   * Data-parallel replicas: copies of the network (this thread's and worker threads', each on
   * single-threaded wasm) that compute the gradients of equal shares of every step, averaged
   * into one optimiser step. BatchNorm normalises each share with its own statistics. 1: none.
   */
  replicas: number;
  valShare: number;
  newShare: number;
  seed: number;
  /** Boxes CSV; default `<data>/bounding_boxes.csv` when it exists, else whole photos. */
  boxes?: string;
  /**
   * Box model for photos the boxes CSV does not cover, when the run learns boxed crops (see
   * {@link trainedWithBoxes}): a folder or `.onnx` file, `none` to crop them whole. Default: the
   * fluke detector shipped with whaleid, as prediction does, so training and prediction crop alike.
   */
  boxModel?: string;
  /** Rotate-180 list; default `<data>/rotate.txt` when it exists. */
  rotate?: string;
  /**
   * Views of an animal that carry different marks, told by a regular expression on the photo's
   * name (e.g. `left|right` for flanks): its first match is the photo's view, and matching pairs
   * are only drawn between photos of the same view. Unset: any two photos of a whale match.
   */
  viewPattern?: string;
  /** Exclude list. */
  exclude?: string;
  /**
   * Pseudo-labels (bootstrapping): an `Image,Id` CSV of test photos to train on as labelled. A
   * photo that already has a label of the user's keeps it: pseudo-labels never overwrite labels.
   */
  pseudoLabels?: string;
  /** Collapse duplicate photos (pHash rule) before training, as the method. */
  dedup: boolean;
  margin: number;
  aspect: number;
  /** Decoded-photo cache folder. */
  cacheDir?: string;
  /**
   * Time budget: at the first schedule-group boundary past it, training ends as if the schedule
   * were done (final validation, model/ written); a warm-up ends at the first epoch past it, and
   * the first pair group always runs (it fits the head). For CPU runs of a fixed length.
   */
  maxMinutes?: number;
  /** Multiplies every learning rate of the schedule (small CPU runs learn faster with more). */
  lrScale: number;
  /** Head start: `keras` (random, as the method) or `distance` (see initHeadAsDistance). */
  headInit: 'keras' | 'distance';
  /** Epochs trained without augmentation first (shortens the early loss plateau). */
  augmentFromEpoch: number;
  /**
   * Epochs of classification warm-up before the pair phase (see warmup.ts): the branch learns to
   * tell every training individual apart (softmax), then the schedule's groups train the pairs.
   * 0: none (the method has none).
   */
  warmupEpochs: number;
  /** Adam's learning rate during the warm-up. */
  warmupLr: number;
  /**
   * 4: each warm-up class comes in 4 turned copies (0, 90, 180, 270 degrees), each its own class
   * (Omniglot's usual class augmentation: a turned character is another character, so the classes
   * quadruple for free); 1: none. Only for marks that never appear turned in real photos.
   */
  warmupRotations: number;
  /**
   * The classification loss of the warm-up: `pair` (the method's pair loss, with a softmax
   * warm-up when warmupEpochs > 0), or a margin loss on the native engine, `arcface` or
   * `subcenter-arcface` (ArcFace over unit features; see model/margin-head.ts), which needs
   * warm-up epochs. The schedule's pair groups follow either way (they fit the pair head).
   */
  loss: LossName;
  /** ArcFace's scale s (the logits are s x cos). */
  arcfaceScale: number;
  /** a of the dynamic margins m = a n^(-1/4) + b (n: the class's training photos; 0: one margin b). */
  arcfaceMarginA: number;
  /** b of the dynamic margins. */
  arcfaceMarginB: number;
  /** Sub-centres per class of `subcenter-arcface`. */
  subcenters: number;
  /**
   * A pretrained TorchScript backbone to fine-tune instead of whaleid's own network (see
   * backbone-training.ts): trained with the margin loss for `warmupEpochs` at `warmupLr`, native
   * engine only; the run's model/ is then a model folder served by libtorch.
   */
  backbone?: string;
  /** With `backbone`: its last that many parameter tensors train (0: all). */
  backboneTrainable: number;
  /**
   * What the exported model scores pairs with: the trained `head` (the method), the calibrated
   * `cosine` of the features, or `auto`: the cosine when it ranks the held-out individuals better
   * (see scorer-choice.ts).
   */
  scorer: ScorerSetting;
}

/** The values {@link TrainConfig.warmupRotations} may take (no turns, or quarter turns). */
export const WARMUP_ROTATIONS: readonly number[] = Object.freeze([1, 4]);

/** Defaults of {@link TrainConfig} (CPU-sized: the `cpu` model and `short` schedule). */
export const TRAIN_DEFAULTS: Omit<TrainConfig, 'data'> = Object.freeze({
  preset: 'cpu',
  schedule: 'short',
  batchSize: 32,
  replicas: 1,
  ...SPLIT_DEFAULTS,
  seed: 0,
  dedup: true,
  margin: DEFAULT_CROP.margin,
  aspect: DEFAULT_CROP.aspect,
  lrScale: 1,
  headInit: 'distance',
  augmentFromEpoch: 2,
  warmupEpochs: 0,
  warmupLr: 1e-3,
  warmupRotations: 1,
  loss: 'pair',
  arcfaceScale: 30,
  // the dynamic margins of the Google Landmark 2020 winners (0.45 n^(-1/4) + 0.05), which the
  // Happywhale 2022 winners took over: 0.5 rad for one photo, 0.275 for 16
  arcfaceMarginA: 0.45,
  arcfaceMarginB: 0.05,
  subcenters: 3,
  backboneTrainable: 0,
  // measured: the cosine ranked held-out individuals better on Omniglot, nyala and synthetic flukes
  // (bench/accuracy.md), and `auto` still keeps the head wherever it does not
  scorer: 'auto',
});

/**
 * Fills defaults and validates a training configuration.
 *
 * @param partial - given settings (CLI flags, config file)
 * @returns the full configuration
 * @throws {@link WhaleidError} naming the first bad field
 * @example
 * resolveTrainConfig({ data: 'catalog', preset: 'tiny', schedule: 'smoke' });
 */
export function resolveTrainConfig(partial: Partial<TrainConfig> & { data: string }): TrainConfig {
  const c = { ...TRAIN_DEFAULTS, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) } as TrainConfig;
  if (!(c.preset in MODEL_PRESETS)) throw invalidParameterError('preset', `one of ${Object.keys(MODEL_PRESETS).join(', ')}`, c.preset);
  if (!Number.isInteger(c.batchSize) || c.batchSize < 2 || c.batchSize % 2) throw invalidParameterError('batchSize', 'an even integer >= 2', c.batchSize);
  if (c.microBatch !== undefined && (!Number.isInteger(c.microBatch) || c.microBatch < 1 || c.microBatch > c.batchSize)) throw invalidParameterError('microBatch', `an integer between 1 and the batch size ${c.batchSize}`, c.microBatch);
  if (!Number.isInteger(c.replicas) || c.replicas < 1 || c.replicas > 64) throw invalidParameterError('replicas', 'an integer between 1 and 64', c.replicas);
  if (c.inputSize !== undefined && (!Number.isInteger(c.inputSize) || c.inputSize < 16)) throw invalidParameterError('inputSize', 'an integer >= 16', c.inputSize);
  for (const k of ['valShare', 'newShare', 'margin'] as const) if (!(c[k] >= 0 && c[k] <= 1)) throw invalidParameterError(k, 'a number between 0 and 1', c[k]);
  if (!(c.aspect > 0)) throw invalidParameterError('aspect', 'a positive number', c.aspect);
  if (c.headInit !== 'keras' && c.headInit !== 'distance') throw invalidParameterError('headInit', "'keras' or 'distance'", c.headInit);
  if (!Number.isInteger(c.augmentFromEpoch) || c.augmentFromEpoch < 0) throw invalidParameterError('augmentFromEpoch', 'a non-negative integer', c.augmentFromEpoch);
  if (!Number.isInteger(c.warmupEpochs) || c.warmupEpochs < 0) throw invalidParameterError('warmupEpochs', 'a non-negative integer', c.warmupEpochs);
  if (!WARMUP_ROTATIONS.includes(c.warmupRotations)) throw invalidParameterError('warmupRotations', WARMUP_ROTATIONS.join(' or '), c.warmupRotations);
  if (!SCORER_SETTINGS.includes(c.scorer)) throw invalidParameterError('scorer', SCORER_SETTINGS.map((x) => `'${x}'`).join(', '), c.scorer);
  checkLoss(c);
  if (!(c.warmupLr > 0)) throw invalidParameterError('warmupLr', 'a positive number', c.warmupLr);
  if (!(c.lrScale > 0)) throw invalidParameterError('lrScale', 'a positive number', c.lrScale);
  if (c.maxMinutes !== undefined && !(c.maxMinutes > 0)) throw invalidParameterError('maxMinutes', 'a positive number', c.maxMinutes);
  if (c.viewPattern !== undefined) viewRegExp(c.viewPattern);
  return c;
}

/** The loss settings: a margin loss trains in the warm-up, so it needs warm-up epochs. */
function checkLoss(c: TrainConfig): void {
  if (!LOSS_NAMES.includes(c.loss)) throw invalidParameterError('--loss', LOSS_NAMES.join(', '), c.loss);
  if (!(c.arcfaceScale > 0 && c.arcfaceScale <= 1000)) throw invalidParameterError('--arcface-scale', 'a number above 0 and at most 1000', c.arcfaceScale);
  for (const [k, flag] of [['arcfaceMarginA', '--arcface-margin-a'], ['arcfaceMarginB', '--arcface-margin-b']] as const) {
    if (!(c[k] >= 0 && c[k] < Math.PI / 2)) throw invalidParameterError(flag, 'a number of radians from 0 to below pi/2', c[k]);
  }
  if (!(c.arcfaceMarginA + c.arcfaceMarginB < Math.PI / 2)) throw invalidParameterError('--arcface-margin-a + --arcface-margin-b', 'below pi/2 (the margin of a class of one photo)', c.arcfaceMarginA + c.arcfaceMarginB);
  if (!Number.isInteger(c.subcenters) || c.subcenters < 1 || c.subcenters > 16) throw invalidParameterError('--subcenters', 'an integer from 1 to 16', c.subcenters);
  if (!Number.isInteger(c.backboneTrainable) || c.backboneTrainable < 0) throw invalidParameterError('--backbone-trainable', 'a non-negative integer (0: every parameter tensor)', c.backboneTrainable);
  if (c.backbone !== undefined && !existsSync(c.backbone)) throw invalidParameterError('--backbone', 'a TorchScript file (torch.jit.trace or torch.jit.script, then .save)', `${c.backbone}, which does not exist`);
  if (c.backbone !== undefined && c.loss === 'pair') throw invalidParameterError('--loss', 'arcface or subcenter-arcface with --backbone (a backbone trains with a margin loss)', c.loss);
  if (c.loss !== 'pair' && c.warmupEpochs === 0) throw invalidParameterError('--loss', `pair, or ${c.loss} with --warmup-epochs N (the margin loss trains the branch in the warm-up)`, `${c.loss} without warm-up epochs`);
}

/**
 * The margin loss settings of a configuration, or null for the pair loss.
 *
 * @param c - the configuration
 * @returns the settings of `--loss arcface|subcenter-arcface`, null for `pair`
 * @example
 * marginSettings({ ...config, loss: 'arcface' })?.scale; // 30
 */
export function marginSettings(c: Pick<TrainConfig, 'loss' | 'arcfaceScale' | 'arcfaceMarginA' | 'arcfaceMarginB' | 'subcenters'>): MarginSettings | null {
  if (c.loss === 'pair') return null;
  return { loss: c.loss, scale: c.arcfaceScale, marginA: c.arcfaceMarginA, marginB: c.arcfaceMarginB, subcenters: c.subcenters };
}

/**
 * Whether a run learns boxed crops: it was given a boxes CSV or its data has `bounding_boxes.csv`.
 * Such runs crop photos without a CSV box with the box model, in training and in prediction.
 *
 * @param config - the run's configuration
 * @returns true for boxed runs
 * @example
 * trainedWithBoxes({ ...config, boxes: 'boxes.csv' }); // true
 */
export function trainedWithBoxes(config: Pick<TrainConfig, 'boxes' | 'data'>): boolean {
  return Boolean(config.boxes) || existsSync(path.join(config.data, 'bounding_boxes.csv'));
}

/**
 * The regular expression of a {@link TrainConfig.viewPattern}.
 *
 * @param pattern - the pattern's source
 * @param name - how the setting is named where it was given (the CLI's `--view-pattern`; a config's `viewPattern`)
 * @returns the expression (case-insensitive)
 * @throws {@link WhaleidError} when it is empty or not a valid regular expression
 * @example
 * viewRegExp('left|right').exec('124_leftphoto.jpg')?.[0]; // 'left'
 */
export function viewRegExp(pattern: string, name = 'viewPattern'): RegExp {
  if (typeof pattern !== 'string' || pattern === '') throw invalidParameterError(name, 'a non-empty regular expression', pattern);
  try {
    return new RegExp(pattern, 'i');
  } catch {
    throw invalidParameterError(name, 'a valid regular expression', pattern);
  }
}
