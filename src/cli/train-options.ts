/**
 * The training options, declared once for every command that trains (`train`, `kaggle`,
 * `bootstrap`, `demo`): each row is a {@link TrainConfig} field, so the values go to the trainer
 * as they are, and adding a training option is one row here (and its field in TrainConfig).
 * Preset, schedule and recipe names are listed from their tables; the defaults shown are
 * {@link TRAIN_DEFAULTS}, applied by the trainer (a recipe may set any of them).
 */
import { MODEL_PRESETS, featureCount, type ModelPresetName } from '../model/network/presets.js';
import { SCHEDULE_PRESETS, resolveSchedule, totalEpochs, type Schedule } from '../train/schedule.js';
import { TRAIN_RECIPES, applyRecipe } from '../train/recipes.js';
import { SCORER_SETTINGS } from '../train/scorer-choice.js';
import { LOSS_NAMES } from '../model/native/margin-head.js';
import { TRAIN_DEFAULTS, viewRegExp, WARMUP_ROTATIONS, type TrainConfig } from '../train/train-config.js';
import { invalidParameterError } from '../util/errors.js';
import { choice, int, num, switchOff, text, type Field } from './option-field.js';
import { common } from './common-options.js';
import type { OptionValues } from './option-table.js';
import type { EngineChoice } from '../pipeline/train-run.js';

const isPresetName = (name: string): name is ModelPresetName => Object.hasOwn(MODEL_PRESETS, name);
const presetNames = (): ModelPresetName[] => Object.keys(MODEL_PRESETS).filter(isPresetName);
const aboutPreset = (name: ModelPresetName): string => `${MODEL_PRESETS[name].inputSize} px, ${featureCount(MODEL_PRESETS[name])} features`;
const aboutSchedule = (name: string): string => `${totalEpochs(SCHEDULE_PRESETS[name])} epochs`;
const shown = (v: unknown): string => String(v);

/** `--schedule`: a named schedule on the command line; a config file may also give `{ name?, groups }`. */
function scheduleField(): Field<string | Schedule | undefined> {
  const named = choice('--schedule <name>', 'training schedule', () => Object.keys(SCHEDULE_PRESETS), aboutSchedule);
  const fromJson = (raw: unknown): string | Schedule => {
    if (typeof raw === 'string') return String(named.spec.parse(raw));
    if (typeof raw === 'object' && raw !== null && 'groups' in raw && Array.isArray(raw.groups)) {
      return resolveSchedule({ name: 'name' in raw && typeof raw.name === 'string' ? raw.name : undefined, groups: raw.groups });
    }
    throw invalidParameterError('--schedule', `a schedule name (${Object.keys(SCHEDULE_PRESETS).join(', ')}) or { "groups": [...] }`, raw);
  };
  return named.withJson(fromJson);
}

