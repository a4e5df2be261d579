/**
 * The photos a box model learns from or is measured on: datasets with their boxes CSVs, decoded
 * once into memory.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { datasetPhotos, loadUsableDataset } from '../data/dataset.js';
import { readBoxes } from '../image/boxes.js';
import type { Box } from '../image/affine.js';
import type { GreyImage } from '../image/decode.js';
import type { ImageCache } from '../image/image-cache.js';
import { mapPool } from '../util/pool.js';
import { WhaleidError } from '../util/errors.js';
import { clipBox } from './box-transform.js';

/** A dataset and the boxes CSV of its photos. */
export interface BoxSource {
  /** Dataset folder (Kaggle layout, one folder per individual, or a plain folder of photos). */
  data: string;
  /** `Image,x0,y0,x1,y1` CSV; default `<data>/bounding_boxes.csv`. */
  boxes?: string;
}

/** A photo with its box. */
export interface BoxedPhoto {
  /** Unique across sources: `<source index>:<dataset key>`. */
  key: string;
  /** The photo's name in its dataset (what box CSVs use). */
  image: string;
  file: string;
  box: Box;
}

/**
 * Lists the photos of each source that have a box (looked up by dataset name, then file name,
 * as everywhere else).
 *
 * @param sources - datasets with their boxes CSVs
 * @param say - where notes go (photos without a box)
 * @returns the photos with boxes, source after source
 * @throws {@link WhaleidError} for an unusable dataset, a missing or bad boxes CSV, or no boxed photo at all
 * @example
 * const photos = await listBoxedPhotos([{ data: 'catalog' }], console.error);
 */
export async function listBoxedPhotos(sources: readonly BoxSource[], say: (line: string) => void): Promise<BoxedPhoto[]> {
  const out: BoxedPhoto[] = [];
  for (const [si, src] of sources.entries()) {
    const ds = await loadUsableDataset(src.data, say);
    const csv = src.boxes ?? path.join(ds.root, 'bounding_boxes.csv');
    if (!existsSync(csv)) throw new WhaleidError(`${src.data}: no boxes CSV (${csv} not found); give one with --boxes`);
    const boxes = await readBoxes(csv);
    let without = 0;
    for (const p of datasetPhotos(ds)) {
      const box = boxes.get(p.image) ?? boxes.get(path.basename(p.image));
      if (box) out.push({ key: `${si}:${p.key}`, image: p.image, file: p.file, box });
      else without++;
    }
    if (without) say(`${src.data}: ${without} photos have no box in ${csv} and are left out`);
  }
  if (out.length === 0) throw new WhaleidError(`no photo with a box in ${sources.map((s) => s.data).join(', ')}`);
  return out;
}

/** A decoded photo with its box clipped to it. */
export interface DecodedBoxedPhoto extends BoxedPhoto {
  img: GreyImage;
}

/**
 * Decodes photos (4 at a time, through the cache) and clips their boxes to the photo; photos that
 * cannot be read, or whose box lies outside the photo, are reported and left out.
 *
 * @param photos - the photos
 * @param cache - decoded-photo cache
 * @param say - where problems go
 * @param onProgress - after each photo
 * @returns the usable photos, in the given order
 * @example
 * const decoded = await decodeBoxedPhotos(photos, cache, console.error);
 */
export async function decodeBoxedPhotos(
  photos: readonly BoxedPhoto[],
  cache: ImageCache,
  say: (line: string) => void,
  onProgress?: () => void,
): Promise<DecodedBoxedPhoto[]> {
  const outcomes = await mapPool(photos, 4, async (p) => {
    const img = await cache.load(p.file);
    onProgress?.();
    return img;
  });
  const out: DecodedBoxedPhoto[] = [];
  outcomes.forEach((o, i) => {
    const p = photos[i];
    if (!o.ok) {
      say(`error: ${o.error.message} (left out)`);
      return;
    }
    const box = clipBox(p.box, 0, 0, o.value.originalWidth, o.value.originalHeight);
    if (!(box.x1 - box.x0 >= 1 && box.y1 - box.y0 >= 1)) {
      say(`${p.image}: box ${p.box.x0},${p.box.y0},${p.box.x1},${p.box.y1} lies outside the ${o.value.originalWidth}x${o.value.originalHeight} photo (left out)`);
      return;
    }
    out.push({ ...p, box, img: o.value });
  });
  return out;
}
