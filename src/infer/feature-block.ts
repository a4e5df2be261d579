/**
 * A gallery's learned features as one file: photo ids, their box keys and one Float32 matrix,
 * read in one go at a service's start instead of a million rows decoded one by one. It is a cache
 * of the catalog's feature store, never the source of truth: a vector is used only for a photo
 * whose box is still the one it was computed for (the catalog drops a photo's features when its
 * box changes, so such a vector is the stored one), and a spot check against the catalog's own
 * rows refuses a file that belongs to another catalog (a restored or replaced database).
 *
 * Layout: u32 header length, the header as JSON ({ dim, count, digest, boxKeys }), zero padding
 * to a multiple of 4, count Int32 photo ids, count x dim Float32. The digest ({@link rowsDigest})
 * comes first in the header, so a writer can tell whether the file already holds a gallery's rows
 * by reading a few hundred bytes ({@link readFeatureBlockDigest}).
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';

/** A gallery's features as written. */
export interface FeatureBlock {
  readonly dim: number;
  readonly photoIds: Int32Array;
  /** Each photo's box as text (the catalog's boxKey). */
  readonly boxKeys: readonly string[];
  /** count x dim floats, row-major. */
  readonly matrix: Float32Array;
}

/**
 * Writes a feature block (temp file, then rename: the previous one stays whole until then).
 *
 * @param file - where
 * @param rows - the photos, with their box keys
 * @param vectors - each row's features (all of length `dim`)
 * @param dim - feature count
 * @returns when written
 * @throws Error when a vector's length is not `dim`, or from the file system
 * @example
 * await writeFeatureBlock('whales.db.photos.index/model.features', g.rows, g.vectors, 128);
 */
export async function writeFeatureBlock(file: string, rows: readonly { photoId: number; boxKey: string }[], vectors: readonly Float32Array[], dim: number): Promise<void> {
  const header = Buffer.from(JSON.stringify({ dim, count: rows.length, digest: rowsDigest(rows, vectors), boxKeys: rows.map((r) => r.boxKey) }));
  const pad = (4 - ((4 + header.length) % 4)) % 4;
  const out = Buffer.alloc(4 + header.length + pad + rows.length * 4 * (1 + dim));
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  let at = 4 + header.length + pad;
  for (const r of rows) at = out.writeInt32LE(r.photoId, at);
  for (const v of vectors) {
    if (v.length !== dim) throw new Error(`feature block: a vector of ${v.length} floats, not ${dim}`);
    Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(out, at);
    at += v.byteLength;
  }
  await writeFileAtomic(file, out);
}

/** Vectors a digest samples (by stride): a block of another catalog's features differs in them. */
const DIGEST_SAMPLES = 64;

/**
 * A 32-bit digest (FNV-1a, hex) of a gallery's photos and boxes in order and of a strided sample
 * of its vectors: equal digests mean a block holds these photos' features (the catalog drops a
 * photo's features when its box changes; the sample tells another catalog's features apart).
 *
 * @param rows - the photos with their box keys
 * @param vectors - each row's features
 * @returns 8 hex digits
 * @example
 * rowsDigest(g.rows, g.vectors) === readFeatureBlockDigest(file); // the block holds this gallery
 */
export function rowsDigest(rows: readonly { photoId: number; boxKey: string }[], vectors: readonly Float32Array[]): string {
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    h = Math.imul(h ^ x, 0x01000193);
  };
  mix(rows.length);
  for (const r of rows) {
    mix(r.photoId);
    for (let i = 0; i < r.boxKey.length; i++) mix(r.boxKey.charCodeAt(i));
    mix(0x2f);
  }
  const step = Math.max(1, Math.floor(vectors.length / DIGEST_SAMPLES));
  for (let j = 0; j < vectors.length; j += step) {
    const v = vectors[j];
    const words = new Uint32Array(v.buffer, v.byteOffset, v.length);
    for (let i = 0; i < words.length; i++) mix(words[i]);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * The digest of the rows a block holds, read from its first bytes.
 *
 * @param file - the block
 * @returns the digest, or null when there is no block or it has none
 * @example
 * if (readFeatureBlockDigest(file) !== rowsDigest(g.rows, g.vectors)) await writeFeatureBlock(file, g.rows, g.vectors, 128);
 */
export function readFeatureBlockDigest(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(256);
    const got = readSync(fd, head, 0, head.length, 0);
    return /^\{"dim":\d+,"count":\d+,"digest":"([0-9a-f]{8})"/.exec(head.subarray(4, got).toString('latin1'))?.[1] ?? null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a feature block.
 *
 * @param file - where {@link writeFeatureBlock} wrote it
 * @param dim - the feature count expected
 * @returns the block, or null when there is none or it is not whole or of another size
 * @example
 * const block = readFeatureBlock('whales.db.photos.index/model.features', 128);
 */
export function readFeatureBlock(file: string, dim: number): FeatureBlock | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return null;
  }
  try {
    const length = bytes.readUInt32LE(0);
    const header = JSON.parse(bytes.subarray(4, 4 + length).toString('utf8')) as { dim: number; count: number; boxKeys: string[] };
    const start = 4 + length + ((4 - ((4 + length) % 4)) % 4);
    const n = header.count;
    if (header.dim !== dim || header.boxKeys.length !== n || bytes.length !== start + n * 4 * (1 + dim)) return null;
    // Buffers from readFileSync start on an aligned offset of their own ArrayBuffer, and start is a multiple of 4
    const base = bytes.byteOffset + start;
    if (base % 4 !== 0) return null;
    return { dim, photoIds: new Int32Array(bytes.buffer, base, n), boxKeys: header.boxKeys, matrix: new Float32Array(bytes.buffer, base + n * 4, n * dim) };
  } catch {
    return null;
  }
}
