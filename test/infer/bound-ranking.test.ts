import { describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { readBlockCodes, readFeatureBlock, readFeatureBlockDigest, rowsDigest, writeFeatureBlock } from '../../src/infer/feature-block.js';
import { createGalleryIndex, featureBlockFile } from '../../src/infer/gallery-index.js';
import { tmpDir } from '../helpers/tmp.js';
import { boundRanker } from '../../src/infer/shortlist-ranking.js';
import { createCodeScanner, encodeGallery, encodeVector, fitEdges, EDGES_PER_FEATURE } from '../../src/infer/feature-codes.js';
import { headBound } from '../../src/infer/head-bound.js';
import { buildScoredGallery, type GalleryRow } from '../../src/infer/scored-gallery.js';
import { cosineHeadWeights, pairLogit, type HeadWeights } from '../../src/model/network/head-weights.js';
import { clusteredFeatures } from '../../src/data/synthetic-features.js';
import { createRng } from '../../src/util/random.js';

const DIM = 24;
const data = clusteredFeatures({ photos: 2000, perIndividual: 5, dim: DIM, seed: 4 });
const rows: GalleryRow[] = Array.from(data.individualOf, (ind, i) => ({ photoId: i + 1, individualId: ind, boxKey: '' }));
// one vector object per photo, as the feature cache holds them (the codes copy a row whose object is unchanged)
const views = rows.map((r) => data.matrix.subarray((r.photoId - 1) * DIM, r.photoId * DIM));
const vectorOf = (r: Pick<GalleryRow, 'photoId'>): Float32Array => views[r.photoId - 1];

/** A learned head with random weights of every input (product, sum, |difference|, square), seeded. */
function randomHead(mid: number, seed: number): HeadWeights {
  const rng = createRng(seed);
  const r = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal(0, s));
  return { features: DIM, mid, w1: r(4 * mid, 0.7), b1: r(mid, 0.3), w2: r(mid, 0.8), b2: rng.normal(0, 0.2), w3: Float32Array.from({ length: DIM }, () => Math.abs(rng.normal(0.05, 0.05))), b3: rng.normal(0, 0.5) };
}
const l1Head: HeadWeights = { features: DIM, mid: 1, w1: Float32Array.of(0, 0, 1, 0), b1: Float32Array.of(0), w2: Float32Array.of(-1), b2: 0, w3: new Float32Array(DIM).fill(0.05), b3: 0 };
const unit = (v: Float32Array): Float32Array => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const queries = [...Array.from({ length: 12 }, (_, i) => ({ q: vectorOf({ photoId: 1 + i * 157 }), exclude: 1 + i * 157 })), ...Array.from({ length: 8 }, (_, i) => ({ q: data.sample(1 + i * 41, i), exclude: undefined }))];

