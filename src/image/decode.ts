import sharp from 'sharp';
import { WhaleidError, invalidParameterError } from '../util/errors.js';
import { checkPhotoHeader, readPhotoBytes, DEFAULT_MAX_PIXELS } from './photo-policy.js';

export { DEFAULT_MAX_PIXELS };

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
    const img = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated', sequentialRead: true });
    const meta = await img.metadata();
    const swap = (meta.orientation ?? 1) >= 5;
    const ow = swap ? meta.height! : meta.width!;
    const oh = swap ? meta.width! : meta.height!;
    let pipeline = img.rotate();
    const side = Math.max(ow, oh);
    if (options.maxSide && side > options.maxSide) {
      pipeline = pipeline.resize({ width: ow >= oh ? options.maxSide : undefined, height: oh > ow ? options.maxSide : undefined, kernel: 'lanczos3', fit: 'inside' });
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
  } catch (err) {
    throw new WhaleidError(`${label}: ${explainDecodeError((err as Error).message)}`);
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
