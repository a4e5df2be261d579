import { viewRegExp, type TrainConfig } from './train-config.js';
import type { TrainingData } from './training-data.js';

/** Who may be paired with whom, per training photo (in `split.train` order). */
export interface PairConstraints {
  /** Each training photo's whale, numbered 0.. in order of first appearance. */
  readonly whaleOf: Int32Array;
  /** Each training photo's view (e.g. left/right flank), when the run has a view pattern. */
  readonly viewOf?: Int32Array;
  /** The views found, lower-cased (`''`: photos whose name matches none). */
  readonly views: readonly string[];
}

/**
 * The pair miner's constraints: matching pairs are two photos of one whale, and with a
 * {@link TrainConfig.viewPattern} of one view too (the first match in the photo's name; names
 * without a match share one view). Non-matching pairs never join photos of one whale.
 *
 * @param data - the prepared data
 * @param config - the run's configuration (its view pattern)
 * @returns whale and view numbers of the training photos
 * @example
 * const { whaleOf, viewOf } = pairConstraints(data, { ...config, viewPattern: 'left|right' });
 */
export function pairConstraints(data: Pick<TrainingData, 'photos' | 'ids' | 'split'>, config: Pick<TrainConfig, 'viewPattern'>): PairConstraints {
  const { photos, ids, split } = data;
  const whales = new Map<string, number>();
  const whaleOf = Int32Array.from(split.train, (i) => {
    if (!whales.has(ids[i])) whales.set(ids[i], whales.size);
    return whales.get(ids[i])!;
  });
  if (config.viewPattern === undefined) return { whaleOf, views: [] };
  const exp = viewRegExp(config.viewPattern);
  const views = new Map<string, number>();
  const viewOf = Int32Array.from(split.train, (i) => {
    const v = (exp.exec(photos[i].image)?.[0] ?? '').toLowerCase();
    if (!views.has(v)) views.set(v, views.size);
    return views.get(v)!;
  });
  return { whaleOf, viewOf, views: [...views.keys()] };
}