describe('exact ranking from bounded bytes', () => {
  it('every photo\'s exact logit lies under its bound, for learned heads of 1 to 9 units', () => {
    const edges = fitEdges(rows.map(vectorOf), DIM);
    const scanner = createCodeScanner(DIM, rows.length);
    rows.forEach((r, j) => encodeVector(vectorOf(r), edges, scanner.codes, j * DIM));
    for (const head of [l1Head, cosineHeadWeights(DIM, 10, -5), randomHead(1, 1), randomHead(4, 2), randomHead(9, 3)]) {
      const { offset } = headBound(head, queries[12].q, edges, scanner.table);
      const bounds = scanner.scan();
      let slack = 0;
      const exact = rows.map((r) => pairLogit(head, queries[12].q, vectorOf(r)));
      rows.forEach((r, j) => {
        expect(bounds[j] + offset).toBeGreaterThanOrEqual(exact[j]);
        slack += bounds[j] + offset - exact[j];
      });
      // and tight enough to prune (bins of 1/254 of each feature's range): well under the spread of the scores
      const mean = exact.reduce((a, x) => a + x, 0) / rows.length;
      const spread = Math.sqrt(exact.reduce((a, x) => a + (x - mean) ** 2, 0) / rows.length);
      expect(slack / rows.length).toBeLessThan(Math.max(0.1 * spread, 1e-3));
    }
  });

  it('ranks exactly as exhaustive scoring does (individuals, scores, photos): distance, cosine and random learned heads', () => {
    const cases: [HeadWeights, (v: Float32Array) => Float32Array][] = [[l1Head, (v) => v], [cosineHeadWeights(DIM, 12, -6), unit], [randomHead(3, 5), (v) => v], [randomHead(16, 6), (v) => v]];
    for (const [head, form] of cases) {
      const held = new Map(rows.map((r) => [r.photoId, form(vectorOf(r))]));
      const g = buildScoredGallery(rows, { get: (r) => held.get(r.photoId) }, head);
      const ranker = boundRanker(g, head, encodeGallery(g.photoIds, g.vectors, DIM, null));
      for (const { q, exclude } of queries) {
        for (const o of [{ k: 5, photosPerCandidate: 3, excludePhotoId: exclude }, { k: 1, photosPerCandidate: 1, excludePhotoId: exclude }]) {
          expect(ranker.rank(form(q), o)).toEqual(g.rank(form(q), o));
        }
      }
      // it scored a small part of the gallery for the distance and cosine heads (what makes it fast)
      if (head.mid <= 2) expect(ranker.scored).toBeLessThan(rows.length / 4);
    }
  });

  it('grows with the gallery: copied bytes for unchanged photos, new ones encoded, widened end bins; exact after', () => {
    const head = l1Head;
    const first = rows.slice(0, 1500);
    const g1 = buildScoredGallery(first, { get: vectorOf }, head);
    const c1 = encodeGallery(g1.photoIds, g1.vectors, DIM, null);
    expect(c1.encoded).toBe(1500);
    // later photos, one far outside every bin and one with a feature that is not a number
    const far = Float32Array.from(vectorOf(rows[1600]), (x) => x + 50);
    const broken = Float32Array.from(vectorOf(rows[1601]));
    broken[3] = Number.NaN;
    const replaced = new Map<number, Float32Array>([[1601, far], [1602, broken]]);
    const get = (r: Pick<GalleryRow, 'photoId'>): Float32Array => replaced.get(r.photoId) ?? vectorOf(r);
    const g2 = buildScoredGallery(rows, { get }, head);
    const c2 = encodeGallery(g2.photoIds, g2.vectors, DIM, c1);
    expect(c2.encoded).toBe(500);
    expect(c2.edges).toBe(c1.edges);
    expect(Array.from(c2.unbounded)).toEqual([1601]);
    const ranker = boundRanker(g2, head, c2);
    for (const { q, exclude } of [...queries, { q: far, exclude: 1601 }, { q: vectorOf(rows[1602]), exclude: undefined }]) {
      const o = { k: 5, photosPerCandidate: 3, excludePhotoId: exclude };
      expect(ranker.rank(q, o)).toEqual(g2.rank(q, o));
    }
    // the far photo's features widened the last bins of every feature
    for (let f = 0; f < DIM; f++) expect(c2.edges[f * EDGES_PER_FEATURE + EDGES_PER_FEATURE - 1]).toBeGreaterThanOrEqual(far[f]);
  });

  it('ties and duplicates: photos with identical features rank by id as exhaustive scoring does', () => {
    const dup = rows.slice(0, 200).map((r) => ({ ...r, individualId: 1 + (r.photoId % 37) }));
    const same = vectorOf(rows[0]);
    const g = buildScoredGallery(dup, { get: (r) => (r.photoId % 3 === 0 ? same : vectorOf(r)) }, l1Head);
    const ranker = boundRanker(g, l1Head, encodeGallery(g.photoIds, g.vectors, DIM, null));
    for (const o of [{ k: 5, photosPerCandidate: 3 }, { k: 50, photosPerCandidate: 2, excludePhotoId: 3 }]) expect(ranker.rank(same, o)).toEqual(g.rank(same, o));
  });

  it('refuses codes of another gallery and a query of another length', () => {
    const g = buildScoredGallery(rows.slice(0, 10), { get: vectorOf }, l1Head);
    const other = encodeGallery(Int32Array.of(1, 2), [vectorOf(rows[0]), vectorOf(rows[1])], DIM, null);
    expect(() => boundRanker(g, l1Head, other)).toThrow(/Expected 10 photos of 24 features for codes/);
    const ranker = boundRanker(g, l1Head, encodeGallery(g.photoIds, g.vectors, DIM, null));
    expect(() => ranker.rank(new Float32Array(5), { k: 5, photosPerCandidate: 1 })).toThrow(/query.length/);
  });
});

