/**
 * Boxes for the photos a boxes CSV does not cover, from the fluke detector: what prediction (and
 * later the service) calls so that photos without a hand-marked box are still cropped to their
 * fluke.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Box } from '../image/affine.js';
import { withFallbackBoxes, type PhotoExtras } from '../image/photo-extras.js';
import { boxImageCache, openBoxDetector, predictBoxes, type BoxDetector, type PhotoToBox } from './box-predict.js';
import { BOX_MODEL_FILES, shippedBoxModelDir } from './box-spec.js';

/** Options of {@link fillMissingBoxes}. */
export interface FillBoxesOptions {
  /**
   * Box model folder or `.onnx` file; `none` to use such photos whole. Default: the model shipped
   * with whaleid (photos are used whole, with a note, when it is not installed).
   */
  boxModel?: string;
  /** JSON cache of predictions by photo content (see `predictBoxes`). */
  cacheFile?: string;
  /** Decoded-photo cache folder. */
  cacheDir?: string;
  onProgress?: (done: number, total: number) => void;
  onMessage?: (line: string) => void;
}

/** The result of {@link fillMissingBoxes}. */
export interface FilledBoxes {
  /** The lookup with predicted boxes for photos the CSV does not cover. */
  of: PhotoExtras['of'];
  /** The predicted boxes by image name (empty when none were needed or wanted). */
  predicted: Map<string, Box>;
  /** The model file used, or null. */
  model: string | null;
}

/**
 * Predicts the box of every photo that `of` gives none, and returns a lookup that uses them.
 *
 * @param photos - the photos that will be cropped
 * @param of - their CSV boxes and rotate flags
 * @param options - model, caches, progress, messages
 * @returns the combined lookup and the predicted boxes
 * @throws {@link WhaleidError} when a given box model cannot be opened
 * @example
 * const { of } = await fillMissingBoxes(photos, extras.of, { cacheFile: 'runs/a/predicted-boxes.json' });
 */
export async function fillMissingBoxes(photos: readonly PhotoToBox[], of: PhotoExtras['of'], options: FillBoxesOptions = {}): Promise<FilledBoxes> {
  const say = options.onMessage ?? (() => {});
  const unchanged: FilledBoxes = { of, predicted: new Map(), model: null };
  const missing = photos.filter((p) => !of(p.image).box);
  if (missing.length === 0 || options.boxModel === 'none') {
    if (missing.length) say(`${missing.length} photos have no box in the boxes CSV: used whole (--box-model none)`);
    return unchanged;
  }
  const location = options.boxModel ?? shippedBoxModelDir();
  if (options.boxModel === undefined && !existsSync(path.join(location, BOX_MODEL_FILES.onnx))) {
    say(`${missing.length} photos have no box in the boxes CSV and no box model is installed (${location}): used whole`);
    return unchanged;
  }
  const detector = await openBoxDetector(location);
  try {
    const res = await predictBoxes(detector, missing, { cache: boxImageCache(detector, options.cacheDir), cacheFile: options.cacheFile, onProgress: options.onProgress });
    for (const f of res.failures) say(`error: ${f}`);
    const fromCache = options.cacheFile ? `, ${res.cached} from ${options.cacheFile}` : '';
    say(`${missing.length} photos have no box in the boxes CSV: boxes from the fluke detector ${detector.file}${fromCache}`);
    return { of: withFallbackBoxes(of, res.boxes), predicted: res.boxes, model: detector.file };
  } finally {
    await detector.dispose();
  }
}

/**
 * The detector for photos that come without a box (the service's uploads): the one given; by
 * default the shipped one for a run that learnt boxed crops (none when it is not installed) and
 * none for a run of whole photos, so photos are cropped as the run was trained; `none`: none.
 *
 * @param boxModel - a box model folder or `.onnx` file, `none`, or undefined for the default
 * @param boxedRun - whether the run learnt boxed crops (see trainedWithBoxes); true without a run
 * @returns the detector (the caller disposes of it), or null: photos are used whole
 * @throws {@link WhaleidError} when a given box model cannot be opened
 * @example
 * const detector = await openFallbackDetector(undefined, identifier?.trainedWithBoxes ?? true);
 */
export async function openFallbackDetector(boxModel: string | undefined, boxedRun: boolean): Promise<BoxDetector | null> {
  if (boxModel === 'none') return null;
  if (boxModel !== undefined) return openBoxDetector(boxModel);
  const shipped = shippedBoxModelDir();
  return boxedRun && existsSync(path.join(shipped, BOX_MODEL_FILES.onnx)) ? openBoxDetector(shipped) : null;
}
