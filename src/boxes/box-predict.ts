/**
 * Fluke boxes for photos that have none: the box model run by ONNX Runtime on the whole photo,
 * the 4 outputs mapped back to photo pixels. Predicted boxes can be cached by photo content, so a
 * second prediction over the same photos costs only reading them.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Box } from '../image/affine.js';
import type { GreyImage } from '../image/decode.js';
import { createImageCache, type ImageCache } from '../image/image-cache.js';
import { decodeSideFor } from '../image/crop.js';
import { sampleCrop } from '../image/sample.js';
import { decodeOnnxModel } from '../model/onnx/onnx-proto.js';
import { createOrtModel, type OrtSessionOptions } from '../infer/ort-session.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { mapPool } from '../util/pool.js';
import { WhaleidError } from '../util/errors.js';
import { BOX_MODEL_FILES, boxInputMatrix, outputToBox, type BoxModelSpec } from './box-spec.js';

/** An open box model. */
export interface BoxDetector {
  /** Input size and aspect, read from the model file. */
  readonly spec: Pick<BoxModelSpec, 'inputSize' | 'aspect'>;
  /** The model file and the SHA-256 of its bytes (the key of cached predictions). */
  readonly file: string;
  readonly hash: string;
  /**
   * Boxes of decoded photos, in photo pixels.
   *
   * @param images - decoded photos (any reduction: boxes come back in original pixels)
   * @returns one box per photo
   */
  detect(images: readonly GreyImage[]): Promise<Box[]>;
  /** Releases the session. */
  dispose(): Promise<void>;
}

/**
 * Opens a box model: a folder holding `model.onnx` (as written by `whaleid boxes train`) or an
 * `.onnx` file. Its input size and aspect come from the file's metadata.
 *
 * @param location - folder or file
 * @param options - ONNX Runtime threads and spinning
 * @returns the detector
 * @throws {@link WhaleidError} when the file is missing or is not a box model
 * @example
 * const detector = await openBoxDetector(shippedBoxModelDir());
 * const [box] = await detector.detect([await decodeGrey('photo.jpg', { maxSide: 384 })]);
 */
export async function openBoxDetector(location: string, options: OrtSessionOptions = {}): Promise<BoxDetector> {
  const file = location.endsWith('.onnx') ? location : path.join(location, BOX_MODEL_FILES.onnx);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new WhaleidError(`Cannot read box model ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; train one with whaleid boxes train`);
  }
  const meta = new Map((decodeOnnxModel(bytes).metadataProps ?? []).map((p) => [p.key, p.value]));
  const aspect = Number(meta.get('whaleid.aspect'));
  if (meta.get('whaleid.kind') !== 'fluke-boxes' || !(aspect > 0)) throw new WhaleidError(`${file} is not a whaleid box model (no fluke-boxes metadata)`);
  const session = await createOrtModel(bytes, options);
  if (session.featureCount !== 4 || session.channels !== 1) {
    await session.dispose();
    throw new WhaleidError(`${file} is not a box model: expected 4 outputs from one greyscale channel`);
  }
  const spec = { inputSize: session.inputSize, aspect };
  const S = spec.inputSize;
  return {
    spec,
    file,
    hash: createHash('sha256').update(bytes).digest('hex'),
    async detect(images) {
      const boxes: Box[] = [];
      for (let i = 0; i < images.length; i += 16) {
        const part = images.slice(i, i + 16);
        const batch = new Float32Array(part.length * S * S);
        const matrices = part.map((img) => boxInputMatrix(img.originalWidth, img.originalHeight, spec));
        part.forEach((img, k) => batch.set(sampleCrop(img, matrices[k], S), k * S * S));
        const y = await session.features(batch, part.length);
        part.forEach((img, k) => boxes.push(outputToBox(y, matrices[k], S, img.originalWidth, img.originalHeight, 4 * k)));
      }
      return boxes;
    },
    dispose: () => session.dispose(),
  };
}

