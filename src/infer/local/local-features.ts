import type { ImageCache } from '../../image/image-cache.js';
import type { CropRequest } from '../../image/crop.js';
import { DEFAULT_CROP } from '../../image/crop.js';
import { compose, cropMatrix, type Matrix3 } from '../../image/affine.js';
import { sampleCropRect } from '../../image/sample.js';
import { invalidParameterError } from '../../util/errors.js';
import { loadOpenCv, openCvError, type Cv } from './opencv.js';

/** Length of one descriptor: AKAZE keypoints described with KAZE's 64-float (M-SURF) descriptor. */
export const DESCRIPTOR_LENGTH = 64;

/** What decides a photo's keypoints and descriptors (part of every cache key). */
export interface LocalSettings {
  /** Height of the keypoint crop in pixels; its width is `aspect` x this. Default 256. */
  height: number;
  /** Width/height of the box region, as the network's crop (2.15). */
  aspect: number;
  /** Share of the box added on each side, as the network's crop (0.05). */
  margin: number;
  /**
   * Keypoints kept per photo, the strongest by detector response. Default 800: on nyala's
   * training animals (not the benchmark's held-out ones), within a flank, top-1 was 10.2% with
   * 400, 13.4% with 800 and 14.5% with 1,500 (at 1.65x the query time of 800).
   */
  maxKeypoints: number;
  /** AKAZE detector threshold (on a 0..1 image). Default 0.0005: low, so faint patterns still give keypoints. */
  threshold: number;
  /**
   * Upright descriptors (no orientation): the crops are already aligned by their box, so the
   * orientation only adds noise; a rotation beyond ~15 degrees then no longer matches.
   */
  upright: boolean;
}

/** Default settings (see each field). */
export const DEFAULT_LOCAL: Readonly<LocalSettings> = Object.freeze({ height: 256, aspect: DEFAULT_CROP.aspect, margin: DEFAULT_CROP.margin, maxKeypoints: 800, threshold: 0.0005, upright: true });

/** Keypoints of one photo: positions in the keypoint crop and one descriptor each. */
export interface LocalFeatures {
  /** x0, y0, x1, y1, ... in crop pixels. */
  xy: Float32Array;
  /** count x {@link DESCRIPTOR_LENGTH} floats. */
  descriptors: Float32Array;
}

/** Number of keypoints of a photo's features. */
export const keypointCount = (f: LocalFeatures): number => f.xy.length / 2;

/**
 * Checks settings, naming the first bad field.
 *
 * @param s - settings to check
 * @returns the same settings
 * @throws {@link WhaleidError} for a field outside its range
 */
export function checkLocalSettings(s: LocalSettings): LocalSettings {
  if (!(Number.isInteger(s.height) && s.height >= 32 && s.height <= 2048)) throw invalidParameterError('local height', 'an integer between 32 and 2048', s.height);
  if (!(s.aspect >= 0.25 && s.aspect <= 8)) throw invalidParameterError('local aspect', 'a number between 0.25 and 8', s.aspect);
  if (!(s.margin >= 0 && s.margin <= 1)) throw invalidParameterError('local margin', 'a number between 0 and 1', s.margin);
  if (!(Number.isInteger(s.maxKeypoints) && s.maxKeypoints >= 1 && s.maxKeypoints <= 10000)) throw invalidParameterError('local maxKeypoints', 'an integer between 1 and 10000', s.maxKeypoints);
  if (!(s.threshold > 0 && s.threshold < 1)) throw invalidParameterError('local threshold', 'a number in (0, 1)', s.threshold);
  return s;
}

/** One text naming the settings: what a cached description depends on besides the photo. */
export function localSettingsKey(s: LocalSettings): string {
  return `akaze-kaze64:v1:h=${s.height}:a=${s.aspect}:m=${s.margin}:n=${s.maxKeypoints}:t=${s.threshold}:u=${s.upright ? 1 : 0}`;
}

/** Width of the keypoint crop for settings. */
export const localCropWidth = (s: LocalSettings): number => Math.round(s.height * s.aspect);

/**
 * Where the keypoint crop's pixels come from: the matrix that maps a keypoint crop position (x, y)
 * to the position in the original (upright) photo, as {@link loadLocalCrop} samples it. Keypoint
 * positions ({@link LocalFeatures.xy}) go back to the photo through it (`applyToPoint`).
 *
 * @param size - the photo's original width and height (upright)
 * @param request - box, rotate flag and augmentation of the crop
 * @param settings - crop size, aspect and margin
 * @returns a 3x3 matrix, row-major (crop pixel -> photo pixel)
 * @example
 * applyToPoint(localCropMatrix({ width: 1000, height: 600 }, { file: 'a.jpg' }, DEFAULT_LOCAL), 10, 20);
 */
