/**
 * A gallery's features as one byte per feature (per-feature bins), and a WebAssembly scan that
 * sums a per-query table over those bytes: the cheap first pass of exact ranking at a million
 * photos ({@link boundRanker}). A byte names an interval of the feature's values, never a value,
 * so a table holding, per feature and byte, an upper bound of the head's term over that interval
 * gives every photo an upper bound of its exact score; only photos whose bound reaches the top K
 * are scored exactly. Why bytes and a table, not a float copy: the head is any learned MLP, so no
 * dot product bounds it, but a table per feature does; 1,000,000 x 128 bytes is 128 MB and the
 * scan is two loads and an add per byte.
 *
 * Bins, per feature: bin 0 from the smallest value to the 0.05 % quantile, 254 equal bins up to
 * the 99.95 % quantile, bin 255 up to the largest value (both end bins widen when a later photo
 * falls outside, which keeps every earlier byte's interval true).
 */
import { invalidParameterError } from '../util/errors.js';
import { section, sleb, str, uleb, vec, wasm, WASM_HEADER } from './wasm-module.js';

/** Interval ends per feature: 257 edges, byte c covering [edges[c], edges[c + 1]]. */
export const EDGES_PER_FEATURE = 257;
/** Photos sampled (by stride: no random choice) to place the bins. */
const SAMPLE = 16_384;
/** Quantile below and above which values fall in the end bins. */
const TAIL = 0.0005;

/**
 * Bin edges for a gallery's features, from a strided sample of its vectors.
 *
 * @param vectors - the gallery's vectors (all of length `dim`)
 * @param dim - feature count
 * @returns dim x {@link EDGES_PER_FEATURE} edges, row-major
 * @throws {@link WhaleidError} when `dim` is not a positive integer
 * @example
 * const edges = fitEdges(g.vectors, 128);
 */
export function fitEdges(vectors: readonly Float32Array[], dim: number): Float64Array {
  if (!Number.isSafeInteger(dim) || dim < 1) throw invalidParameterError('dim', 'a positive integer', dim);
  const edges = new Float64Array(dim * EDGES_PER_FEATURE);
  const step = Math.max(1, Math.floor(vectors.length / SAMPLE));
  const picked: Float32Array[] = [];
  for (let j = 0; j < vectors.length; j += step) if (vectors[j].every(Number.isFinite)) picked.push(vectors[j]);
  const values = new Float64Array(picked.length);
  for (let f = 0; f < dim; f++) {
    picked.forEach((v, i) => (values[i] = v[f]));
    values.sort();
    const m = values.length;
    const lo = m ? values[Math.floor(TAIL * (m - 1))] : 0;
    const hi = m ? values[Math.ceil((1 - TAIL) * (m - 1))] : 0;
    const e = edges.subarray(f * EDGES_PER_FEATURE, (f + 1) * EDGES_PER_FEATURE);
    // the end edges start at the quantiles and widen to the data as photos are encoded
    e[0] = lo;
    for (let c = 1; c < EDGES_PER_FEATURE - 1; c++) e[c] = lo + ((hi - lo) * (c - 1)) / (EDGES_PER_FEATURE - 3);
    e[EDGES_PER_FEATURE - 1] = hi;
  }
  return edges;
}

/**
 * Writes a vector's bytes: each feature's bin (the end bins widened to take it when outside).
 *
 * @param v - the vector
 * @param edges - the bins ({@link fitEdges}); its end edges may widen
 * @param out - destination
 * @param at - where the vector's first byte goes
 * @returns false when a feature is not finite (no bin holds it: the caller scores the photo exactly)
 */
