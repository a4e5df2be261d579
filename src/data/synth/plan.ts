/**
 * The catalog plan: how many photos each synthetic whale gets, which photos go to train and to
 * test, which are labelled `new_whale`, which are saved upside down, which are duplicates, and the
 * file names. Pure and seeded: the same arguments always give the same plan.
 */
import { createRng, type Rng } from '../../util/random.js';

/** Share of (non-duplicate) photos that go to test; Kaggle 2019 had 7,960 test vs 25,361 train. */
export const TEST_SHARE = 0.25;
/** Share of train-only whales with a single photo that are labelled `new_whale` (not identified). */
export const UNIDENTIFIED_SHARE = 0.7;
/** Probability that a photo is saved turned by 180 degrees. */
export const UPSIDE_DOWN_SHARE = 0.02;
/** Probability that a photo gets an exact duplicate, and a resized duplicate. */
export const EXACT_DUPLICATE_SHARE = 0.02;
export const RESIZED_DUPLICATE_SHARE = 0.01;

/** One photo of the plan. */
export interface PlannedPhoto {
  /** File name, 9 lowercase hex digits + `.jpg`. */
  name: string;
  /** Index of the individual in the plan's `ids`. */
  individual: number;
  /** Index of this photo among the individual's own photos (its scene seed); -1 for duplicates. */
  shot: number;
  set: 'train' | 'test';
  /** `train.csv` Id for train photos, the true answer (`test_truth.csv`) for test photos. */
  label: string;
  upsideDown: boolean;
  /** For duplicates: the name of the photo copied. */
  duplicateOf?: string;
  /** For resized duplicates: the scale factor (< 1); 1 for exact duplicates. */
  resize?: number;
}

/** The whole plan. */
export interface CatalogPlan {
  /** One `w_` id per individual. */
  ids: string[];
  /** Base photos first (rendered), then duplicates (copied from a base photo). */
  photos: PlannedPhoto[];
}

function hex(rng: Rng, digits: number): string {
  let s = '';
  for (let i = 0; i < digits; i++) s += rng.int(16).toString(16);
  return s;
}

function uniqueHex(rng: Rng, digits: number, taken: Set<string>): string {
  for (;;) {
    const s = hex(rng, digits);
    if (!taken.has(s)) {
      taken.add(s);
      return s;
    }
  }
}

/**
 * Number of photos of one whale: 1 + a geometric draw with the requested mean, capped, so most
 * whales have 1-3 photos and a few have many (up to 15, or 5x the mean when that is larger).
 */
function photoCount(rng: Rng, mean: number): number {
  if (mean <= 1) return 1;
  const cap = Math.max(15, Math.ceil(5 * mean));
  const q = 1 - 1 / mean;
  const extra = Math.floor(Math.log(1 - rng.next()) / Math.log(q));
  return Math.min(cap, 1 + extra);
}

/**
 * Plans a catalog.
 *
 * Split rule: about {@link TEST_SHARE} of the photos go to test. First whole whales (preferring
 * those with 1-2 photos) are moved to test until `newShare` of the test target is reached: these
 * are the new individuals, with no train photo, whose truth is `new_whale`. The rest of the test
 * photos are drawn from the other whales with at least 2 photos, at most half of each whale's
 * photos (rounded up) and never its last one, so every known test whale keeps a train photo.
 * Train-only whales with a single photo are labelled `new_whale` in train with probability
 * {@link UNIDENTIFIED_SHARE} (Kaggle's train has many such rows); a test photo's truth is its
 * whale's id when that id appears in train.csv, else `new_whale`. Duplicates (exact and resized,
 * see the share constants) stay in the same set or move to the other one when the whale is
 * known there; they carry the label of their set. Upside-down photos are drawn per base photo and
 * inherited by their duplicates.
 *
 * @param individuals - number of whales (>= 1)
 * @param photosPerIndividual - mean photos per whale before duplicates (>= 1)
 * @param newShare - share of test photos from new individuals, 0-1
 * @param seed - integer seed
 * @returns the {@link CatalogPlan}
 * @example
 * const plan = planCatalog(300, 3, 0.3, 0);
 * plan.photos.filter((p) => p.set === 'test').length; // about 230
 */
