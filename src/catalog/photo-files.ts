import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { DEFAULT_MAX_PIXELS, decodePhoto, type DecodedPhoto } from '../image/decode.js';
import { ACCEPTED_FORMATS } from '../image/photo-policy.js';
import { WhaleidError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

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
 * @param decoded - the photo decoded already by {@link decodePhoto} (an upload decodes once and
 *   passes it down), at any reduction; without it the photo is decoded here
 * @returns the facts
 * @throws {@link WhaleidError} when the bytes are empty, not an accepted image type, corrupt, or too large
 * @example
 * const facts = await inspectPhoto(await readFile('a.jpg'), 'a.jpg');
 */
export async function inspectPhoto(bytes: Buffer, name: string, maxPixels = DEFAULT_MAX_PIXELS, decoded?: DecodedPhoto): Promise<PhotoFacts> {
  // the one input policy (format from the bytes, size, end marker), then every pixel decoded once:
  // a header can be valid over truncated or corrupt pixel data
  const { format, width, height } = decoded ?? await decodePhoto(bytes, name, { maxPixels });
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

/** A catalog's photo row as a copy needs it. */
export type StoredPhoto = Pick<PhotoFacts, 'sha256' | 'format' | 'width' | 'height' | 'bytes'>;

/**
 * Copies one photo's file into another photo folder unless there, checking the SHA-256 of the
 * bytes read (a damaged source is never copied) and of a file already in the target (a damaged
 * copy is never taken for a good one). Why: a backup or copy that passes a damaged file on
 * cannot be restored, and nobody finds out until the day it is needed.
 *
 * @param from - the source's photo folder
 * @param to - the target's photo folder
 * @param p - the photo's row (its content hash names the file)
 * @param photosFlag - the option that names the source's folder, for the error about a missing file
 * @returns the target file, and whether this call wrote it
 * @throws {@link WhaleidError} naming the file when it is missing or its SHA-256 differs from the row's
 * @example
 * const { copied } = await copyPhotoChecked(openPhotoFiles('a.db.photos'), openPhotoFiles('b.db.photos'), row, '--from-photos');
 */
export async function copyPhotoChecked(from: PhotoFiles, to: PhotoFiles, p: StoredPhoto, photosFlag: string): Promise<{ file: string; copied: boolean }> {
  const target = to.pathOf(p.sha256, p.format);
  const check = (bytes: Buffer, file: string): void => {
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== p.sha256) throw new WhaleidError(`${file}: its content's SHA-256 is ${sha}, not the catalog's ${p.sha256} (a damaged or replaced photo file)`);
  };
  if (existsSync(target)) {
    check(await fs.readFile(target), target);
    return { file: target, copied: false };
  }
  const source = from.pathOf(p.sha256, p.format);
  if (!existsSync(source)) throw new WhaleidError(`${source}: photo file missing (the catalog's photo ${p.sha256}); give the catalog's photo folder with ${photosFlag}`);
  const bytes = await fs.readFile(source);
  check(bytes, source);
  await to.put(bytes, p);
  return { file: target, copied: true };
}

/** The photo files one command wrote into a folder, to take back if the command fails. */
export interface WrittenFiles {
  /** Notes a file this command wrote. */
  add(file: string): void;
  readonly count: number;
  /** Removes them (the whole folder when this command created it). */
  undo(): Promise<void>;
}

/**
 * Starts a record of the files a backup writes into its own photo folder. Why: a failed backup
 * must not leave half a photo folder that looks like part of a good one.
 *
 * @param dir - the folder (noted now: missing means this command creates it)
 * @returns the record
 * @example
 * const written = trackWrittenFiles('b.db.photos'); ... catch (e) { await written.undo(); throw e; }
 */
export function trackWrittenFiles(dir: string): WrittenFiles {
  const created = !existsSync(dir);
  const files: string[] = [];
  return {
    add: (file) => void files.push(file),
    get count() {
      return files.length;
    },
    async undo() {
      if (created) await fs.rm(dir, { recursive: true, force: true });
      else for (const f of files) await fs.rm(f, { force: true });
    },
  };
}
