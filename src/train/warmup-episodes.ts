/**
 * Episodes of the prototypical warm-up (TrainConfig.warmupLoss `prototypical`): each step shows
 * `ways` classes with `shots` support photos and up to `queries` query photos each, as a few-shot
 * test does (see model/prototypical-loss.ts). A class is an individual (or individual view) in
 * one of the warm-up's turns.
 */
import { WhaleidError } from '../util/errors.js';
import type { Rng } from '../util/random.js';

/** One photo of an episode: its position in the training split, quarter turns, and label (2 x class + 1 for a query). */
export interface EpisodePhoto {
  position: number;
  turn: number;
  label: number;
}

/** How episodes are drawn. */
export interface EpisodePlan {
  /** Classes per episode (at most the eligible ones). */
  ways: number;
  /** Episodes per epoch: as many photos as the training split, in whole episodes. */
  perEpoch: number;
  /** Draws one episode. */
  draw(rng: Rng): EpisodePhoto[];
}

/**
 * Plans the episodes over the training photos' classes.
 *
 * @param classOf - class number (individual or view) of each training photo, by position
 * @param turns - 1, or 4 (each class also in 3 turned copies, each a class of its own)
 * @param o - ways, shots and queries per class
 * @returns the plan
 * @throws {@link WhaleidError} when fewer than 2 classes have `shots + 1` photos
 * @example
 * const plan = planEpisodes(Int32Array.from([0, 0, 1, 1]), 1, { ways: 2, shots: 1, queries: 1 });
 * plan.draw(createRng(0)); // 4 photos: a support and a query of each class
 */
export function planEpisodes(classOf: Int32Array, turns: number, o: { ways: number; shots: number; queries: number }): EpisodePlan {
  const photos: number[][] = [];
  classOf.forEach((c, k) => (photos[c] ??= []).push(k));
  // a class takes part when it has a support photo and a query photo at least
  const usable = photos.map((list, c) => (list && list.length >= o.shots + 1 ? c : -1)).filter((c) => c >= 0);
  const eligible = usable.flatMap((c) => Array.from({ length: turns }, (_, t) => c * turns + t));
  if (eligible.length < 2) throw new WhaleidError(`the prototypical warm-up needs 2 classes with ${o.shots + 1} training photos or more (${o.shots} support, 1 query); found ${eligible.length}`);
  const ways = Math.min(o.ways, eligible.length);
  const perEpoch = Math.max(1, Math.round(classOf.length / (ways * (o.shots + o.queries))));
  return {
    ways,
    perEpoch,
    draw(rng) {
      const out: EpisodePhoto[] = [];
      rng.shuffle([...eligible]).slice(0, ways).forEach((c, slot) => {
        const picked = rng.shuffle([...photos[Math.floor(c / turns)]]).slice(0, o.shots + o.queries);
        picked.forEach((position, i) => out.push({ position, turn: c % turns, label: 2 * slot + (i < o.shots ? 0 : 1) }));
      });
      return out;
    },
  };
}
