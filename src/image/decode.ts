import sharp from 'sharp';
import { WhaleidError, invalidParameterError } from '../util/errors.js';
import { checkPhotoHeader, readPhotoBytes, DEFAULT_MAX_PIXELS } from './photo-policy.js';

export { DEFAULT_MAX_PIXELS };

/** Full decodes of a photo's pixels by this process (decodeGrey, decodePhoto): what a test counts. */
let decodes = 0;

/**
 * How many times this process decoded a photo's pixels in full (decodeGrey and decodePhoto;
 * header reads and reductions of a decoded photo do not count). Why: an upload should decode its
 * photo once, and a test can only hold that by counting.
 *
 * @returns the count since the process started
 * @example
 * const before = decodeCount(); await decodeGrey('a.jpg'); decodeCount() - before; // 1
 */
export function decodeCount(): number {
  return decodes;
}

/**
 * A greyscale photo as 8-bit pixels, possibly reduced in size. `scale` maps original pixel-index
 * coordinates to this image's: x_here = (x_orig + 0.5) * scale - 0.5 (the same for y).
 */
export interface GreyImage {
  width: number;
  height: number;
  /** Row-major pixels, 0..255. */
  data: Uint8Array;
  /** Size of the photo as stored (after EXIF orientation). */
  originalWidth: number;
  originalHeight: number;
  /** this size / original size (<= 1). */
  scale: number;
  /** Channels of the stored photo before greyscale conversion (1-4); used by the duplicate rule. */
  sourceChannels: number;
}

/** Options of {@link decodeGrey}. */
export interface DecodeOptions {
  /**
   * Refuse photos with more pixels than this (decompression bombs). Default 100 megapixels: well
   * above any camera photo, far below what would exhaust memory.
   */
  maxPixels?: number;
  /** Reduce the photo so its longer side is at most this (never enlarged). Default: no limit. */
  maxSide?: number;
}

/**
 * Decodes a JPEG/PNG/WebP/TIFF photo to greyscale: EXIF orientation applied, alpha dropped,
 * 8 or 16 bits per sample read, optionally reduced (with libvips' shrink-on-load, which is what
 * makes large JPEGs fast).
 *
 * @param file - path of the photo, or its bytes (then `name` is used in messages)
 * @param options - see {@link DecodeOptions}
 * @param name - how to name the photo in errors (default: the path)
 * @returns the greyscale image
 * @throws {@link WhaleidError} naming the photo: missing, empty, not an accepted format (the input
 *   policy of photo-policy.ts: an SVG named .jpg is refused here as in the catalog), truncated or
 *   corrupt, or over the pixel limit
 * @example
 * const img = await decodeGrey('train/0000e88ab.jpg', { maxSide: 1024 });
 */
export async function decodeGrey(file: string | Buffer, options: DecodeOptions = {}, name?: string): Promise<GreyImage> {
  const label = name ?? (typeof file === 'string' ? file : 'photo');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(maxPixels >= 1)) throw invalidParameterError('maxPixels', 'a positive number', maxPixels);
  const bytes = typeof file === 'string' ? await readPhotoBytes(file) : file;
  await checkPhotoHeader(bytes, label, maxPixels);
  try {
    return await greyPixels(bytes, maxPixels, options.maxSide, 'truncated');
  } catch (err) {
    throw new WhaleidError(`${label}: ${explainDecodeError((err as Error).message)}`);
  }
}

/**
 * The one pipeline of decodeGrey and decodePhoto, so that both give the same pixels: oriented,
 * reduced while decoding (libvips' shrink-on-load for JPEG and WebP, then Lanczos 3, in colour),
 * alpha dropped, greyscale last.
 */
async function greyPixels(bytes: Buffer, maxPixels: number, maxSide: number | undefined, failOn: 'truncated' | 'error'): Promise<GreyImage> {
  decodes++;
  const img = sharp(bytes, { limitInputPixels: maxPixels, failOn, sequentialRead: true });
  const meta = await img.metadata();
  const swap = (meta.orientation ?? 1) >= 5;
  const ow = swap ? meta.height! : meta.width!;
  const oh = swap ? meta.width! : meta.height!;
  let pipeline = img.rotate();
  if (maxSide && Math.max(ow, oh) > maxSide) {
    pipeline = pipeline.resize({ width: ow >= oh ? maxSide : undefined, height: oh > ow ? maxSide : undefined, kernel: 'lanczos3', fit: 'inside' });
  }
  const { data, info } = await pipeline.removeAlpha().toColourspace('b-w').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`unexpected ${info.channels} channels after greyscale conversion`);
  return {
    width: info.width,
    height: info.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    originalWidth: ow,
    originalHeight: oh,
    scale: info.width / ow,
    sourceChannels: meta.channels ?? 1,
  };
}

/** A photo decoded once (an upload's): the input policy's header facts and its greyscale pixels. */
export interface DecodedPhoto {
  /** sharp's format name (jpeg, png, webp, tiff). */
  format: string;
  /** Size as stored (after EXIF orientation), as the header says. */
  width: number;
  height: number;
  /** The reduction it was decoded at (none: full size); an image cache of these settings can serve it. */
  maxSide: number | undefined;
  /** Its pixels as decodeGrey with this `maxSide` gives them, bit for bit. */
  grey: GreyImage;
}

/**
 * Decodes an uploaded photo once: the input policy's header check, then every pixel, strictly (a
 * warning of libvips refuses the photo) and reduced as the features' image cache reduces, so the
 * same decode is the catalog's integrity check ({@link inspectPhoto} in the catalog takes it) and
 * the image the features are computed on (`ImageCache.withDecoded`). Why not one full-size decode
 * reduced for each use: JPEG and WebP are reduced while decoding (in the DCT) and in colour, so a
 * reduction of a full greyscale decode differs from decodeGrey's pixels (up to 14 grey levels),
 * and the features of an upload must equal those computed from its file.
 *
 * @param bytes - the photo's bytes
 * @param name - how to name the photo in errors (the client's file name)
 * @param options - pixel limit and the reduction (the features' decode side)
 * @returns the header facts and the greyscale pixels
 * @throws {@link WhaleidError} (an `UnsupportedPhotoError` for a type that is not accepted) naming
 *   the photo: empty, not an accepted format, over the pixel limit, corrupt or truncated
 * @example
 * const decoded = await decodePhoto(await readFile('a.jpg'), 'a.jpg', { maxSide: decodeSideFor(224) });
 */
export async function decodePhoto(bytes: Buffer, name: string, options: DecodeOptions = {}): Promise<DecodedPhoto> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const { format, width, height } = await checkPhotoHeader(bytes, name, maxPixels);
  try {
    return { format, width, height, maxSide: options.maxSide, grey: await greyPixels(bytes, maxPixels, options.maxSide, 'error') };
  } catch (e) {
    throw new WhaleidError(`${name}: corrupt or truncated ${format} (${(e as Error).message.split('\n')[0]})`);
  }
}

function explainDecodeError(message: string): string {
  if (/unsupported image format/i.test(message)) return 'not an image (unsupported format); expected a JPEG, PNG, WebP or TIFF photo';
  if (/pixel limit/i.test(message)) return 'image exceeds the pixel limit (possible decompression bomb); raise maxPixels if it is a real photo';
  if (/premature end|truncated|corrupt|not a JPEG|bad|invalid|read error|unexpected end/i.test(message)) {
    return `truncated or corrupt image (${message.split('\n')[0].trim()})`;
  }
  return `cannot decode (${message.split('\n')[0].trim()})`;
}