/**
 * The decoded-photo cache a detector should read through: copies reduced to 3x its input side,
 * as in training (so both see the same pixels).
 *
 * @param detector - the detector
 * @param dir - cache folder, or none
 * @returns the cache
 */
export function boxImageCache(detector: Pick<BoxDetector, 'spec'>, dir?: string): ImageCache {
  return createImageCache({ dir, maxSide: decodeSideFor(detector.spec.inputSize) });
}

/** A photo to find the fluke in. */
export interface PhotoToBox {
  /** Name used in CSVs. */
  image: string;
  file: string;
}

/** Options of {@link predictBoxes}. */
export interface PredictBoxesOptions {
  /** Decoded-photo cache; default an uncached one sized for the detector. */
  cache?: ImageCache;
  /**
   * JSON file of earlier predictions keyed by photo content (SHA-256) and model: those photos are
   * not run again, new ones are added. Safe across datasets and renames.
   */
  cacheFile?: string;
  /** After each photo. */
  onProgress?: (done: number, total: number) => void;
}

/** The result of {@link predictBoxes}. */
export interface PredictedBoxes {
  /** Image name -> box, for every photo that could be read. */
  boxes: Map<string, Box>;
  /** One message per photo that could not be read. */
  failures: string[];
  /** Photos answered from the cache file. */
  cached: number;
}

interface CacheFile {
  version: 1;
  model: string;
  boxes: Record<string, [number, number, number, number]>;
}

async function readCacheFile(file: string, model: string): Promise<CacheFile> {
  const empty: CacheFile = { version: 1, model, boxes: {} };
  if (!existsSync(file)) return empty;
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as CacheFile;
    return parsed?.version === 1 && parsed.model === model && typeof parsed.boxes === 'object' ? parsed : empty;
  } catch {
    return empty; // a torn or foreign file: predict again and replace it
  }
}

/**
 * Predicts the fluke box of each photo (decoded 4 at a time, run 16 at a time).
 *
 * @param detector - an open box model
 * @param photos - names and files
 * @param options - cache, cache file, progress
 * @returns boxes by image name, failures, and how many came from the cache file
 * @example
 * const { boxes } = await predictBoxes(detector, ds.test, { cacheFile: 'run/predicted-boxes.json' });
 */
export async function predictBoxes(detector: BoxDetector, photos: readonly PhotoToBox[], options: PredictBoxesOptions = {}): Promise<PredictedBoxes> {
  const cache = options.cache ?? boxImageCache(detector);
  const stored = options.cacheFile ? await readCacheFile(options.cacheFile, detector.hash) : null;
  const boxes = new Map<string, Box>();
  const failures: string[] = [];
  let cached = 0;
  let done = 0;
  const chunk = 64;
  for (let i = 0; i < photos.length; i += chunk) {
    const part = photos.slice(i, i + chunk);
    const loaded = await mapPool(part, 4, async (p) => {
      const key = stored ? createHash('sha256').update(await fs.readFile(p.file)).digest('hex') : '';
      const hit = stored?.boxes[key];
      return { key, hit, img: hit ? null : await cache.load(p.file) };
    });
    const todo: { image: string; key: string; img: GreyImage }[] = [];
    loaded.forEach((o, k) => {
      if (!o.ok) failures.push(o.error.message);
      else if (o.value.hit) {
        const [x0, y0, x1, y1] = o.value.hit;
        boxes.set(part[k].image, { x0, y0, x1, y1 });
        cached++;
      } else todo.push({ image: part[k].image, key: o.value.key, img: o.value.img! });
    });
    const found = await detector.detect(todo.map((t) => t.img));
    todo.forEach((t, k) => {
      boxes.set(t.image, found[k]);
      if (stored) stored.boxes[t.key] = [found[k].x0, found[k].y0, found[k].x1, found[k].y1];
    });
    done += part.length;
    options.onProgress?.(done, photos.length);
  }
  if (stored && options.cacheFile && cached < boxes.size) await writeFileAtomic(options.cacheFile, JSON.stringify(stored));
  return { boxes, failures, cached };
}
