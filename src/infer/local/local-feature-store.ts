import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { CropRequest } from '../../image/crop.js';
import type { ImageCache } from '../../image/image-cache.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { WhaleidError } from '../../util/errors.js';
import { mapPool } from '../../util/pool.js';
import { DESCRIPTOR_LENGTH, describePhoto, keypointCount, localSettingsKey, type LocalFeatures, type LocalSettings } from './local-features.js';

const MAGIC = 'WLKF';
const VERSION = 1;

/**
 * Serialises the local features of several photos into one buffer: `WLKF`, version, the
 * settings key (so features of other settings are never mixed in), the photo count, then per
 * photo its keypoint count, positions and descriptors (little-endian float32).
 *
 * @param list - features of each photo
 * @param settings - the settings they were computed with
 * @returns the bytes
 * @example
 * await writeFileAtomic('run/local-features.bin', encodeLocalFeatures(features, DEFAULT_LOCAL));
 */
export function encodeLocalFeatures(list: readonly LocalFeatures[], settings: LocalSettings): Buffer {
  const key = Buffer.from(localSettingsKey(settings), 'utf8');
  const floats = list.reduce((n, f) => n + f.xy.length + f.descriptors.length, 0);
  const buf = Buffer.alloc(4 + 4 + 4 + key.length + 4 + 4 * list.length + 4 * floats);
  let o = buf.write(MAGIC, 0, 'latin1');
  o = buf.writeUInt32LE(VERSION, o);
  o = buf.writeUInt32LE(key.length, o);
  o += key.copy(buf, o);
  o = buf.writeUInt32LE(list.length, o);
  for (const f of list) {
    o = buf.writeUInt32LE(keypointCount(f), o);
    for (const a of [f.xy, f.descriptors]) {
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(buf, o);
      o += a.byteLength;
    }
  }
  return buf;
}

/**
 * Reads what {@link encodeLocalFeatures} wrote.
 *
 * @param buf - the bytes
 * @param settings - the settings the caller needs: features of other settings are refused
 * @param name - how to name the source in errors
 * @returns features of each photo
 * @throws {@link WhaleidError} naming the source for a foreign, truncated or other-settings file
 */
export function decodeLocalFeatures(buf: Buffer, settings: LocalSettings, name: string): LocalFeatures[] {
  const bad = (what: string): WhaleidError => new WhaleidError(`${name}: ${what}; expected local features written by whaleid (${MAGIC} v${VERSION})`);
  if (buf.length < 16 || buf.toString('latin1', 0, 4) !== MAGIC) throw bad('not a local-feature file');
  if (buf.readUInt32LE(4) !== VERSION) throw bad(`version ${buf.readUInt32LE(4)}`);
  const keyLength = buf.readUInt32LE(8);
  if (12 + keyLength + 4 > buf.length) throw bad('truncated header');
  const key = buf.toString('utf8', 12, 12 + keyLength);
  if (key !== localSettingsKey(settings)) throw new WhaleidError(`${name}: computed with other settings (${key}); expected ${localSettingsKey(settings)}`);
  let o = 12 + keyLength;
  const count = buf.readUInt32LE(o);
  o += 4;
  const out: LocalFeatures[] = [];
  for (let p = 0; p < count; p++) {
    if (o + 4 > buf.length) throw bad(`truncated at photo ${p + 1} of ${count}`);
    const n = buf.readUInt32LE(o);
    o += 4;
    const bytes = 4 * n * (2 + DESCRIPTOR_LENGTH);
    if (o + bytes > buf.length) throw bad(`truncated at photo ${p + 1} of ${count}`);
    // copied out: the buffer's offset need not be float-aligned
    const floats = new Float32Array(buf.buffer.slice(buf.byteOffset + o, buf.byteOffset + o + bytes));
    out.push({ xy: floats.subarray(0, 2 * n), descriptors: floats.subarray(2 * n) });
    o += bytes;
  }
  if (o !== buf.length) throw bad(`${buf.length - o} bytes after the last photo`);
  return out;
}

/** Options of {@link describePhotos}. */
export interface DescribeOptions {
  /** Cache folder of described photos (one file per photo, settings and crop); none when absent. */
  cacheDir?: string;
  /** Progress after each photo. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Local features of many photos, each looked up first in a disk cache keyed by the SHA-256 of
 * the settings, the crop (box, rotate flag, augmentation) and the photo's bytes: a catalog is
 * described once, whichever command or dataset asks again (an edited photo gets a new entry, a
 * renamed one is still a hit). Entries are written to a temporary file and renamed, so
 * processes can share the folder.
 *
 * @param cache - reduced greyscale copies
 * @param requests - photos with their crops
 * @param settings - see {@link LocalSettings}
 * @param options - cache folder and progress
 * @returns features of each photo, in request order
 * @throws {@link WhaleidError} naming the first photo that could not be read
 * @example
 * const f = await describePhotos(cache, photos, DEFAULT_LOCAL, { cacheDir: '~/.cache/whaleid/local' });
 */
export async function describePhotos(cache: ImageCache, requests: readonly CropRequest[], settings: LocalSettings, options: DescribeOptions = {}): Promise<LocalFeatures[]> {
  const out = new Array<LocalFeatures>(requests.length);
  let done = 0;
  const outcomes = await mapPool(requests, 2, async (r, i) => {
    out[i] = await describeCached(cache, r, settings, options.cacheDir);
    options.onProgress?.(++done, requests.length);
  });
  const bad = outcomes.find((o) => !o.ok);
  if (bad && !bad.ok) throw new WhaleidError(bad.error.message);
  return out;
}

async function describeCached(cache: ImageCache, request: CropRequest, settings: LocalSettings, dir: string | undefined): Promise<LocalFeatures> {
  if (!dir) return describePhoto(cache, request, settings);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(request.file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WhaleidError(`${request.file}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code})`}`);
  }
  const crop = JSON.stringify([request.box ?? null, request.rotate180 ?? false, request.augmentation ?? null]);
  const key = createHash('sha256').update(localSettingsKey(settings)).update('\0').update(crop).update('\0').update(bytes).digest('hex');
  const entry = path.join(dir, key.slice(0, 2), `${key}.lkf`);
  try {
    const [f] = decodeLocalFeatures(await fs.readFile(entry), settings, entry);
    if (f) return f;
  } catch {
    // absent, torn or foreign: describe again
  }
  const f = await describePhoto(cache, request, settings);
  await writeFileAtomic(entry, encodeLocalFeatures([f], settings));
  return f;
}
