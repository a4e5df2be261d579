import type { ImageCache } from './image-cache.js';
import { CROP_ASPECT, CROP_MARGIN, cropMatrix, type Augmentation, type Box } from './affine.js';
import { sampleCrop } from './sample.js';
import { mapPool } from '../util/pool.js';
import { WhaleidError } from '../util/errors.js';

/** Crop settings shared by training, prediction and the service. */
export interface CropSettings {
  /** Output side in pixels (384 by default, 512 as in the write-up, small for tests). */
  size: number;
  /** Share of the box added on each side. Default 0.05. */
  margin?: number;
  /** Width/height of the region mapped onto the square. Default 2.15. */
  aspect?: number;
}

/** Default crop: the kernel's 384 px, 5% margin, aspect 2.15. */
export const DEFAULT_CROP: Required<CropSettings> = Object.freeze({ size: 384, margin: CROP_MARGIN, aspect: CROP_ASPECT });

/** One photo as the model sees it. */
export interface CropRequest {
  file: string;
  box?: Box;
  rotate180?: boolean;
  augmentation?: Augmentation;
}

/**
 * Loads a photo (through the cache) and returns the model's input: the box (whole photo when
 * none) with margin and aspect padding, augmented, resampled once onto the square and normalised.
 *
 * @param cache - reduced greyscale copies
 * @param request - photo, box, rotate flag and augmentation
 * @param settings - output size, margin, aspect
 * @returns size*size floats, mean 0, std 1
 * @throws {@link WhaleidError} when the photo cannot be read or the box is empty
 * @example
 * const x = await loadCrop(cache, { file: 'train/a.jpg', box }, { size: 384 });
 */
export async function loadCrop(cache: ImageCache, request: CropRequest, settings: CropSettings): Promise<Float32Array> {
  const img = await cache.load(request.file);
  const m = cropMatrix({
    width: img.originalWidth,
    height: img.originalHeight,
    box: request.box,
    margin: settings.margin ?? DEFAULT_CROP.margin,
    aspect: settings.aspect ?? DEFAULT_CROP.aspect,
    outputSize: settings.size,
    augmentation: request.augmentation,
    rotate180: request.rotate180,
  });
  return sampleCrop(img, m, settings.size);
}

/**
 * Loads several crops into one buffer, photo after photo (size*size floats each), decoding 4
 * photos at a time: the input of a model batch, for tfjs and ONNX Runtime alike.
 *
 * @param cache - reduced greyscale copies
 * @param requests - photos, boxes, rotate flags, augmentations
 * @param settings - output size, margin, aspect
 * @returns requests.length * size * size floats
 * @throws {@link WhaleidError} naming the first photo that could not be read
 * @example
 * const x = await loadCropBuffer(cache, photos, { size: 384 });
 */
export async function loadCropBuffer(cache: ImageCache, requests: readonly CropRequest[], settings: CropSettings): Promise<Float32Array> {
  const per = settings.size * settings.size;
  const buf = new Float32Array(requests.length * per);
  const outcomes = await mapPool(requests, 4, async (r, i) => buf.set(await loadCrop(cache, r, settings), i * per));
  const bad = outcomes.find((o) => !o.ok);
  if (bad && !bad.ok) throw new WhaleidError(bad.error.message);
  return buf;
}

/**
 * Decoded-copy size that keeps crops sharp: the reduced copy needs about as many pixels across
 * the fluke as the crop has, so its longer side is capped at 3x the crop side (a fluke usually
 * spans a third of the photo width or more). Exposed so every caller caches the same copies.
 *
 * @param cropSize - the model's input side
 * @returns the `maxSide` to decode photos at
 */
export function decodeSideFor(cropSize: number): number {
  return Math.max(256, 3 * cropSize);
}
