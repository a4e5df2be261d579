/**
 * The input of an imported embedding model (`whaleid model import`): a photo decoded in colour,
 * cut to its box, resized by the model's policy and normalised per channel, as the model's
 * authors preprocessed their training photos. Trained whaleid runs use the greyscale affine crop
 * of `crop.ts` instead; a model from elsewhere expects what it was trained on, which
 * `preprocessing.json` records beside it.
 */
import sharp from 'sharp';
import { WhaleidError } from '../util/errors.js';
import { mapPool } from '../util/pool.js';
import type { Box } from './affine.js';
import { checkPhotoHeader, DEFAULT_MAX_PIXELS, readPhotoBytes } from './photo-policy.js';

/** How a photo (or its box) is brought to the square input. */
export type ResizePolicy = 'squash' | 'crop' | 'pad';
/** The channels the model reads, in order (`grey`: one channel). */
export type ChannelOrder = 'rgb' | 'bgr' | 'grey';
/** Where the channel axis is: PyTorch exports NCHW, TensorFlow/Keras NHWC. */
export type TensorLayout = 'nchw' | 'nhwc';

/** The values {@link ResizePolicy}, {@link ChannelOrder} and {@link TensorLayout} may take. */
export const RESIZE_POLICIES: readonly ResizePolicy[] = Object.freeze(['squash', 'crop', 'pad']);
export const CHANNEL_ORDERS: readonly ChannelOrder[] = Object.freeze(['rgb', 'bgr', 'grey']);
export const TENSOR_LAYOUTS: readonly TensorLayout[] = Object.freeze(['nchw', 'nhwc']);

/** An imported model's preprocessing (its `preprocessing.json`). */
export interface Preprocessing {
  /** Input side S in pixels (square input). */
  inputSize: number;
  channels: ChannelOrder;
  layout: TensorLayout;
  /**
   * `squash`: the box stretched to the square; `crop`: its shorter side scaled to S and the centre
   * cut out (torchvision's Resize + CenterCrop); `pad`: its longer side scaled to S and the rest
   * filled with the mean colour (which normalises to 0).
   */
  resize: ResizePolicy;
  /** Pixels are scaled to 0..range before mean and std: 1 for most PyTorch models, 255 for some. */
  range: number;
  /** Per channel, in the model's channel order: x = (pixel - mean) / std. */
  mean: number[];
  std: number[];
  /** Share of the box added on each side before cutting (clipped to the photo). */
  margin: number;
}

/** The defaults of {@link checkPreprocessing}: torchvision's ImageNet normalisation at 224 px. */
export const DEFAULT_PREPROCESSING: Readonly<Preprocessing> = Object.freeze({
  inputSize: 224, channels: 'rgb', layout: 'nchw', resize: 'squash', range: 1,
  mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], margin: 0,
});

/** Channels a {@link ChannelOrder} gives the model. */
export function channelCount(order: ChannelOrder): number {
  return order === 'grey' ? 1 : 3;
}

/**
 * Checks a preprocessing object (from preprocessing.json or the import's flags), filling the
 * fields it lacks from {@link DEFAULT_PREPROCESSING}.
 *
 * @param value - the parsed object
 * @param source - what it was read from, for messages (a file path)
 * @returns the complete preprocessing
 * @throws {@link WhaleidError} naming `source`, the field and what was expected
 * @example
 * checkPreprocessing({ inputSize: 64, resize: 'crop' }, 'models/a/preprocessing.json');
 */
