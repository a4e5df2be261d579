/**
 * Rasterises a {@link PhotoScene}: SVG through sharp/librsvg, optional blur, then a pass over the
 * raw pixels for lighting (brightness, contrast, gamma, colour cast), greyscale and sensor noise,
 * then JPEG. Everything is seeded by the scene, so a scene always gives the same bytes.
 */
import sharp from 'sharp';
import { createRng } from '../../util/random.js';
import type { PhotoScene } from './scene-types.js';
import { sceneToSvg } from './scene-svg.js';

/** A finished photo. */
export interface RenderedPhoto {
  /** JPEG bytes. */
  jpeg: Buffer;
  width: number;
  height: number;
  /** Saved as a one-channel (L) JPEG. */
  greyscale: boolean;
  /** Visible fluke box in the saved photo's pixels, inclusive [x0, y0, x1, y1]. */
  box: [number, number, number, number];
}

/** Options of {@link renderPhoto}. */
export interface RenderOptions {
  /** Save the photo turned by 180 degrees (the box is turned with it). */
  upsideDown?: boolean;
}

/**
 * A fixed field of normal deviates; each photo reads it from its own random offset. Far cheaper
 * than a generator call per pixel, and the noise is still independent of the whale in the photo.
 */
const NOISE_SIZE = 1 << 20;
let noiseField: Float32Array | null = null;
function noise(): Float32Array {
  if (!noiseField) {
    const rng = createRng('synth-noise-field');
    noiseField = new Float32Array(NOISE_SIZE);
    for (let i = 0; i < NOISE_SIZE; i++) noiseField[i] = rng.normal();
  }
  return noiseField;
}

function lookupTable(e: PhotoScene['effects'], gain: number): Uint8Array {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) {
    const g = Math.pow(v / 255, e.gamma);
    const c = ((g - 0.5) * e.contrast + 0.5) * e.brightness * gain;
    lut[v] = Math.max(0, Math.min(255, Math.round(c * 255)));
  }
  return lut;
}

/**
 * Applies lighting, greyscale and noise to raw RGB pixels.
 *
 * @param rgbPixels - interleaved RGB bytes, width * height * 3
 * @param effects - the scene's effects
 * @returns new pixel bytes: RGB, or one channel when `effects.greyscale`
 * @example
 * const out = applyEffects(raw, scene.effects);
 */
export function applyEffects(rgbPixels: Uint8Array, effects: PhotoScene['effects']): Uint8Array {
  const rng = createRng(effects.noiseSeed);
  const field = noise();
  const mask = NOISE_SIZE - 1;
  const lr = lookupTable(effects, effects.gains[0]);
  const lg = lookupTable(effects, effects.gains[1]);
  const lb = lookupTable(effects, effects.gains[2]);
  const n = rgbPixels.length / 3;
  const sigma = effects.noise;
  // Luminance and chroma noise read the field at two unrelated offsets (+0.5 rounds on truncation).
  const o1 = rng.int(NOISE_SIZE);
  const o2 = rng.int(NOISE_SIZE);
  const chroma = 0.35 * sigma;
  if (effects.greyscale) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const j = 3 * i;
      const v = 0.299 * lr[rgbPixels[j]] + 0.587 * lg[rgbPixels[j + 1]] + 0.114 * lb[rgbPixels[j + 2]] + sigma * field[(o1 + i) & mask] + 0.5;
      out[i] = v < 0 ? 0 : v > 255 ? 255 : v | 0;
    }
    return out;
  }
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    // Mostly luminance noise, a little chroma noise, like a camera sensor after demosaicing.
    const common = sigma * field[(o1 + i) & mask] + 0.5;
    const c = chroma * field[(o2 + i) & mask];
    const j = 3 * i;
    const r = lr[rgbPixels[j]] + common + c;
    const g = lg[rgbPixels[j + 1]] + common;
    const b = lb[rgbPixels[j + 2]] + common - c;
    out[j] = r < 0 ? 0 : r > 255 ? 255 : r | 0;
    out[j + 1] = g < 0 ? 0 : g > 255 ? 255 : g | 0;
    out[j + 2] = b < 0 ? 0 : b > 255 ? 255 : b | 0;
  }
  return out;
}

/**
 * Renders a scene to JPEG.
 *
 * @param scene - the photo scene
 * @param options - see {@link RenderOptions}
 * @returns the {@link RenderedPhoto}
 * @example
 * const photo = await renderPhoto(scene);
 * await writeFileAtomic('x.jpg', photo.jpeg);
 */
export async function renderPhoto(scene: PhotoScene, options: RenderOptions = {}): Promise<RenderedPhoto> {
  const { width, height, effects } = scene;
  let pipeline = sharp(Buffer.from(sceneToSvg(scene))).removeAlpha();
  if (effects.blurSigma >= 0.3) pipeline = pipeline.blur(effects.blurSigma);
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 3) {
    throw new Error(`synth render gave ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x3`);
  }
  const pixels = applyEffects(data, effects);
  let out = sharp(pixels, { raw: { width, height, channels: effects.greyscale ? 1 : 3 } });
  let box = scene.box;
  if (options.upsideDown) {
    out = out.rotate(180);
    box = [width - 1 - box[2], height - 1 - box[3], width - 1 - box[0], height - 1 - box[1]];
  }
  // sharp would widen one channel to sRGB on output; b-w keeps Kaggle-like single-channel JPEGs.
  if (effects.greyscale) out = out.toColourspace('b-w');
  const jpeg = await out.jpeg({ quality: effects.quality }).toBuffer();
  return { jpeg, width, height, greyscale: effects.greyscale, box };
}