export function encodeVector(v: Float32Array, edges: Float64Array, out: Uint8Array, at: number): boolean {
  const last = EDGES_PER_FEATURE - 1;
  for (let f = 0; f < v.length; f++) {
    const x = v[f];
    if (!Number.isFinite(x)) return false;
    const o = f * EDGES_PER_FEATURE;
    const lo = edges[o + 1];
    const hi = edges[o + last - 1];
    let c: number;
    if (x < lo) {
      c = 0;
      if (x < edges[o]) edges[o] = x;
    } else if (x > hi) {
      c = last - 1;
      if (x > edges[o + last]) edges[o + last] = x;
    } else {
      c = hi > lo ? 1 + Math.min(last - 3, Math.floor(((x - lo) / (hi - lo)) * (last - 2))) : 1;
      // the division rounds: step to the bin whose interval holds x exactly
      while (c > 1 && x < edges[o + c]) c--;
      while (c < last - 2 && x > edges[o + c + 1]) c++;
    }
    out[at + f] = c;
  }
  return true;
}


/**
 * `scan(tab, codes, n, out)`: out[j] = sum over f of tab[f * 256 + codes[j * dim + f]] for j < n
 * (byte offsets in the memory). Unrolled over the features, four accumulators (the adds do not
 * wait on each other).
 */
function assembleScan(dim: number): Uint8Array {
  const [tab, codes, n, out] = [0, 1, 2, 3];
  const s = (f: number): number => 4 + (f & 3);
  const b: number[] = [];
  b.push(0x02, 0x40, 0x20, n, 0x45, 0x0d, 0); // block; n == 0: out
  b.push(0x03, 0x40); // loop
  for (let a = 0; a < 4; a++) b.push(0x43, 0, 0, 0, 0, 0x21, 4 + a);
  for (let f = 0; f < dim; f++) {
    // s += f32.load(tab + (codes[f] << 2), offset f * 1024)
    b.push(0x20, s(f), 0x20, codes, 0x2d, 0, ...uleb(f), 0x41, 2, 0x74, 0x20, tab, 0x6a, 0x2a, 2, ...uleb(f * 1024), 0x92, 0x21, s(f));
  }
  b.push(0x20, out, 0x20, 4, 0x20, 5, 0x92, 0x20, 6, 0x20, 7, 0x92, 0x92, 0x38, 2, 0);
  b.push(0x20, codes, 0x41, ...sleb(dim), 0x6a, 0x21, codes);
  b.push(0x20, out, 0x41, 4, 0x6a, 0x21, out);
  b.push(0x20, n, 0x41, 1, 0x6b, 0x22, n, 0x0d, 0); // n -= 1; loop while n != 0
  b.push(0x0b, 0x0b, 0x0b);
  const body = vec([1, 4, 0x7d, ...b]);
  return Uint8Array.from([
    ...WASM_HEADER,
    ...section(1, [1, 0x60, ...vec([0x7f, 0x7f, 0x7f, 0x7f]), 0]),
    ...section(2, [1, ...str('env'), ...str('memory'), 0x02, 0x00, 1]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...str('scan'), 0x00, 0]),
    ...section(10, [1, ...body]),
  ]);
}

/** A gallery's bytes in WebAssembly memory, scanned against per-query tables. */
export interface CodeScanner {
  readonly dim: number;
  /** Photos held. */
  readonly count: number;
  /** The bytes, count x dim (write a photo's with {@link encodeVector}). */
  readonly codes: Uint8Array;
  /** The table a scan sums: dim x 256 floats (byte c of feature f at f * 256 + c). */
  readonly table: Float32Array;
  /**
   * Sums the table over every photo's bytes.
   *
   * @returns count sums (a view into the scanner's memory, valid until the next scan)
   */
  scan(): Float32Array;
}

/**
 * A scanner for `count` photos of `dim` features.
 *
 * @param dim - feature count
 * @param count - photos
 * @returns the scanner (bytes zero until written)
 * @throws {@link WhaleidError} when the sizes are not positive integers or the bytes would not fit 4 GB of WebAssembly memory
 * @example
 * const scanner = createCodeScanner(128, rows.length);
 * rows.forEach((r, j) => encodeVector(vectors[j], edges, scanner.codes, j * 128));
 * scanner.table.set(bounds);
 * const sums = scanner.scan();
 */