export function checkPreprocessing(value: unknown, source: string): Preprocessing {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WhaleidError(`${source}: expected a JSON object of preprocessing settings`);
  const known = Object.keys(DEFAULT_PREPROCESSING);
  const unknown = Object.keys(value).find((k) => !known.includes(k));
  if (unknown !== undefined) throw new WhaleidError(`${source}: unknown field "${unknown}"; expected ${known.join(', ')}`);
  const p = { ...DEFAULT_PREPROCESSING, ...(value as Partial<Preprocessing>) };
  const bad = (field: string, expected: string): WhaleidError => new WhaleidError(`${source}: expected ${expected} for ${field}, got ${JSON.stringify((p as Record<string, unknown>)[field])}`);
  if (!Number.isSafeInteger(p.inputSize) || p.inputSize < 8 || p.inputSize > 4096) throw bad('inputSize', 'an integer between 8 and 4096');
  if (!CHANNEL_ORDERS.includes(p.channels)) throw bad('channels', CHANNEL_ORDERS.join(', '));
  if (!TENSOR_LAYOUTS.includes(p.layout)) throw bad('layout', TENSOR_LAYOUTS.join(', '));
  if (!RESIZE_POLICIES.includes(p.resize)) throw bad('resize', RESIZE_POLICIES.join(', '));
  if (typeof p.range !== 'number' || !(p.range > 0) || !Number.isFinite(p.range)) throw bad('range', 'a positive number (1 or 255)');
  if (typeof p.margin !== 'number' || !(p.margin >= 0 && p.margin <= 1)) throw bad('margin', 'a number between 0 and 1');
  const c = channelCount(p.channels);
  for (const k of ['mean', 'std'] as const) {
    const v = p[k];
    // one value for a grey model given ImageNet's three: refused rather than guessed
    if (!Array.isArray(v) || v.length !== c || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw bad(k, `${c} numbers (one per ${p.channels} channel)`);
    if (k === 'std' && v.some((x) => !(x > 0))) throw bad(k, 'positive numbers');
  }
  return { inputSize: p.inputSize, channels: p.channels, layout: p.layout, resize: p.resize, range: p.range, mean: [...p.mean], std: [...p.std], margin: p.margin };
}

/** One photo as an imported model sees it. */
export interface EmbeddingRequest {
  file: string;
  /** Box in the photo's pixels (after EXIF orientation); the whole photo when absent. */
  box?: Box;
  /** Turn the photo 180 degrees (Kaggle's rotate.txt). */
  rotate180?: boolean;
}

/** The box with its margin, in whole pixels inside the photo; the whole photo when there is none. */
function cutRegion(box: Box | undefined, width: number, height: number, margin: number): { left: number; top: number; width: number; height: number } {
  if (!box) return { left: 0, top: 0, width, height };
  const mx = (box.x1 - box.x0) * margin;
  const my = (box.y1 - box.y0) * margin;
  const left = Math.max(0, Math.min(width - 1, Math.floor(box.x0 - mx)));
  const top = Math.max(0, Math.min(height - 1, Math.floor(box.y0 - my)));
  const right = Math.max(left + 1, Math.min(width, Math.ceil(box.x1 + mx)));
  const bottom = Math.max(top + 1, Math.min(height, Math.ceil(box.y1 + my)));
  return { left, top, width: right - left, height: bottom - top };
}

/**
 * Decodes one photo to 8-bit pixels of the model's input: EXIF orientation applied, box cut,
 * resized by the policy, turned when asked; S*S*3 RGB bytes (grey models: S*S bytes).
 */
async function inputPixels(request: EmbeddingRequest, pre: Preprocessing, maxPixels: number): Promise<Uint8Array> {
  const bytes = await readPhotoBytes(request.file);
  await checkPhotoHeader(bytes, request.file, maxPixels);
  const S = pre.inputSize;
  try {
    const meta = await sharp(bytes, { limitInputPixels: maxPixels }).metadata();
    const swap = (meta.orientation ?? 1) >= 5;
    const region = cutRegion(request.box, swap ? meta.height! : meta.width!, swap ? meta.width! : meta.height!, pre.margin);
    const fill = pre.mean.map((m) => Math.round(Math.min(255, Math.max(0, (m / pre.range) * 255))));
    const background = pre.channels === 'grey' ? { r: fill[0], g: fill[0], b: fill[0] } : pre.channels === 'rgb' ? { r: fill[0], g: fill[1], b: fill[2] } : { r: fill[2], g: fill[1], b: fill[0] };
    const fit = pre.resize === 'squash' ? 'fill' : pre.resize === 'crop' ? 'cover' : 'contain';
    let img = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated' }).autoOrient().extract(region).resize(S, S, { fit, position: 'centre', background, kernel: 'lanczos3' });
    if (request.rotate180) img = img.flip().flop();
    img = img.removeAlpha().toColourspace(pre.channels === 'grey' ? 'b-w' : 'srgb');
    const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const want = channelCount(pre.channels);
    if (info.width !== S || info.height !== S || info.channels !== want) throw new Error(`unexpected ${info.width}x${info.height}x${info.channels} pixels after resizing`);
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (err) {
    throw new WhaleidError(`${request.file}: cannot be read as a photo (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * One photo as the model's input tensor: pixels scaled to 0..range, then (x - mean) / std per
 * channel, in the model's channel order and layout (NCHW: channel planes; NHWC: pixels).
 *
 * @param request - photo, box, rotate flag
 * @param pre - the model's preprocessing
 * @param maxPixels - refuse photos above this many pixels (decompression bombs)
 * @returns C*S*S float32 values
 * @throws {@link WhaleidError} naming the photo when it cannot be read or is over the limit
 * @example
 * const x = await embeddingInput({ file: 'a.jpg', box }, pre); // 3 * 224 * 224 values
 */
export async function embeddingInput(request: EmbeddingRequest, pre: Preprocessing, maxPixels = DEFAULT_MAX_PIXELS): Promise<Float32Array> {
  const px = await inputPixels(request, pre, maxPixels);
  const C = channelCount(pre.channels);
  const P = pre.inputSize * pre.inputSize;
  const out = new Float32Array(C * P);
  const k = pre.range / 255;
  for (let c = 0; c < C; c++) {
    // sharp gives RGB; a BGR model's channel c is RGB's 2 - c
    const src = pre.channels === 'bgr' ? 2 - c : c;
    const mean = pre.mean[c];
    const inv = 1 / pre.std[c];
    for (let i = 0; i < P; i++) {
      const v = (px[i * C + src] * k - mean) * inv;
      if (pre.layout === 'nchw') out[c * P + i] = v;
      else out[i * C + c] = v;
    }
  }
  return out;
}

/**
 * Several photos' input tensors in one buffer, photo after photo, decoding 4 at a time.
 *
 * @param requests - the photos
 * @param pre - the model's preprocessing
 * @param maxPixels - refuse photos above this many pixels
 * @returns requests.length * C * S * S float32 values
 * @throws {@link WhaleidError} naming the first photo that could not be read
 * @example
 * const batch = await embeddingInputBuffer(photos, pre);
 */
export async function embeddingInputBuffer(requests: readonly EmbeddingRequest[], pre: Preprocessing, maxPixels = DEFAULT_MAX_PIXELS): Promise<Float32Array> {
  const per = channelCount(pre.channels) * pre.inputSize * pre.inputSize;
  const buf = new Float32Array(requests.length * per);
  const outcomes = await mapPool(requests, 4, async (r, i) => buf.set(await embeddingInput(r, pre, maxPixels), i * per));
  const bad = outcomes.find((o) => !o.ok);
  if (bad && !bad.ok) throw new WhaleidError(bad.error.message);
  return buf;
}