export function localCropMatrix(size: { width: number; height: number }, request: Pick<CropRequest, 'box' | 'augmentation' | 'rotate180'>, settings: Pick<LocalSettings, 'height' | 'aspect' | 'margin'>): Matrix3 {
  const height = settings.height;
  const width = Math.round(settings.height * settings.aspect);
  const square = cropMatrix({
    width: size.width,
    height: size.height,
    box: request.box,
    margin: settings.margin,
    aspect: settings.aspect,
    outputSize: height,
    augmentation: request.augmentation,
    rotate180: request.rotate180,
  });
  // output column u' of the wide crop is column u = (u' + 0.5) h / w - 0.5 of the square one
  const r = height / width;
  return compose(square, [r, 0, 0.5 * r - 0.5, 0, 1, 0, 0, 0, 1]);
}

/**
 * The keypoint crop of a photo: the same box (turned by its `theta`, an annotation's rotation),
 * margin, aspect padding, rotate flag and augmentation as the network's crop ({@link cropMatrix}),
 * so a turned annotation is described along its box, but not squeezed onto a square: the
 * region keeps its aspect, `height` pixels high, so stripes and notches keep their shape. Pixels
 * are normalised like the network's input and mapped to 0..255 (128 + 48 sigma, clipped), so the
 * detector threshold means the same contrast on every photo.
 *
 * @param cache - reduced greyscale copies (decoded at >= the crop's width for sharp keypoints)
 * @param request - photo, box, rotate flag, augmentation
 * @param settings - crop size and aspect
 * @returns width*height 8-bit pixels
 * @throws {@link WhaleidError} when the photo cannot be read
 * @example
 * const crop = await loadLocalCrop(cache, { file: 'train/a.jpg' }, DEFAULT_LOCAL);
 */
export async function loadLocalCrop(cache: ImageCache, request: CropRequest, settings: LocalSettings): Promise<{ width: number; height: number; pixels: Uint8Array }> {
  const img = await cache.load(request.file);
  const height = settings.height;
  const width = localCropWidth(settings);
  const m = localCropMatrix({ width: img.originalWidth, height: img.originalHeight }, request, settings);
  const x = sampleCropRect(img, m, width, height);
  const pixels = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) pixels[i] = Math.max(0, Math.min(255, Math.round(128 + 48 * x[i])));
  return { width, height, pixels };
}

/**
 * AKAZE keypoints of a crop with KAZE's 64-float descriptors (L2-comparable, which the
 * nearest-neighbour index needs), the `maxKeypoints` strongest kept (ties by position, so the
 * result is deterministic).
 *
 * @param cv - the OpenCV module
 * @param crop - 8-bit pixels
 * @param settings - threshold, keypoint count, upright
 * @returns keypoint positions and descriptors
 * @example
 * const f = describeCrop(await loadOpenCv(), crop, DEFAULT_LOCAL);
 */
export function describeCrop(cv: Cv, crop: { width: number; height: number; pixels: Uint8Array }, settings: LocalSettings): LocalFeatures {
  const img = cv.matFromArray(crop.height, crop.width, cv.CV_8UC1, crop.pixels);
  const mask = new cv.Mat();
  const kps = new cv.KeyPointVector();
  const desc = new cv.Mat();
  const akaze = new cv.AKAZE();
  try {
    akaze.setDescriptorType(settings.upright ? cv.AKAZE_DescriptorType.DESCRIPTOR_KAZE_UPRIGHT : cv.AKAZE_DescriptorType.DESCRIPTOR_KAZE);
    akaze.setThreshold(settings.threshold);
    akaze.detectAndCompute(img, mask, kps, desc, false);
    const n = kps.size();
    const all = Array.from({ length: n }, (_, i) => {
      const k = kps.get(i);
      return { i, x: k.pt.x, y: k.pt.y, r: k.response };
    });
    all.sort((a, b) => b.r - a.r || a.y - b.y || a.x - b.x);
    const kept = all.slice(0, settings.maxKeypoints);
    const xy = new Float32Array(2 * kept.length);
    const descriptors = new Float32Array(DESCRIPTOR_LENGTH * kept.length);
    const src = desc.data32F;
    kept.forEach((k, j) => {
      xy[2 * j] = k.x;
      xy[2 * j + 1] = k.y;
      descriptors.set(src.subarray(k.i * DESCRIPTOR_LENGTH, (k.i + 1) * DESCRIPTOR_LENGTH), j * DESCRIPTOR_LENGTH);
    });
    return { xy, descriptors };
  } catch (err) {
    throw openCvError(cv, err);
  } finally {
    for (const o of [img, mask, kps, desc, akaze]) o.delete();
  }
}

/**
 * Loads a photo's keypoint crop and describes it.
 *
 * @param cache - reduced greyscale copies
 * @param request - photo, box, rotate flag, augmentation
 * @param settings - see {@link LocalSettings}
 * @returns the photo's local features
 * @throws {@link WhaleidError} when the photo cannot be read
 * @example
 * const f = await describePhoto(cache, { file: 'train/a.jpg' }, DEFAULT_LOCAL);
 */
export async function describePhoto(cache: ImageCache, request: CropRequest, settings: LocalSettings): Promise<LocalFeatures> {
  const cv = await loadOpenCv();
  return describeCrop(cv, await loadLocalCrop(cache, request, settings), settings);
}
