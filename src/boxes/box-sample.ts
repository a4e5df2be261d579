/**
 * Training samples of the box model: a photo (or a tighter cut of it), augmented with the
 * method's affine ranges, on the model's input square, with its box carried through the same
 * matrix.
 */
import { invert, randomAugmentation, type Box } from '../image/affine.js';
import type { GreyImage } from '../image/decode.js';
import { normaliseInPlace, sampleCrop } from '../image/sample.js';
import type { Rng } from '../util/random.js';
import { boxInputMatrix, boxToTarget, type BoxModelSpec } from './box-spec.js';
import { clipBox, transformBox } from './box-transform.js';

/** How training samples are varied. */
export interface BoxAugmentOptions {
  /** The method's affine augmentation (rotation, shear, zoom, shift). Default true. */
  affine?: boolean;
  /**
   * Chance of cutting the photo down to a random window around the fluke first (margins of
   * -10% to +60% of the box on each side), so the fluke fills more of the frame or is cut by its
   * edge, as in many real photos; the box is then clipped to the window. Default 0.5.
   */
  cutChance?: number;
  /** Chance of mirroring left-right. Default 0.5. */
  flipChance?: number;
  /** Contrast: a gamma drawn log-uniformly in [1/g, g] before normalisation. Default 1.6; 1 = off. */
  gamma?: number;
}

/** No variation: the photo as prediction sees it. */
export const NO_BOX_AUGMENTATION: Readonly<Required<BoxAugmentOptions>> = Object.freeze({ affine: false, cutChance: 0, flipChance: 0, gamma: 1 });

/** One training sample. */
export interface BoxSample {
  /** inputSize^2 floats, mean 0 / std 1. */
  pixels: Float32Array;
  /** The 4 targets (see `boxToTarget`), clipped to [0, 1]. */
  target: [number, number, number, number];
}

/**
 * A window of a decoded photo as a photo of its own: pixels `[rx0, rx1] x [ry0, ry1]` of the
 * reduced copy (inclusive), with original-pixel coordinates shifted so the window starts at 0.
 *
 * @param img - decoded photo
 * @param rx0 - first column of the reduced copy (and ry0, rx1, ry1 likewise, inclusive)
 * @returns the window and the original-pixel offset of its origin
 */
export function cutImage(img: GreyImage, rx0: number, ry0: number, rx1: number, ry1: number): { image: GreyImage; dx: number; dy: number } {
  const w = rx1 - rx0 + 1;
  const h = ry1 - ry0 + 1;
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) data.set(img.data.subarray((ry0 + y) * img.width + rx0, (ry0 + y) * img.width + rx0 + w), y * w);
  // Reduced pixel r sits at original (r + 0.5) / scale - 0.5; keeping `scale`, the window's
  // original frame is the photo's shifted by rx0 / scale.
  const image: GreyImage = { width: w, height: h, data, originalWidth: w / img.scale, originalHeight: h / img.scale, scale: img.scale, sourceChannels: img.sourceChannels };
  return { image, dx: rx0 / img.scale, dy: ry0 / img.scale };
}

/**
 * Draws one training sample of a photo with a known box: an optional cut around the fluke, then
 * the whole (cut) photo on the input square with the method's augmentation and an optional
 * mirror, a contrast change, and the box carried through the same matrix (side midpoints, see
 * `transformBox`), clipped to the square.
 *
 * @param img - decoded photo
 * @param box - its fluke box (original pixels)
 * @param spec - input size and aspect
 * @param rng - this sample's generator (consumed)
 * @param options - see {@link BoxAugmentOptions}
 * @returns pixels and targets
 * @example
 * const { pixels, target } = drawBoxSample(img, box, DEFAULT_BOX_MODEL, createRng(3));
 */
export function drawBoxSample(img: GreyImage, box: Box, spec: Pick<BoxModelSpec, 'inputSize' | 'aspect'>, rng: Rng, options: BoxAugmentOptions = {}): BoxSample {
  const o = { affine: true, cutChance: 0.5, flipChance: 0.5, gamma: 1.6, ...options };
  let image = img;
  let b = box;
  if (o.cutChance > 0 && rng.chance(o.cutChance)) {
    const bw = box.x1 - box.x0;
    const bh = box.y1 - box.y0;
    const s = img.scale;
    const toReduced = (v: number): number => (v + 0.5) * s - 0.5;
    const rx0 = Math.max(0, Math.floor(toReduced(box.x0 - bw * rng.uniform(-0.1, 0.6))));
    const rx1 = Math.min(img.width - 1, Math.ceil(toReduced(box.x1 + bw * rng.uniform(-0.1, 0.6))));
    const ry0 = Math.max(0, Math.floor(toReduced(box.y0 - bh * rng.uniform(-0.1, 0.6))));
    const ry1 = Math.min(img.height - 1, Math.ceil(toReduced(box.y1 + bh * rng.uniform(-0.1, 0.6))));
    if (rx1 - rx0 >= 8 && ry1 - ry0 >= 8) {
      const cut = cutImage(img, rx0, ry0, rx1, ry1);
      image = cut.image;
      b = clipBox({ x0: box.x0 - cut.dx, y0: box.y0 - cut.dy, x1: box.x1 - cut.dx, y1: box.y1 - cut.dy }, 0, 0, image.originalWidth - 1, image.originalHeight - 1);
    }
  }
  const aug = o.affine ? randomAugmentation(rng) : undefined;
  const flip = o.flipChance > 0 && rng.chance(o.flipChance);
  const m = boxInputMatrix(image.originalWidth, image.originalHeight, spec, aug, flip);
  const pixels = sampleCrop(image, m, spec.inputSize, false);
  if (o.gamma > 1) {
    const g = Math.exp(rng.uniform(-Math.log(o.gamma), Math.log(o.gamma)));
    for (let i = 0; i < pixels.length; i++) pixels[i] = 255 * Math.pow(Math.max(0, pixels[i]) / 255, g);
  }
  normaliseInPlace(pixels);
  const inInput = transformBox(b, invert(m), 'midpoints');
  const t = boxToTarget(inInput, spec.inputSize);
  return { pixels, target: t.map((v) => Math.min(1, Math.max(0, v))) as BoxSample['target'] };
}
