/**
 * A gallery's learned features as one file: photo ids, their box keys and one Float32 matrix,
 * read in one go at a service's start instead of a million rows decoded one by one. It is a cache
 * of the catalog's feature store, never the source of truth: a vector is used only for a photo
 * whose box is still the one it was computed for (the catalog drops a photo's features when its
 * box changes, so such a vector is the stored one), and a spot check against the catalog's own
 * rows refuses a file that belongs to another catalog (a restored or replaced database).
 *
 * Layout: u32 header length, the header as JSON ({ dim, count, digest, codes?, boxKeys }), zero
 * padding to a multiple of 4, count Int32 photo ids, count x dim Float32; then, when the header
 * has `codes` (byte offsets), the gallery index's bins (dim x 257 Float64), its unbounded rows
 * (Int32) and its bytes (count x dim), so a restart reads them instead of encoding a million
 * vectors. The digest ({@link rowsDigest}) and the offsets come first in the header, so they are
 * read from a few hundred bytes ({@link readFeatureBlockDigest}, {@link readBlockCodes}).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
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

/** The gallery index's bytes of a block's rows ({@link GalleryCodes} without its scanner). */
export interface BlockCodes {
  /** dim x 257 bin edges. */
  readonly edges: Float64Array;
  /** Rows no bin holds. */
  readonly unbounded: Int32Array;
  /** count x dim bytes. */
  readonly codes: Uint8Array;
}

/** Where a block's codes section lies (header `codes`: byte offsets from the file's start). */
interface CodesAt {
  edges: number;
  unbounded: number;
  count: number;
  bytes: number;
}

/**
 * Writes a feature block (temp file, then rename: the previous one stays whole until then).
 *
 * @param file - where
 * @param rows - the photos, with their box keys
 * @param vectors - each row's features (all of length `dim`)
 * @param dim - feature count
 * @param codes - the gallery index's bytes of these rows, written after the features
 * @returns when written
 * @throws Error when a vector's length is not `dim` or the codes are not of `rows`, or from the file system
 * @example
 * await writeFeatureBlock('whales.db.photos.index/model.features', g.rows, g.vectors, 128);
 */
export async function writeFeatureBlock(file: string, rows: readonly { photoId: number; boxKey: string }[], vectors: readonly Float32Array[], dim: number, codes?: BlockCodes): Promise<void> {
  const n = rows.length;
  if (codes && (codes.codes.length !== n * dim || codes.edges.length !== dim * 257)) throw new Error(`feature block: codes of ${codes.codes.length / dim} photos, not ${n}`);
  const digest = rowsDigest(rows, vectors);
  const boxKeys = JSON.stringify(rows.map((r) => r.boxKey));
  // the header's length moves the offsets it holds: offsets padded with spaces (JSON whitespace) keep it one length
  const width = 15;
  const fixed = (x: number): string => String(x).padStart(width, ' ');
  const headerOf = (at: CodesAt | null): Buffer => Buffer.from(`{"dim":${dim},"count":${n},"digest":"${digest}"${at ? `,"codes":{"edges":${fixed(at.edges)},"unbounded":${fixed(at.unbounded)},"count":${fixed(at.count)},"bytes":${fixed(at.bytes)}}` : ''},"boxKeys":${boxKeys}}`);
  const probe = headerOf(codes ? { edges: 0, unbounded: 0, count: 0, bytes: 0 } : null);
  const pad = (4 - ((4 + probe.length) % 4)) % 4;
  const featuresEnd = 4 + probe.length + pad + n * 4 * (1 + dim);
  let at: CodesAt | null = null;
  let total = featuresEnd;
  if (codes) {
    const edges = featuresEnd + (featuresEnd % 8); // Float64 on a multiple of 8
    const unbounded = edges + codes.edges.byteLength;
    const bytes = unbounded + codes.unbounded.byteLength;
    at = { edges, unbounded, count: codes.unbounded.length, bytes };
    total = bytes + codes.codes.length;
  }
  const header = headerOf(at);
  const out = Buffer.alloc(total);
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  let w = 4 + header.length + pad;
  for (const r of rows) w = out.writeInt32LE(r.photoId, w);
  for (const v of vectors) {
    if (v.length !== dim) throw new Error(`feature block: a vector of ${v.length} floats, not ${dim}`);
    Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(out, w);
    w += v.byteLength;
  }
  if (codes && at) {
    Buffer.from(codes.edges.buffer, codes.edges.byteOffset, codes.edges.byteLength).copy(out, at.edges);
    Buffer.from(codes.unbounded.buffer, codes.unbounded.byteOffset, codes.unbounded.byteLength).copy(out, at.unbounded);
    Buffer.from(codes.codes.buffer, codes.codes.byteOffset, codes.codes.byteLength).copy(out, at.bytes);
  }
  await writeFileAtomic(file, out);
}