export function createCodeScanner(dim: number, count: number): CodeScanner {
  if (!Number.isSafeInteger(dim) || dim < 1) throw invalidParameterError('dim', 'a positive integer', dim);
  if (!Number.isSafeInteger(count) || count < 0) throw invalidParameterError('count', 'a non-negative integer', count);
  const tabBytes = dim * 256 * 4;
  const total = tabBytes + count * 4 + count * dim;
  if (total > 2 ** 32 - 65536) throw invalidParameterError('count', `at most ${Math.floor((2 ** 32 - 65536 - tabBytes) / (dim + 4))} photos of ${dim} features`, count);
  const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(total / 65536)) });
  const scan = new wasm.Instance(new wasm.Module(assembleScan(dim)), { env: { memory } }).exports.scan as (tab: number, codes: number, n: number, out: number) => void;
  const outPtr = tabBytes;
  const codePtr = outPtr + count * 4;
  const out = new Float32Array(memory.buffer, outPtr, count);
  return {
    dim,
    count,
    codes: new Uint8Array(memory.buffer, codePtr, count * dim),
    table: new Float32Array(memory.buffer, 0, dim * 256),
    scan() {
      scan(0, codePtr, count, outPtr);
      return out;
    },
  };
}

/** A gallery's bytes, in its row order, and the rows no bin holds (scored exactly always). */
export interface GalleryCodes {
  readonly scanner: CodeScanner;
  readonly edges: Float64Array;
  /** Rows with a feature that is not finite. */
  readonly unbounded: Int32Array;
  readonly photoIds: Int32Array;
  /** The vectors encoded (references: an unchanged vector is copied, not encoded, at the next gallery). */
  readonly vectors: readonly Float32Array[];
  /** Rows encoded anew (not copied from the previous gallery's). */
  readonly encoded: number;
}

/**
 * The bytes of a gallery's rows: a row whose vector the previous gallery held (the same vector
 * object under the same photo) is copied from it, the others encoded; the bins are the previous
 * gallery's, placed from this one's vectors the first time.
 *
 * @param photoIds - the gallery's photos, in row order
 * @param vectors - each row's features
 * @param dim - feature count
 * @param previous - the codes of the gallery before (the index's growth), or null
 * @returns the codes
 * @throws {@link WhaleidError} when a vector's length is not `dim`
 * @example
 * let codes = encodeGallery(g.photoIds, g.vectors, 128, null);
 * codes = encodeGallery(next.photoIds, next.vectors, 128, codes); // only new or changed rows encoded
 */
export function encodeGallery(photoIds: Int32Array, vectors: readonly Float32Array[], dim: number, previous: GalleryCodes | null): GalleryCodes {
  const n = photoIds.length;
  const edges = previous && previous.scanner.dim === dim ? previous.edges : fitEdges(vectors, dim);
  const scanner = createCodeScanner(dim, n);
  const was = new Map<number, number>();
  if (previous && previous.edges === edges) previous.photoIds.forEach((id, r) => was.set(id, r));
  // a row no bin held is encoded again (its vector object is the same, its bytes were never written)
  const wasUnbounded = new Set(previous ? previous.unbounded : []);
  const unbounded: number[] = [];
  let encoded = 0;
  for (let j = 0; j < n; j++) {
    const v = vectors[j];
    if (v.length !== dim) throw invalidParameterError(`vectors[${j}].length`, String(dim), v.length);
    const r = was.get(photoIds[j]);
    if (r !== undefined && previous!.vectors[r] === v && !wasUnbounded.has(r)) {
      scanner.codes.set(previous!.scanner.codes.subarray(r * dim, (r + 1) * dim), j * dim);
      continue;
    }
    encoded++;
    if (!encodeVector(v, edges, scanner.codes, j * dim)) unbounded.push(j);
  }
  return { scanner, edges, unbounded: Int32Array.from(unbounded), photoIds, vectors, encoded };
}