/** Training options that are fields of {@link TrainConfig}, by that field's name. */
export const TRAIN_OPTIONS = {
  preset: choice('--preset <name>', 'model', presetNames, aboutPreset).showingDefault(TRAIN_DEFAULTS.preset),
  inputSize: int('--input-size <px>', "input side (default: the preset's)", 16, 1024),
  schedule: scheduleField().showingDefault(shown(TRAIN_DEFAULTS.schedule)),
  batchSize: int('--batch-size <n>', 'pairs per step (the method: 32)', 2, 1024).showingDefault(shown(TRAIN_DEFAULTS.batchSize)),
  microBatch: int('--micro-batch <n>', 'pairs per micro-batch: gradients accumulated, applied once per step (less memory: 512 px, batch 32 fits with 2)', 1, 1024),
  replicas: int('--replicas <n>', "data-parallel copies of the network, one per core, each on single-threaded wasm: every kernel of a step runs in parallel, not only the threaded build's convolutions (BatchNorm per share of the batch)", 1, 64).showingDefault(shown(TRAIN_DEFAULTS.replicas)),
  valShare: num('--val-share <x>', 'share of individuals with 2+ photos held out', 0, 1).showingDefault(shown(TRAIN_DEFAULTS.valShare)),
  boxes: common.boxes,
  boxModel: text('--box-model <dir>', 'box model for photos the boxes CSV lacks, in boxed runs (default: the shipped fluke detector; none: crop them whole)').asInput('folder'),
  rotate: common.rotate,
  exclude: common.exclude,
  viewPattern: text('--view-pattern <regex>', 'views with different marks, from the photo name (e.g. left|right for flanks): matching pairs only within a view').checkedBy((v) => void viewRegExp(v, '--view-pattern')),
  dedup: switchOff('--no-dedup', 'keep duplicate photos'),
  margin: num('--margin <x>', 'share of the box added on each side', 0, 1).showingDefault(shown(TRAIN_DEFAULTS.margin)),
  aspect: num('--aspect <x>', 'width/height of the cropped region (flukes: 2.15)', 0.1, 10).showingDefault(shown(TRAIN_DEFAULTS.aspect)),
  lrScale: num('--lr-scale <x>', "multiply the schedule's learning rates", 1e-6, 1e3).showingDefault(shown(TRAIN_DEFAULTS.lrScale)),
  headInit: choice('--head-init <how>', 'head start', () => ['distance', 'keras'] as const, (h) => (h === 'distance' ? 'fast on CPU' : "the method's random init")).showingDefault(TRAIN_DEFAULTS.headInit),
  augmentFromEpoch: int('--augment-from <epoch>', 'epochs without augmentation first', 0, 100000).showingDefault(shown(TRAIN_DEFAULTS.augmentFromEpoch)),
  warmupEpochs: int('--warmup-epochs <n>', 'epochs of classification warm-up (softmax over the training individuals) before the pair phase', 0, 100000).showingDefault(shown(TRAIN_DEFAULTS.warmupEpochs)),
  warmupRotations: int('--warmup-rotations <n>', 'warm-up classes also turned by 90, 180 and 270 degrees, each a class of its own (4; characters) or not (1)', 1, 4)
    .checkedBy((n) => {
      if (!WARMUP_ROTATIONS.includes(n)) throw invalidParameterError('--warmup-rotations', WARMUP_ROTATIONS.join(' or '), n);
    })
    .showingDefault(shown(TRAIN_DEFAULTS.warmupRotations)),
  warmupLr: num('--warmup-lr <x>', "the warm-up's learning rate", 1e-8, 1).showingDefault(shown(TRAIN_DEFAULTS.warmupLr)),
  loss: choice('--loss <name>', 'the warm-up\'s classification loss (native engine for the margin losses, which need --warmup-epochs)', () => LOSS_NAMES, (l) => ({ pair: 'the method (softmax warm-up, if any)', arcface: 'ArcFace, dynamic margins', 'subcenter-arcface': 'sub-center ArcFace, dynamic margins' })[l]).showingDefault(TRAIN_DEFAULTS.loss),
  arcfaceScale: num('--arcface-scale <s>', 'ArcFace: logits are s x cos', 1e-3, 1000).showingDefault(shown(TRAIN_DEFAULTS.arcfaceScale)),
  arcfaceMarginA: num('--arcface-margin-a <a>', 'ArcFace: margin a n^(-1/4) + b for a class of n photos (radians)', 0, 1.5).showingDefault(shown(TRAIN_DEFAULTS.arcfaceMarginA)),
  arcfaceMarginB: num('--arcface-margin-b <b>', 'ArcFace: the margin floor b (radians)', 0, 1.5).showingDefault(shown(TRAIN_DEFAULTS.arcfaceMarginB)),
  subcenters: int('--subcenters <k>', 'sub-center ArcFace: centres per class, the best one counts', 1, 16).showingDefault(shown(TRAIN_DEFAULTS.subcenters)),
  backbone: text('--backbone <file.pt>', 'fine-tune a pretrained TorchScript backbone (torch.jit.trace/script of a timm or torchvision model) with --loss arcface|subcenter-arcface for --warmup-epochs on the native engine; RUN/model/ is then a model folder').asInput('file'),
  backboneTrainable: int('--backbone-trainable <n>', "with --backbone: train only its last n parameter tensors (0: all)", 0, 100000).showingDefault(shown(TRAIN_DEFAULTS.backboneTrainable)),
  scorer: choice('--scorer <how>', 'what the exported model scores pairs with', () => SCORER_SETTINGS, (s) => ({ head: 'the trained head (the method)', cosine: 'the cosine of the features, calibrated on validation', auto: 'the cosine when it ranks held-out individuals better' })[s]).showingDefault(TRAIN_DEFAULTS.scorer),
  maxMinutes: num('--max-minutes <m>', 'time budget: finish at the first group boundary past it (a warm-up at the first epoch past it; the first pair group always runs)', 0.01, 1e6),
  cacheDir: common.cache,
  // no default here: a bootstrap keeps its base run's seed unless one is given
  seed: int('--seed <n>', 'random seed; the same seed gives the same result').showingDefault(shown(TRAIN_DEFAULTS.seed)),
};

// A row whose key is not a TrainConfig field does not compile: the values go to the trainer as they are.
const _onlyConfigFields: Record<Exclude<keyof typeof TRAIN_OPTIONS, keyof TrainConfig>, never> = {};
void _onlyConfigFields;