export function planCatalog(individuals: number, photosPerIndividual: number, newShare: number, seed: number): CatalogPlan {
  const root = createRng(seed);
  const idRng = root.fork('ids');
  const takenIds = new Set<string>();
  const ids = Array.from({ length: individuals }, () => `w_${uniqueHex(idRng, 7, takenIds)}`);
  const countRng = root.fork('counts');
  const counts = ids.map(() => photoCount(countRng, photosPerIndividual));
  const total = counts.reduce((a, b) => a + b, 0);
  const testTarget = Math.round(TEST_SHARE * total);
  const newTarget = Math.round(newShare * testTarget);

  const splitRng = root.fork('split');
  const order = splitRng.shuffle(ids.map((_, i) => i));
  const isNew = new Array<boolean>(individuals).fill(false);
  let newPhotos = 0;
  for (const maxCount of [2, Infinity]) {
    for (const i of order) {
      if (newPhotos >= newTarget) break;
      if (!isNew[i] && counts[i] <= maxCount && newPhotos + counts[i] <= newTarget) {
        isNew[i] = true;
        newPhotos += counts[i];
      }
    }
  }
  // Test slots of known whales: at most half (rounded up) of a whale's photos, never its last.
  const slots: number[] = [];
  for (let i = 0; i < individuals; i++) {
    if (isNew[i] || counts[i] < 2) continue;
    const take = Math.min(counts[i] - 1, Math.ceil(counts[i] / 2));
    for (let k = 0; k < take; k++) slots.push(i);
  }
  splitRng.shuffle(slots);
  const testCount = new Array<number>(individuals).fill(0);
  for (const i of slots.slice(0, Math.max(0, testTarget - newPhotos))) testCount[i]++;

  const unidentified = counts.map((c, i) => !isNew[i] && c === 1 && splitRng.chance(UNIDENTIFIED_SHARE));
  const trainLabel = (i: number): string => (unidentified[i] ? 'new_whale' : ids[i]);
  const truth = (i: number): string => (isNew[i] || unidentified[i] ? 'new_whale' : ids[i]);

  const nameRng = root.fork('names');
  const takenNames = new Set<string>();
  const flagRng = root.fork('flags');
  const photos: PlannedPhoto[] = [];
  for (let i = 0; i < individuals; i++) {
    // Which of the whale's shots go to test is itself random, so test photos are not always the last.
    const shots = splitRng.shuffle(Array.from({ length: counts[i] }, (_, k) => k));
    const inTest = new Set(isNew[i] ? shots : shots.slice(0, testCount[i]));
    for (let k = 0; k < counts[i]; k++) {
      const set = inTest.has(k) ? 'test' : 'train';
      photos.push({
        name: `${uniqueHex(nameRng, 9, takenNames)}.jpg`,
        individual: i,
        shot: k,
        set,
        label: set === 'train' ? trainLabel(i) : truth(i),
        upsideDown: flagRng.chance(UPSIDE_DOWN_SHARE),
      });
    }
  }
  const dupRng = root.fork('duplicates');
  const base = photos.length;
  for (let p = 0; p < base; p++) {
    const src = photos[p];
    const kinds: number[] = [];
    if (dupRng.chance(EXACT_DUPLICATE_SHARE)) kinds.push(1);
    if (dupRng.chance(RESIZED_DUPLICATE_SHARE)) kinds.push(dupRng.uniform(0.55, 0.9));
    for (const resize of kinds) {
      // A known whale's duplicate may land in the other set (Kaggle had train/test duplicates).
      const canMove = !isNew[src.individual];
      const set: 'train' | 'test' = canMove && dupRng.chance(0.5) ? (src.set === 'train' ? 'test' : 'train') : src.set;
      photos.push({
        name: `${uniqueHex(nameRng, 9, takenNames)}.jpg`,
        individual: src.individual,
        shot: -1,
        set,
        label: set === 'train' ? trainLabel(src.individual) : truth(src.individual),
        upsideDown: src.upsideDown,
        duplicateOf: src.name,
        resize,
      });
    }
  }
  return { ids, photos };
}
