import { invalidParameterError } from '../util/errors.js';
import type { TrainConfig } from './train-config.js';
import type { ScheduleGroup } from './schedule.js';

/**
 * Named training recipes: whole training configurations (model, input, crop, schedule, batch,
 * learning rate, time budget) that were measured to learn within a CPU budget on one kind of data.
 * They are data, like the schedules: `whaleid train --recipe NAME` starts from one, and any flag
 * given explicitly overrides the recipe's value.
 */
export interface TrainRecipe {
  /** Recipe name (`--recipe`). */
  readonly name: string;
  /** What data it is for, in a few words (shown by `--help`, one line a recipe). */
  readonly brief: string;
  /** What it reached and how long it took: the figures (README's recipe table). */
  readonly summary: string;
  /** The settings it fixes; everything else keeps {@link TRAIN_DEFAULTS}. */
  readonly settings: Readonly<Partial<Omit<TrainConfig, 'data'>>>;
}

/**
 * Groups of `epochs` epochs: `random` groups of random negatives (K 1000: the score matrix is
 * drowned by noise), then the given K values (smaller = harder, score-ranked negatives), then
 * `tail` groups at a quarter of the learning rate.
 */
function cpuSchedule(name: string, o: { epochs: number; lr: number; random: number; harder: number[]; tail: number }): { name: string; groups: ScheduleGroup[] } {
  return {
    name,
    groups: [
      ...Array.from({ length: o.random }, () => ({ epochs: o.epochs, lr: o.lr, K: 1000 })),
      ...o.harder.map((K) => ({ epochs: o.epochs, lr: o.lr, K })),
      ...Array.from({ length: o.tail }, () => ({ epochs: o.epochs, lr: o.lr / 4, K: o.harder.length ? o.harder[o.harder.length - 1] : 1000 })),
    ],
  };
}

/** `n` copies of `k`. */
const repeat = (k: number, n: number): number[] => Array.from({ length: n }, () => k);

/** The synthetic catalogs' model and optimiser settings, shared by the synthetic and demo recipes. */
const SYNTHETIC_MODEL = { preset: 'small', inputSize: 64, batchSize: 32, lrScale: 1, augmentFromEpoch: 0, headInit: 'distance' } as const;

