/**
 * The one input policy for photos, shared by every command and the service: which formats are
 * accepted, how large a photo may be, and what counts as whole. The format comes from the bytes
 * (libvips sniffs the header), never from a file name, so an SVG or a text file named `.jpg` is
 * refused everywhere, by `validate`, `train`, `dedup`, `predict`, `catalog import` and uploads alike.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../data/dataset.js';
import type { DataIssue } from '../data/issues.js';
import sharp, { type Metadata } from 'sharp';
import { WhaleidError } from '../util/errors.js';
import { mapPool } from '../util/pool.js';

/** Accepted formats, by sharp's name, with the file extension a catalog stores them under. */
export const ACCEPTED_FORMATS: Readonly<Record<string, string>> = Object.freeze({ jpeg: 'jpg', png: 'png', webp: 'webp', tiff: 'tif' });

/** Largest width x height accepted by default: well above any camera photo, far below what exhausts memory. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

const EXPECTED = 'expected a JPEG, PNG, WebP or TIFF photo';

/**
 * A file that is not a photo in an accepted format (not an image, or an SVG, GIF, ...): what the
 * service answers with 415 Unsupported Media Type; other refusals of the policy (empty, too
 * large, truncated) are the photo's own faults (400).
 */
export class UnsupportedPhotoError extends WhaleidError {}

/** What a header check learns of a photo. */
export interface PhotoHeader {
  /** sharp's format name: jpeg, png, webp or tiff. */
  readonly format: string;
  /** Size after EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** Channels as stored (1-4). */
  readonly channels: number;
}

/**
 * Checks a photo's bytes against the policy without decoding its pixels: not empty, an accepted
 * format (sniffed from the bytes), a size within `maxPixels`, and for JPEG and PNG a complete
 * file (the end marker present: a cut-short download passes a header check otherwise).
 *
 * @param bytes - the file's bytes
 * @param name - how to name the photo in errors
 * @param maxPixels - largest width x height accepted
 * @returns format, oriented size and channels
 * @throws {@link WhaleidError} naming the photo and what was expected
 * @example
 * const h = await checkPhotoHeader(await readFile('a.jpg'), 'a.jpg'); // { format: 'jpeg', width: 1024, ... }
 */
export async function checkPhotoHeader(bytes: Buffer, name: string, maxPixels = DEFAULT_MAX_PIXELS): Promise<PhotoHeader> {
  if (bytes.length === 0) throw new WhaleidError(`${name}: empty file (0 bytes); ${EXPECTED}`);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new UnsupportedPhotoError(`${name}: not an image (unsupported format); ${EXPECTED}`);
  }
  const format = meta.format ?? 'unknown';
  if (!(format in ACCEPTED_FORMATS)) throw new UnsupportedPhotoError(`${name}: ${format === 'svg' ? 'an SVG drawing' : `a ${format} file`} is not accepted; ${EXPECTED}`);
  const width = meta.autoOrient?.width ?? meta.width ?? 0;
  const height = meta.autoOrient?.height ?? meta.height ?? 0;
  if (!(width > 0 && height > 0)) throw new WhaleidError(`${name}: image without a size; ${EXPECTED}`);
  if (width * height > maxPixels) throw new WhaleidError(`${name}: image exceeds the pixel limit (${width}x${height} is over ${maxPixels} pixels: possible decompression bomb)`);
  if (!hasEndMarker(bytes, format)) throw new WhaleidError(`${name}: truncated or corrupt image (the ${format} file ends before its end marker)`);
  return { format, width, height, channels: meta.channels ?? 1 };
}

/** JPEG ends with EOI (FF D9), PNG with its IEND chunk; trailing zero padding is tolerated. */
function hasEndMarker(bytes: Buffer, format: string): boolean {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  if (format === 'jpeg') return end >= 2 && bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9;
  if (format === 'png') return end >= 8 && bytes.toString('latin1', end - 8, end - 4) === 'IEND';
  return true;
}

/**
 * Reads a photo file and checks it with {@link checkPhotoHeader}.
 *
 * @param file - path of the photo
 * @param maxPixels - largest width x height accepted
 * @returns the header facts
 * @throws {@link WhaleidError} naming the file: missing, unreadable, or against the policy
 * @example
 * await checkPhotoFile('train/0000e88ab.jpg');
 */
export async function checkPhotoFile(file: string, maxPixels = DEFAULT_MAX_PIXELS): Promise<PhotoHeader> {
  return checkPhotoHeader(await readPhotoBytes(file), file, maxPixels);
}

/**
 * Reads a photo's bytes, with the error every command gives for a missing or unreadable file.
 *
 * @param file - path of the photo
 * @returns its bytes
 * @throws {@link WhaleidError} naming the file
 */
export async function readPhotoBytes(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WhaleidError(`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code})`}`);
  }
}

/** A photo that failed a check, by the caller's key. */
export interface PhotoFailure {
  readonly key: string;
  readonly message: string;
}

/**
 * Checks many photo files against the policy (headers only: fast enough for a whole dataset),
 * four at a time, and returns every failure rather than stopping at the first.
 *
 * @param photos - the photos, each with a key (its name in the dataset) and its file
 * @param onProgress - called after each photo with (done, total)
 * @returns the failures, in the photos' order
 * @example
 * const bad = await checkPhotoFiles(ds.train.map((p) => ({ key: p.image, file: p.file })));
 */
export async function checkPhotoFiles(photos: readonly { key: string; file: string }[], onProgress?: (done: number, total: number) => void): Promise<PhotoFailure[]> {
  let done = 0;
  const outcomes = await mapPool(photos, 4, async (p) => {
    try {
      await checkPhotoFile(p.file);
    } finally {
      onProgress?.(++done, photos.length);
    }
  });
  return outcomes.flatMap((o, i) => (o.ok ? [] : [{ key: photos[i].key, message: o.error.message }]));
}

/**
 * Every photo of a dataset checked against the policy (headers: format, size, end marker), as
 * dataset issues of severity `error` (such a photo is left out by every command).
 *
 * @param ds - a loaded dataset
 * @param onProgress - called after each photo with (done, total)
 * @returns one issue per refused photo, its file relative to the dataset root
 * @example
 * const issues = await datasetPhotoIssues(await loadDataset('whales'));
 */
export async function datasetPhotoIssues(ds: Pick<Dataset, 'root' | 'train' | 'test'>, onProgress?: (done: number, total: number) => void): Promise<DataIssue[]> {
  const photos = [...ds.train, ...ds.test].map((p) => ({ key: p.file, file: p.file }));
  const failures = await checkPhotoFiles(photos, onProgress);
  return failures.map((f) => ({ severity: 'error', file: path.relative(ds.root, f.key), message: f.message.startsWith(`${f.key}: `) ? f.message.slice(f.key.length + 2) : f.message }));
}
