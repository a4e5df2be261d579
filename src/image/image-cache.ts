import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decodeGrey, type DecodedPhoto, type DecodeOptions, type GreyImage } from './decode.js';
import { WhaleidError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/** A disk cache of reduced greyscale copies of photos. */
export interface ImageCache {
  /** The reduced greyscale copy of a photo: from the cache, or decoded and stored. */
  load(file: string): Promise<GreyImage>;
  /** Hits and misses so far (for benchmarks and logs). */
  stats(): { hits: number; misses: number };
  /**
   * This cache, but `file` served from a photo decoded already at this cache's reduction (an
   * upload's one decode); nothing is written to the cache folder for it. A photo decoded at
   * another reduction is not used (its pixels would differ).
   */
  withDecoded(file: string, photo: DecodedPhoto): ImageCache;
}

/** Options of {@link createImageCache}. */
export interface ImageCacheOptions extends DecodeOptions {
  /** Cache folder; no caching when absent. */
  dir?: string;
}

const MAGIC = 0x59524757; // 'WGRY'
const VERSION = 1;
const HEADER = 32;

/**
 * Creates a cache of reduced greyscale copies. Decoding a large JPEG is the slow part of every
 * pass over the photos, so each photo is decoded once per settings and kept on disk.
 *
 * - Key: SHA-256 of the photo's bytes plus the settings, so an edited photo (same name, new bytes)
 *   gets a new entry and a renamed one is still a hit.
 * - Safe to share between processes: entries are written to a unique temporary file and renamed
 *   into place; readers only ever see whole entries, and a torn or foreign file is re-decoded.
 *
 * @param options - cache folder, reduction (`maxSide`) and pixel limit
 * @returns the cache
 * @example
 * const cache = createImageCache({ dir: '.cache/grey', maxSide: 1024 });
 * const img = await cache.load('train/0000e88ab.jpg');
 */
export function createImageCache(options: ImageCacheOptions = {}): ImageCache {
  let hits = 0;
  let misses = 0;
  const settings = `v${VERSION}:side=${options.maxSide ?? 0}:px=${options.maxPixels ?? 0}`;
  const cache: ImageCache = {
    stats: () => ({ hits, misses }),
    // a photo decoded at other settings would give other pixels: then the file is decoded as usual
    withDecoded: (decodedFile, photo) => (photo.maxSide !== options.maxSide ? cache : { ...cache, load: async (file) => (file === decodedFile ? photo.grey : cache.load(file)) }),
    async load(file: string): Promise<GreyImage> {
      let bytes: Buffer;
      try {
        bytes = await fs.readFile(file);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new WhaleidError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code})`}`);
      }
      if (!options.dir) {
        misses++;
        return decodeGrey(bytes, options, file);
      }
      const key = createHash('sha256').update(settings).update(bytes).digest('hex');
      const entry = path.join(options.dir, key.slice(0, 2), `${key}.grey`);
      const cached = await readEntry(entry);
      if (cached) {
        hits++;
        return cached;
      }
      misses++;
      const img = await decodeGrey(bytes, options, file);
      await writeEntry(entry, img);
      return img;
    },
  };
  return cache;
}

async function readEntry(file: string): Promise<GreyImage | null> {
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch {
    return null;
  }
  if (buf.length < HEADER || buf.readUInt32LE(0) !== MAGIC || buf.readUInt32LE(4) !== VERSION) return null;
  const width = buf.readUInt32LE(8);
  const height = buf.readUInt32LE(12);
  if (buf.length !== HEADER + width * height) return null;
  const originalWidth = buf.readUInt32LE(16);
  const originalHeight = buf.readUInt32LE(20);
  return {
    width,
    height,
    originalWidth,
    originalHeight,
    scale: width / originalWidth,
    sourceChannels: buf.readUInt32LE(24),
    data: new Uint8Array(buf.buffer, buf.byteOffset + HEADER, width * height),
  };
}

async function writeEntry(file: string, img: GreyImage): Promise<void> {
  const buf = Buffer.alloc(HEADER + img.data.length);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(VERSION, 4);
  buf.writeUInt32LE(img.width, 8);
  buf.writeUInt32LE(img.height, 12);
  buf.writeUInt32LE(img.originalWidth, 16);
  buf.writeUInt32LE(img.originalHeight, 20);
  buf.writeUInt32LE(img.sourceChannels, 24);
  buf.set(img.data, HEADER);
  await writeFileAtomic(file, buf);
}