/** The header's fields before its box keys: dim, count, digest and where the codes lie. */
function readPrefix(fd: number): { dim: number; count: number; digest: string; codes?: CodesAt } | null {
  const head = Buffer.alloc(512);
  const got = readSync(fd, head, 0, head.length, 0);
  const text = head.subarray(4, got).toString('latin1');
  const end = text.indexOf(',"boxKeys":');
  if (!text.startsWith('{"dim":') || end < 0) return null;
  try {
    return JSON.parse(`${text.slice(0, end)}}`) as { dim: number; count: number; digest: string; codes?: CodesAt };
  } catch {
    return null;
  }
}

/** Fills `target` from the file at `position`; false when the file ends first. */
function readAll(fd: number, target: Uint8Array, position: number): boolean {
  let done = 0;
  while (done < target.length) {
    const got = readSync(fd, target, done, Math.min(target.length - done, 1 << 30), position + done);
    if (got <= 0) return false;
    done += got;
  }
  return true;
}

/** Runs `f` on the open file, or gives null when it cannot be opened. */
function withFile<T>(file: string, f: (fd: number) => T | null): T | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    return f(fd);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the gallery index's bytes a block holds, when the block holds the gallery of `digest`.
 *
 * @param file - the block
 * @param dim - the feature count expected
 * @param digest - the gallery's {@link rowsDigest}
 * @param into - gives the array the bytes are read into, for the block's photo count (a scanner's memory)
 * @returns the edges, unbounded rows and the array filled, or null when there is no block, it is of another gallery or size, or has no codes
 * @example
 * const held = readBlockCodes(file, 128, rowsDigest(g.rows, g.vectors), (n) => createCodeScanner(128, n).codes);
 */
export function readBlockCodes(file: string, dim: number, digest: string, into: (count: number) => Uint8Array): BlockCodes | null {
  return withFile(file, (fd) => {
    const p = readPrefix(fd);
    if (!p || p.dim !== dim || p.digest !== digest || !p.codes) return null;
    const at = p.codes;
    const size = fstatSync(fd).size;
    if (size !== at.bytes + p.count * dim || at.unbounded !== at.edges + dim * 257 * 8 || at.bytes !== at.unbounded + at.count * 4) return null;
    const edges = new Float64Array(dim * 257);
    const unbounded = new Int32Array(at.count);
    const codes = into(p.count);
    if (codes.length !== p.count * dim) return null;
    if (!readAll(fd, new Uint8Array(edges.buffer), at.edges) || !readAll(fd, new Uint8Array(unbounded.buffer), at.unbounded) || !readAll(fd, codes, at.bytes)) return null;
    return { edges, unbounded, codes };
  });
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
  return withFile(file, (fd) => readPrefix(fd)?.digest ?? null);
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
  return withFile(file, (fd) => {
    // the header first, then the features only: a codes section after them is the index's to read
    const size = fstatSync(fd).size;
    const lengthBytes = Buffer.alloc(4);
    if (readSync(fd, lengthBytes, 0, 4, 0) !== 4) return null;
    const length = lengthBytes.readUInt32LE(0);
    if (4 + length > size) return null;
    const start = 4 + length + ((4 - ((4 + length) % 4)) % 4);
    const headerBytes = Buffer.alloc(length);
    if (!readAll(fd, headerBytes, 4)) return null;
    const header = JSON.parse(headerBytes.toString('utf8')) as { dim: number; count: number; boxKeys: string[]; codes?: CodesAt };
    const n = header.count;
    const featuresEnd = start + n * 4 * (1 + dim);
    const end = header.codes ? header.codes.bytes + n * dim : featuresEnd;
    if (header.dim !== dim || header.boxKeys.length !== n || size !== end || (header.codes && header.codes.edges < featuresEnd)) return null;
    // a fresh ArrayBuffer: ids and floats aligned at its start
    const body = new Uint8Array(n * 4 * (1 + dim));
    if (!readAll(fd, body, start)) return null;
    return { dim, photoIds: new Int32Array(body.buffer, 0, n), boxKeys: header.boxKeys, matrix: new Float32Array(body.buffer, n * 4, n * dim) };
  });
}
