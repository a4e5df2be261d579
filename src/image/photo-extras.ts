import { existsSync } from 'node:fs';
import path from 'node:path';
import { readBoxes } from './boxes.js';
import { readPhotoList } from './photo-lists.js';
import type { Box } from './affine.js';

/** Where a photo's box and 180-degree turn come from. */
export interface PhotoExtras {
  /** The box and rotate flag of a photo (looked up by name, then by file name). */
  of(image: string): { box?: Box; rotate180: boolean };
  boxesFile?: string;
  rotateFile?: string;
}

/**
 * Loads the boxes CSV and rotate list of a dataset: the given files, or `<root>/bounding_boxes.csv`
 * and `<root>/rotate.txt` when present (the synthetic catalog writes both), so training,
 * prediction and the service crop photos the same way.
 *
 * @param root - dataset root
 * @param given - explicit files (override the defaults)
 * @returns the lookup
 * @throws {@link WhaleidError} for an unreadable boxes CSV or list
 * @example
 * const extras = await loadPhotoExtras(ds.root, { boxes: 'boxes.csv' });
 * extras.of('0000e88ab.jpg').box;
 */
export async function loadPhotoExtras(root: string, given: { boxes?: string; rotate?: string } = {}): Promise<PhotoExtras> {
  const auto = (file: string | undefined, name: string): string | undefined => file ?? (existsSync(path.join(root, name)) ? path.join(root, name) : undefined);
  const boxesFile = auto(given.boxes, 'bounding_boxes.csv');
  const rotateFile = auto(given.rotate, 'rotate.txt');
  const boxes = boxesFile ? await readBoxes(boxesFile) : new Map<string, Box>();
  const rotate = rotateFile ? await readPhotoList(rotateFile) : new Set<string>();
  return { boxesFile, rotateFile, of: photoExtrasFrom(boxes, rotate) };
}

/**
 * True when a photo list names the photo, by its dataset name or its file name (Kaggle box files
 * and lists use file names; folder datasets name photos `individual/file`).
 *
 * @example
 * listHas(new Set(['a.jpg']), 'w_1/a.jpg'); // true
 */
export function listHas(list: ReadonlySet<string>, image: string): boolean {
  return list.has(image) || list.has(path.basename(image));
}

/**
 * The box and rotate flag of a photo from already loaded boxes and rotate list, looked up as
 * {@link listHas} does.
 *
 * @param boxes - image name -> box
 * @param rotate - names of photos to turn 180 degrees
 * @returns the lookup
 * @example
 * photoExtrasFrom(await readBoxes('boxes.csv'), new Set())('a.jpg').box;
 */
export function photoExtrasFrom(boxes: ReadonlyMap<string, Box>, rotate: ReadonlySet<string>): PhotoExtras['of'] {
  return (image) => ({ box: boxes.get(image) ?? boxes.get(path.basename(image)), rotate180: listHas(rotate, image) });
}

/**
 * A lookup that falls back to other boxes (e.g. the fluke detector's predictions) for photos that
 * the boxes CSV does not cover; a CSV box always wins.
 *
 * @param of - the lookup of the dataset's CSV boxes and rotate list
 * @param fallback - image name -> box, for photos without a CSV box
 * @returns the combined lookup
 * @example
 * const of = withFallbackBoxes(extras.of, predictedBoxes);
 */
export function withFallbackBoxes(of: PhotoExtras['of'], fallback: ReadonlyMap<string, Box>): PhotoExtras['of'] {
  return (image) => {
    const e = of(image);
    return e.box ? e : { ...e, box: fallback.get(image) ?? fallback.get(path.basename(image)) };
  };
}
