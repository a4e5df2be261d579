import { NEW_WHALE } from '../data/labels.js';
import { createRng } from '../util/random.js';
import { invalidParameterError } from '../util/errors.js';

/** A validation query: a photo and the answer it should get (an id, or new_whale). */
export interface ValidationQuery {
  index: number;
  truth: string;
}

/** Which labelled photos train, which form the known catalog, which are validation queries. */
export interface TrainValidationSplit {
  /** Photos of training whales (2+ photos each): the pairs come from these. */
  train: number[];
  /** Known photos for validation scoring: training photos, single-photo whales, held-out gallery photos. */
  gallery: number[];
  queries: ValidationQuery[];
}

/** Defaults of {@link SplitOptions} (also the training defaults, see TRAIN_DEFAULTS). */
export const SPLIT_DEFAULTS = Object.freeze({ valShare: 0.15, newShare: 0.3 });

/** Options of {@link splitByIndividuals}. */
export interface SplitOptions {
  /** Share of whales with 2+ photos held out for validation. Default {@link SPLIT_DEFAULTS}. */
  valShare?: number;
  /** Share of held-out whales that keep no gallery photo, so their query's answer is new_whale. Default {@link SPLIT_DEFAULTS}. */
  newShare?: number;
  seed?: number;
}

/**
 * Splits labelled photos by individual (never by photo, so no whale is in both training and
 * validation queries): a share of whales with 2+ photos is held out; each gives one query photo
 * and its other photos join the gallery, except a `newShare` of them that keep no gallery photo
 * (their query's answer is new_whale). A `valShare` of the new_whale-labelled photos are queries
 * too. Deterministic for a seed.
 *
 * @param ids - the id of every labelled photo (`new_whale` allowed)
 * @param options - shares and seed
 * @returns indices into `ids`
 * @throws {@link WhaleidError} for shares outside [0, 1]
 * @example
 * const split = splitByIndividuals(photos.map((p) => p.id), { valShare: 0.2, seed: 1 });
 */
export function splitByIndividuals(ids: readonly string[], options: SplitOptions = {}): TrainValidationSplit {
  const valShare = options.valShare ?? SPLIT_DEFAULTS.valShare;
  const newShare = options.newShare ?? SPLIT_DEFAULTS.newShare;
  if (!(valShare >= 0 && valShare <= 1)) throw invalidParameterError('valShare', 'a number between 0 and 1', valShare);
  if (!(newShare >= 0 && newShare <= 1)) throw invalidParameterError('newShare', 'a number between 0 and 1', newShare);
  const rng = createRng(options.seed ?? 0).fork('split');
  const byWhale = new Map<string, number[]>();
  const newWhale: number[] = [];
  ids.forEach((id, i) => {
    if (id === NEW_WHALE) newWhale.push(i);
    else byWhale.set(id, [...(byWhale.get(id) ?? []), i]);
  });
  const names = [...byWhale.keys()].sort();
  const multi = names.filter((w) => byWhale.get(w)!.length >= 2);
  rng.shuffle(multi);
  const nHeld = Math.round(valShare * multi.length);
  const held = multi.slice(0, nHeld);
  const nNew = Math.round(newShare * held.length);
  const heldSet = new Set(held);
  const split: TrainValidationSplit = { train: [], gallery: [], queries: [] };
  for (const w of names) {
    const photos = byWhale.get(w)!;
    if (!heldSet.has(w)) {
      if (photos.length >= 2) split.train.push(...photos);
      split.gallery.push(...photos);
    }
  }
  held.forEach((w, k) => {
    const photos = rng.shuffle([...byWhale.get(w)!]);
    const isNew = k < nNew;
    split.queries.push({ index: photos[0], truth: isNew ? NEW_WHALE : w });
    if (!isNew) split.gallery.push(...photos.slice(1));
  });
  const nw = rng.shuffle([...newWhale]).slice(0, Math.round(valShare * newWhale.length));
  for (const i of nw) split.queries.push({ index: i, truth: NEW_WHALE });
  split.train.sort((a, b) => a - b);
  split.gallery.sort((a, b) => a - b);
  split.queries.sort((a, b) => a.index - b.index);
  return split;
}
