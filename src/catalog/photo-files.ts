import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import sharp, { type Metadata } from 'sharp';
import { DEFAULT_MAX_PIXELS } from '../image/decode.js';
import { WhaleidError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/** Image formats a catalog accepts, by sharp's name, with the file extension they are stored under. */
export const ACCEPTED_FORMATS: Readonly<Record<string, string>> = Object.freeze({ jpeg: 'jpg', png: 'png', webp: 'webp', tiff: 'tif' });

/** What {@link inspectPhoto} learns of a photo's bytes. */
export interface PhotoFacts {
  sha256: string;
  /** sharp's format name: jpeg, png, webp or tiff. */
  format: string;
  width: number;
  height: number;
  bytes: number;
}

/**
 * Checks that bytes are a photo the catalog accepts and reads its facts. The format comes from
 * the bytes (libvips sniffs the header), never from a file name or a client's content type, so a
 * renamed executable or an SVG with scripts is refused whatever it is called.
 *
 * @param bytes - the uploaded or imported file
 * @param name - the name to use in errors (the client's file name, shown, never used as a path)
 * @param maxPixels - largest width x height accepted
 * @returns the facts
 * @throws {@link WhaleidError} when the bytes are empty, not an accepted image type, corrupt, or too large
 * @example
 * const facts = await inspectPhoto(await readFile('a.jpg'), 'a.jpg');
 */
export async function inspectPhoto(bytes: Buffer, name: string, maxPixels = DEFAULT_MAX_PIXELS): Promise<PhotoFacts> {
  if (bytes.length === 0) throw new WhaleidError(`${name}: empty file (expected a JPEG, PNG, WebP or TIFF photo)`);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new WhaleidError(`${name}: not an image (expected a JPEG, PNG, WebP or TIFF photo)`);
  }
  const format = meta.format ?? 'unknown';
  if (!(format in ACCEPTED_FORMATS)) throw new WhaleidError(`${name}: ${format} is not accepted (expected a JPEG, PNG, WebP or TIFF photo)`);
  const width = meta.autoOrient?.width ?? meta.width ?? 0;
  const height = meta.autoOrient?.height ?? meta.height ?? 0;
  if (!(width > 0 && height > 0)) throw new WhaleidError(`${name}: image without a size`);
  if (width * height > maxPixels) throw new WhaleidError(`${name}: ${width}x${height} pixels is over the limit of ${maxPixels} pixels`);
  try {
    // a header can be valid over truncated or corrupt pixel data: decode it all once
    await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).greyscale().raw().toBuffer();
  } catch (e) {
    throw new WhaleidError(`${name}: corrupt or truncated ${format} (${(e as Error).message.split('\n')[0]})`);
  }
  return { sha256: createHash('sha256').update(bytes).digest('hex'), format, width, height, bytes: bytes.length };
}

/** Photos on disk by content: `<dir>/<first 2 hex>/<sha256>.<ext>`. */
export interface PhotoFiles {
  readonly dir: string;
  /** Path of a stored photo. */
  pathOf(sha256: string, format: string): string;
  /** Stores the bytes (no-op when that content is already stored); atomic. */
  put(bytes: Buffer, facts: PhotoFacts): Promise<string>;
}

/**
 * Opens (creating) a content-addressed photo folder. Names come from the SHA-256 of the bytes,
 * so a client's file name never becomes a path, the same bytes uploaded twice are stored once,
 * and concurrent writers of the same photo write identical bytes, each through its own temporary
 * file and an atomic rename.
 *
 * @param dir - the folder
 * @returns the store
 * @example
 * const files = openPhotoFiles('catalog.db.photos');
 */
export function openPhotoFiles(dir: string): PhotoFiles {
  const pathOf = (sha256: string, format: string): string => {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new WhaleidError(`not a SHA-256: ${sha256}`);
    const ext = ACCEPTED_FORMATS[format];
    if (!ext) throw new WhaleidError(`not an accepted format: ${format}`);
    return path.join(dir, sha256.slice(0, 2), `${sha256}.${ext}`);
  };
  return {
    dir,
    pathOf,
    async put(bytes, facts) {
      const file = pathOf(facts.sha256, facts.format);
      if (existsSync(file)) return file;
      await writeFileAtomic(file, bytes);
      return file;
    },
  };
}
