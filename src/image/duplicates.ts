import type { GreyImage } from './decode.js';
import type { ImageCache } from './image-cache.js';
import { perceptualHash, hammingDistance, hashToHex, type PerceptualHash } from './phash.js';
import { sampleCrop, normaliseInPlace } from './sample.js';
import { scaling, type Matrix3 } from './affine.js';
import { mapPool } from '../util/pool.js';

/** A photo to deduplicate; `key` must be unique (e.g. `train/a.jpg`). */
export interface DedupPhoto {
  key: string;
  file: string;
}

/** The method's thresholds. */
export interface DuplicateRule {
  /** Hashes differing by at most this many bits are candidates. Default 6. */
  maxBits: number;
  /** Largest mean squared difference of the normalised pixels. Default 0.1. */
  maxMse: number;
  /**
   * Photos of different sizes and the same aspect (a resized copy: resampling and re-encoding move
   * more hash bits, 12 of 64 for a copy at 0.89 of the size) are candidates up to this many bits;
   * the pixel check decides. Default 16.
   */
  maxBitsResized: number;
}

export const METHOD_DUPLICATE_RULE: DuplicateRule = Object.freeze({ maxBits: 6, maxMse: 0.1, maxBitsResized: 16 });

/** A set of photos judged the same; `preferred` is the one to keep (highest resolution, then first listed). */
export interface DuplicateGroup {
  preferred: string;
  members: string[];
}

/** Fingerprint of one photo. */
export interface PhotoFingerprint {
  key: string;
  hash: PerceptualHash;
  width: number;
  height: number;
  channels: number;
}

/** Result of {@link findDuplicates}. */
export interface DedupResult {
  groups: DuplicateGroup[];
  fingerprints: PhotoFingerprint[];
  /** Photos that could not be read, with the reason; the rest was processed. */
  failures: { key: string; message: string }[];
}

/**
 * Finds duplicate photos with the method's rule: equal pHash; or at most 6 differing bits, the
 * same size and mode (channels) and a mean squared difference <= 0.1 of the pixels normalised to
 * mean 0 / std 1. Extension: a copy resized by the same factor on both axes (same mode, aspect
 * within 1%) is a candidate up to 16 differing bits and is compared after resampling to the
 * smaller size, so resized duplicates whose hash moved are still found. Groups are closed
 * transitively.
 *
 * @param photos - photos with unique keys
 * @param cache - where reduced greyscale copies come from
 * @param options - rule, concurrency and progress callback
 * @returns groups of 2+ photos, every fingerprint, and every unreadable photo
 * @example
 * const { groups } = await findDuplicates(photos, createImageCache({ maxSide: 512 }));
 */
export async function findDuplicates(
  photos: readonly DedupPhoto[],
  cache: ImageCache,
  options: { rule?: DuplicateRule; concurrency?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<DedupResult> {
  const rule = options.rule ?? METHOD_DUPLICATE_RULE;
  const outcomes = await mapPool(photos, options.concurrency ?? 4, async (p) => {
    const img = await cache.load(p.file);
    return { key: p.key, hash: await perceptualHash(img), width: img.originalWidth, height: img.originalHeight, channels: img.sourceChannels };
  }, options.onProgress);
  const fingerprints: PhotoFingerprint[] = [];
  const files: string[] = [];
  const failures: DedupResult['failures'] = [];
  outcomes.forEach((o, i) => {
    if (o.ok) {
      fingerprints.push(o.value);
      files.push(photos[i].file);
    } else failures.push({ key: photos[i].key, message: o.error.message });
  });
  const n = fingerprints.length;
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const byHash = new Map<string, number>();
  fingerprints.forEach((f, i) => {
    const h = hashToHex(f.hash);
    const first = byHash.get(h);
    if (first === undefined) byHash.set(h, i);
    else union(first, i);
  });
  // Near hashes: one pass over all pairs of distinct hashes (cheap: two popcounts per pair).
  const reps = [...byHash.values()];
  const candidates: [number, number][] = [];
  for (let a = 0; a < reps.length; a++) {
    for (let b = a + 1; b < reps.length; b++) {
      const fa = fingerprints[reps[a]];
      const fb = fingerprints[reps[b]];
      const bits = hammingDistance(fa.hash, fb.hash);
      const resized = (fa.width !== fb.width || fa.height !== fb.height) && sameAspect(fa, fb);
      if (bits <= rule.maxBits || (resized && bits <= rule.maxBitsResized)) candidates.push([reps[a], reps[b]]);
    }
  }
  for (const [a, b] of candidates) {
    if (find(a) === find(b)) continue;
    const fa = fingerprints[a];
    const fb = fingerprints[b];
    if (fa.channels !== fb.channels || !sameAspect(fa, fb)) continue;
    if (pixelMse(await cache.load(files[a]), await cache.load(files[b])) <= rule.maxMse) union(a, b);
  }
  const members = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    members.set(r, [...(members.get(r) ?? []), i]);
  }
  const groups: DuplicateGroup[] = [];
  for (const idx of members.values()) {
    if (idx.length < 2) continue;
    // stable sort: among equal resolutions the photo listed first (training before test) is kept
    const sorted = idx.map((i) => fingerprints[i]).sort((p, q) => q.width * q.height - p.width * p.height);
    groups.push({ preferred: sorted[0].key, members: sorted.map((f) => f.key) });
  }
  groups.sort((g, h) => (g.preferred < h.preferred ? -1 : 1));
  return { groups, fingerprints, failures };
}

/** Width/height within 1% (a copy resized by one factor on both axes keeps it, up to rounding). */
function sameAspect(a: Pick<PhotoFingerprint, 'width' | 'height'>, b: Pick<PhotoFingerprint, 'width' | 'height'>): boolean {
  return Math.abs(a.width / a.height - b.width / b.height) <= 0.01 * (a.width / a.height);
}

/**
 * Mean squared difference of two photos' pixels after normalising each to mean 0 / std 1; the
 * larger is resampled to the smaller's size first (bilinear) when their sizes differ.
 *
 * @param a - first photo
 * @param b - second photo
 * @returns the MSE (0 for identical pixels, about 2 for unrelated photos)
 */
export function pixelMse(a: GreyImage, b: GreyImage): number {
  const [small, large] = a.width * a.height <= b.width * b.height ? [a, b] : [b, a];
  const pa = Float32Array.from(small.data);
  let pb: Float32Array;
  if (large.width === small.width && large.height === small.height) {
    pb = Float32Array.from(large.data);
  } else {
    // resample `large` onto `small`'s grid: its pixel (u, v) covers the same place of the scene
    const sx = large.width / small.width;
    const sy = large.height / small.height;
    const asOriginal: GreyImage = { ...large, scale: 1 };
    const m = scaling(sx, sy);
    const shifted: Matrix3 = [m[0], m[1], 0.5 * sx - 0.5, m[3], m[4], 0.5 * sy - 0.5, 0, 0, 1];
    pb = resampleRect(asOriginal, shifted, small.width, small.height);
  }
  normaliseInPlace(pa);
  normaliseInPlace(pb);
  let s = 0;
  for (let i = 0; i < pa.length; i++) s += (pa[i] - pb[i]) ** 2;
  return s / pa.length;
}

function resampleRect(img: GreyImage, m: Matrix3, w: number, h: number): Float32Array {
  // sampleCrop works on squares; sample a square covering the rectangle and cut it.
  const side = Math.max(w, h);
  const sq = sampleCrop(img, m, side, false);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) out.set(sq.subarray(y * side, y * side + w), y * w);
  return out;
}