describe('gallery index: bytes written with the feature block, read back at a restart', () => {
  it('encodes once, reads the bytes at a restart, encodes only new photos, refuses a block of another gallery or a damaged one', async () => {
    const dir = tmpDir();
    const o = { dir, name: 'model', threshold: 1 };
    const file = featureBlockFile(dir, 'model');
    const first = rows.slice(0, 1500);
    const g1 = buildScoredGallery(first, { get: vectorOf }, l1Head);
    const check = async (gi: ReturnType<typeof createGalleryIndex>, g: typeof g1): Promise<void> => {
      const ranker = (await gi.rankerFor(g))!;
      for (const { q, exclude } of queries.slice(8, 16)) expect(ranker.rank(q, { k: 5, photosPerCandidate: 3, excludePhotoId: exclude })).toEqual(g.rank(q, { k: 5, photosPerCandidate: 3, excludePhotoId: exclude }));
    };
    let gi = createGalleryIndex(l1Head, o);
    await check(gi, g1);
    expect(gi.encoded).toBe(1500);
    expect(readFeatureBlockDigest(file)).toBe(rowsDigest(g1.rows, g1.vectors));
    await gi.close();
    // a restart: the bytes come from the block
    gi = createGalleryIndex(l1Head, o);
    await check(gi, g1);
    expect(gi.encoded).toBe(0);
    // photos confirmed since: only they are encoded, and the block is written at close
    const g2 = buildScoredGallery(rows.slice(0, 1510), { get: vectorOf }, l1Head);
    await check(gi, g2);
    expect(gi.encoded).toBe(10);
    await gi.close();
    expect(readFeatureBlockDigest(file)).toBe(rowsDigest(g2.rows, g2.vectors));
    gi = createGalleryIndex(l1Head, o);
    await check(gi, g2);
    expect(gi.encoded).toBe(0);
    // a gallery the block does not hold (another photo set): encoded, and the block replaced
    gi = createGalleryIndex(l1Head, o);
    await check(gi, g1);
    expect(gi.encoded).toBe(1500);
    expect(readFeatureBlockDigest(file)).toBe(rowsDigest(g1.rows, g1.vectors));
    // a damaged block (cut short): refused, encoded
    writeFileSync(file, readFileSync(file).subarray(0, statSync(file).size - 7));
    expect(readFeatureBlock(file, DIM)).toBeNull();
    gi = createGalleryIndex(l1Head, o);
    await check(gi, g1);
    expect(gi.encoded).toBe(1500);
  });

  it('the block with codes still reads as features; codes of another size or digest are refused', async () => {
    const file = `${tmpDir()}/b.features`;
    const some = rows.slice(0, 300);
    const vectors = some.map(vectorOf);
    const c = encodeGallery(Int32Array.from(some, (r) => r.photoId), vectors, DIM, null);
    await writeFeatureBlock(file, some, vectors, DIM, { edges: c.edges, unbounded: c.unbounded, codes: c.scanner.codes });
    const block = readFeatureBlock(file, DIM)!;
    expect(Array.from(block.photoIds)).toEqual(some.map((r) => r.photoId));
    expect(block.matrix).toEqual(data.matrix.subarray(0, 300 * DIM));
    const digest = rowsDigest(some, vectors);
    const back = readBlockCodes(file, DIM, digest, (n) => new Uint8Array(n * DIM))!;
    expect(back.codes).toEqual(c.scanner.codes);
    expect(back.edges).toEqual(c.edges);
    expect(readBlockCodes(file, DIM, '00000000', (n) => new Uint8Array(n * DIM))).toBeNull();
    expect(readBlockCodes(file, DIM + 1, digest, (n) => new Uint8Array(n * (DIM + 1)))).toBeNull();
    await writeFeatureBlock(file, some, vectors, DIM);
    expect(readBlockCodes(file, DIM, digest, (n) => new Uint8Array(n * DIM))).toBeNull();
    expect(readFeatureBlock(file, DIM)!.photoIds.length).toBe(300);
  });
});
