/**
 * A training run's data, prepared once per process: the labelled photos (the user's exclusions
 * and pseudo-labels applied, duplicates collapsed, boxes filled in for boxed runs), the split into
 * training photos and validation queries/gallery, and how a photo becomes a crop.
 */
import { loadUsableDataset, type Dataset, type LabelledPhoto } from '../data/dataset.js';
import { readLabels } from '../data/labels.js';
import { readPhotoList } from '../image/photo-lists.js';
import { createImageCache, type ImageCache } from '../image/image-cache.js';
import { decodeSideFor, type CropRequest, type CropSettings } from '../image/crop.js';
import type { Augmentation } from '../image/affine.js';
import { loadPhotoExtras, type PhotoExtras } from '../image/photo-extras.js';
import { findDuplicates } from '../image/duplicates.js';
import { checkPhotoFiles } from '../image/photo-policy.js';
import { MODEL_PRESETS } from '../model/network/siamese.js';
import { runPaths } from '../model/folders/run-folder.js';
import { WhaleidError } from '../util/errors.js';
import { fillMissingBoxes } from '../boxes/box-fallback.js';
import { splitByIndividuals, type TrainValidationSplit } from './split.js';
import { trainedWithBoxes, type TrainConfig } from './train-config.js';

/** The photos a run learns from and is validated on, and how to crop them. */
export interface TrainingData {
  /** The usable labelled photos; the split's indices point into this. */
  readonly photos: readonly LabelledPhoto[];
  /** Each photo's individual (`photos[i].id`). */
  readonly ids: readonly string[];
  /** Training photos, validation queries and the gallery they are matched against. */
  readonly split: TrainValidationSplit;
  /** Decoded-photo cache. */
  readonly cache: ImageCache;
  /** Crop size, margin and aspect. */
  readonly crop: CropSettings;
  /** Photos left out: dataset rows with errors and photos the input policy refuses (each reported). */
  readonly skipped: number;
  /**
   * The crop request of photo `i`, with its box, rotation and the augmentation given.
   *
   * @param i - index into {@link TrainingData.photos}
   * @param augmentation - random affine change (training), none for validation
   */
  request(i: number, augmentation?: Augmentation): CropRequest;
}

/**
 * The input side of a run's network: the configured one or its preset's.
 *
 * @param config - the run's configuration
 * @returns the side in pixels
 */
export function inputSizeOf(config: TrainConfig): number {
  return config.inputSize ?? MODEL_PRESETS[config.preset].inputSize;
}

/**
 * Loads and prepares a run's data (see {@link TrainingData}); reports what it did through `say`.
 *
 * @param config - the run's configuration
 * @param runDir - the run folder (boxes predicted for photos the CSV lacks are cached there)
 * @param say - a line for the user
 * @returns the data
 * @throws {@link WhaleidError} for an unusable dataset or fewer than 2 training photos
 * @example
 * const data = await prepareTrainingData(config, 'runs/a', console.error);
 */
export async function prepareTrainingData(config: TrainConfig, runDir: string, say: (line: string) => void): Promise<TrainingData> {
  const size = inputSizeOf(config);
  const crop: CropSettings = { size, margin: config.margin, aspect: config.aspect };
  const cache = createImageCache({ dir: config.cacheDir, maxSide: decodeSideFor(size) });
  const ds = await loadUsableDataset(config.data, say);
  let skipped = ds.issues.filter((i) => i.severity === 'error').length;
  let extras = await loadPhotoExtras(ds.root, { boxes: config.boxes, rotate: config.rotate });
  const exclude = config.exclude ? await readPhotoList(config.exclude) : new Set<string>();
  let photos = ds.train.filter((p) => !exclude.has(p.image));
  if (config.pseudoLabels) photos = await addPseudoLabels(photos, ds, config.pseudoLabels, exclude, say);
  // every photo is checked once before training: dedup decodes them all (and reports failures);
  // without it, a header check against the input policy (an SVG named .jpg is left out, not trained on)
  const checked = config.dedup ? await collapseDuplicates(photos, cache, say) : await leaveOutUnreadable(photos, say);
  photos = checked.photos;
  skipped += checked.unreadable;
  if (trainedWithBoxes(config)) {
    // photos without a CSV box get the box model's, as prediction gives them: same crops in both
    const filled = await fillMissingBoxes(photos, extras.of, { boxModel: config.boxModel, cacheFile: runPaths(runDir).predictedBoxes, cacheDir: config.cacheDir, onMessage: say });
    extras = { ...extras, of: filled.of };
  }
  const ids = photos.map((p) => p.id);
  const split = splitByIndividuals(ids, { valShare: config.valShare, newShare: config.newShare, seed: config.seed });
  if (split.train.length < 2) throw new WhaleidError(`${config.data}: fewer than 2 training photos of individuals with 2+ photos; nothing to learn from`);
  say(`${split.train.length} training photos of ${new Set(split.train.map((i) => ids[i])).size} individuals; ${split.queries.length} validation queries against ${split.gallery.length} known photos`);
  const of: PhotoExtras['of'] = extras.of;
  const request = (i: number, augmentation?: Augmentation): CropRequest => ({ file: photos[i].file, ...of(photos[i].image), augmentation });
  if (skipped > 0) say(`${skipped} photos left out (see the errors above)`);
  return { photos, ids, split, cache, crop, request, skipped };
}

/** The photos that pass the input policy's header check; each failure reported and left out. */
async function leaveOutUnreadable(photos: LabelledPhoto[], say: (line: string) => void): Promise<{ photos: LabelledPhoto[]; unreadable: number }> {
  const failures = await checkPhotoFiles(photos.map((p) => ({ key: p.image, file: p.file })));
  for (const f of failures) say(`error: ${f.message} (left out)`);
  const bad = new Set(failures.map((f) => f.key));
  return { photos: photos.filter((p) => !bad.has(p.image)), unreadable: failures.length };
}

/** Test photos of a pseudo-label CSV added as labelled; a photo the user labelled keeps its label. */
async function addPseudoLabels(photos: LabelledPhoto[], ds: Pick<Dataset, 'train' | 'test'>, file: string, exclude: ReadonlySet<string>, say: (line: string) => void): Promise<LabelledPhoto[]> {
  const labelled = new Set(ds.train.map((p) => p.image));
  const testFile = new Map(ds.test.map((p) => [p.image, p.file]));
  const out = [...photos];
  for (const row of await readLabels(file)) {
    const photo = testFile.get(row.image);
    if (labelled.has(row.image) || !photo || exclude.has(row.image)) continue; // the user's labels win
    out.push({ image: row.image, id: row.id, file: photo });
  }
  say(`pseudo-labels: ${out.length - photos.length} test photos added from ${file}`);
  return out;
}

/** One photo per group of duplicates (the method's pHash rule); unreadable photos left out. */
async function collapseDuplicates(photos: LabelledPhoto[], cache: ImageCache, say: (line: string) => void): Promise<{ photos: LabelledPhoto[]; unreadable: number }> {
  const { groups, failures } = await findDuplicates(photos.map((p) => ({ key: p.image, file: p.file })), cache);
  const drop = new Set(groups.flatMap((g) => g.members.filter((m) => m !== g.preferred)));
  const bad = new Set(failures.map((f) => f.key));
  for (const f of failures) say(`error: ${f.message} (left out)`);
  say(`duplicates: ${groups.length} groups, ${drop.size} photos collapsed`);
  return { photos: photos.filter((p) => !drop.has(p.image) && !bad.has(p.image)), unreadable: bad.size };
}