/** The built-in recipes. */
export const TRAIN_RECIPES: Readonly<Record<string, TrainRecipe>> = Object.freeze({
  omniglot: {
    name: 'omniglot',
    brief: 'small greyscale drawings (Omniglot): 80 px, 800 turned warm-up epochs, about 43 min',
    summary: "small greyscale drawings (Omniglot's 105x105 characters): small model, 80 px, whole image, 800 epochs of classification warm-up over every character in 4 quarter turns (each turn its own class), then 2 pair epochs on the native engine, 43 min on an idle 2-core machine: 20-way one-shot 66.5% with the head, 68.0% with the cosine scorer that --scorer auto picked (seed 0; seed 1: 63.0% / 63.7%, auto kept the head), about 70% with evaluate-oneshot --tta 4 (400 warm-up epochs: 62.3% / 65.0%)",
    settings: {
      preset: 'small',
      inputSize: 80,
      aspect: 1,
      margin: 0,
      dedup: false,
      batchSize: 32,
      lrScale: 1,
      augmentFromEpoch: 0,
      headInit: 'distance',
      // measured (20-way one-shot, 400 trials, +-4.9%): warm-up 80 plain epochs + 2 pair epochs
      // 49.8%; in 4 turns: 80 epochs 56.3%, 200 epochs 58.8%, 400 epochs 62.3%, 800 epochs 66.5%
      // (same seed; 43 min on 2 threads, so 800 fits the hour where a shared machine is slower).
      // Long pair phases after the warm-up did not add (200 turned epochs then 69 pair epochs: 53.3%)
      warmupEpochs: 800,
      warmupRotations: 4,
      // the budget is checked between pair groups, after the warm-up: room for a slower machine
      maxMinutes: 60,
      // the pair phase only fits the head and settles the features for the pair score
      schedule: { name: 'omniglot', groups: [{ epochs: 1, lr: 64e-5, K: 1000 }, { epochs: 1, lr: 64e-5, K: 1 }] },
    },
  },
  nyala: {
    name: 'nyala',
    brief: 'photos of animals with two flanks (nyala): 128 px, pairs within a flank, about 15 min',
    summary: 'photos of animals (nyala, whole photos of ~1.3:1, left and right flanks): small model, 128 px (at 64 px the stripes vanish), matching pairs within a flank; 46 epochs in 15 min: held-out animals ranked first within a flank 9.6% of the time (chance 1.9%; the local matcher: 28.5%)',
    settings: {
      preset: 'small',
      inputSize: 128,
      aspect: 1.25,
      margin: 0,
      batchSize: 32,
      lrScale: 1,
      augmentFromEpoch: 0,
      headInit: 'distance',
      // a left and a right flank of one animal share no stripes: never a matching pair
      viewPattern: 'left|right',
      maxMinutes: 60,
      // random pairs for long: hard pairs only help once the loss is well below chance (~0.45);
      // then K falls gradually (a jump from 1000 to 10 put the loss back to 0.72)
      schedule: cpuSchedule('nyala', { epochs: 2, lr: 2e-3, random: 16, harder: [300, 300, 100, 100, 30, 30], tail: 1 }),
    },
  },
  synthetic: {
    name: 'synthetic',
    brief: '`whaleid synth` fluke catalogs: 96 px, 120 epochs, about 30 min',
    summary: "`whaleid synth` catalogs (fluke boxes, aspect 2.15): small model, 96 px; 120 epochs on the native engine (31.5 min on a shared 2-core machine): test MAP@5 0.478 (wasm recipe, 64 px, 100 epochs: 0.424; best baseline 0.301)",
    settings: {
      ...SYNTHETIC_MODEL,
      // on the native engine: 96 px (the wasm recipe's 64 px blurred the trailing-edge notches) and
      // 120 epochs, the hard phase longer and ending at K 3
      inputSize: 96,
      maxMinutes: 60,
      // random pairs until the loss is well below chance (it only starts falling after ~8 epochs),
      // then K falls gradually (a jump from 1000 to 10 put the loss from 0.51 back to 0.73)
      schedule: cpuSchedule('synthetic', { epochs: 2, lr: 2e-3, random: 24, harder: [...repeat(300, 4), ...repeat(100, 6), ...repeat(30, 8), ...repeat(10, 10), ...repeat(3, 4)], tail: 4 }),
    },
  },
  demo: {
    name: 'demo',
    brief: "the demo's synthetic catalog in a few minutes",
    summary: "the demo's synthetic catalog in a few minutes: the synthetic recipe's model with a short random-pair phase (12 epochs), so the LAP's harder pairs (K 300 down to 10) run within the demo's budget",
    settings: {
      ...SYNTHETIC_MODEL,
      maxMinutes: 6,
      // the demo must show the method's main step, hard pairs mined by linear assignment: the
      // synthetic recipe's 60 random-pair epochs ran past the 6-minute budget (stopped at epoch 22)
      schedule: cpuSchedule('demo', { epochs: 1, lr: 2e-3, random: 12, harder: [300, 100, 30, 10, 10, 10], tail: 2 }),
    },
  },
});

/**
 * Applies a named recipe under the given settings: a setting given (not undefined) wins over the
 * recipe's, so `--recipe omniglot --max-minutes 20` is the recipe with a shorter budget.
 *
 * @param name - a key of {@link TRAIN_RECIPES}
 * @param given - the caller's settings (undefined = not given)
 * @returns the merged settings, with `recipe` set to the name
 * @throws {@link WhaleidError} for an unknown recipe
 * @example
 * applyRecipe('omniglot', { data: 'omniglot/images_background', maxMinutes: 20 });
 */
export function applyRecipe<T extends Partial<TrainConfig>>(name: string, given: T): T & Partial<TrainConfig> {
  const recipe = Object.hasOwn(TRAIN_RECIPES, name) ? TRAIN_RECIPES[name] : undefined;
  if (!recipe) throw invalidParameterError('recipe', `one of ${Object.keys(TRAIN_RECIPES).join(', ')}`, name);
  const explicit = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  return { ...structuredClone(recipe.settings), ...explicit, recipe: name } as T & Partial<TrainConfig>;
}