/** `--recipe`: a measured CPU recipe, listed from {@link TRAIN_RECIPES}. */
export const RECIPE_OPTION = {
  recipe: choice('--recipe <name>', 'a measured CPU training recipe (figures: README, "Recipes"); flags given override it', () => Object.keys(TRAIN_RECIPES), (r) => TRAIN_RECIPES[r].brief),
};

const ENGINE_ABOUT = {
  auto: 'native when built, else wasm',
  native: 'libtorch through the compiled addon, CPU or CUDA',
  wasm: 'tfjs wasm, always available',
} as const;

const DEVICE_ABOUT = {
  auto: 'cuda when the libtorch has CUDA and sees a GPU',
  cpu: "libtorch's CPU kernels (oneDNN)",
  cuda: 'the first GPU, channels_last',
} as const;

/**
 * Options of the training engine (how, not what, is trained). Their defaults are applied by the
 * pipeline, not here: a resume restores the engine its run was started on, so it must tell a
 * flag given from a default (pipeline/run-engine.ts).
 */
export const ENGINE_OPTIONS = {
  engine: choice('--engine <name>', 'training engine', () => ['auto', 'native', 'wasm'] as const, (e) => ENGINE_ABOUT[e]).showingDefault('auto'),
  device: choice('--device <name>', "the native engine's device", () => ['auto', 'cpu', 'cuda'] as const, (d) => DEVICE_ABOUT[d]).showingDefault('auto'),
  precision: choice('--precision <name>', "the native engine's arithmetic", () => ['fp32', 'bf16'] as const, (p) => (p === 'bf16' ? "PyTorch's autocast: convolutions and matmuls in bf16, BatchNorm, losses and weights in float32 (fast on CPUs with AVX512-BF16 or AMX, and on CUDA)" : 'float32')).showingDefault('fp32'),
  backend: choice('--backend <name>', 'tfjs backend for training (the wasm engine)', () => ['wasm', 'cpu'] as const).showingDefault('wasm'),
  threads: int('--threads <n>', "threads for training: the native engine's, or wasm's (its threaded build caps at 8; 1 = the single-threaded build, e.g. for two runs side by side)", 1, 256).showingDefault('the cores'),
};

// Likewise an engine row whose key is not an EngineChoice field does not compile.
const _onlyEngineFields: Record<Exclude<keyof typeof ENGINE_OPTIONS, keyof EngineChoice>, never> = {};
void _onlyEngineFields;

/** Every training option of `whaleid train`, as taken by `kaggle`, `bootstrap` and `demo` too. */
export const ALL_TRAIN_OPTIONS = { ...RECIPE_OPTION, ...TRAIN_OPTIONS, ...ENGINE_OPTIONS };

/** The values of {@link TRAIN_OPTIONS}: settings given for a {@link TrainConfig} (undefined: not given). */
export type TrainSettings = OptionValues<typeof TRAIN_OPTIONS>;

/** The values of {@link ALL_TRAIN_OPTIONS}. */
export type AllTrainValues = OptionValues<typeof ALL_TRAIN_OPTIONS>;

/**
 * The {@link TrainConfig} settings among a command's values, on top of the recipe when one is
 * given (flags given win over the recipe's values).
 *
 * @param values - the command's values (holding every row of {@link ALL_TRAIN_OPTIONS})
 * @returns the settings, undefined where neither given nor set by the recipe
 * @example
 * const settings = trainSettings(values); // { preset: 'tiny', schedule: undefined, ... }
 */
export function trainSettings(values: AllTrainValues): TrainSettings & { recipe?: string } {
  const given: Partial<Record<keyof TrainSettings, unknown>> = {};
  for (const key of Object.keys(TRAIN_OPTIONS) as (keyof TrainSettings)[]) given[key] = values[key];
  const settings = given as TrainSettings;
  return values.recipe ? applyRecipe(values.recipe, settings) : settings;
}

/**
 * The training engine chosen by a command's values (the pipeline decides the threads it starts
 * with, from the run's replicas).
 *
 * @param values - the command's values
 * @returns the engine choice
 * @example
 * await trainRun(runDir, settings, { engine: engineChoice(values), report });
 */
export function engineChoice(values: OptionValues<typeof ENGINE_OPTIONS>): EngineChoice {
  // every row of ENGINE_OPTIONS, by its key: a new engine option is one row there (and its EngineChoice field)
  const chosen: Partial<Record<keyof typeof ENGINE_OPTIONS, unknown>> = {};
  for (const key of Object.keys(ENGINE_OPTIONS) as (keyof typeof ENGINE_OPTIONS)[]) chosen[key] = values[key];
  return chosen as OptionValues<typeof ENGINE_OPTIONS>;
}
