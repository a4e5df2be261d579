import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFeatureBlock, writeFeatureBlock } from '../../src/infer/feature-block.js';
import path from 'node:path';
import { createFeatureIndex, openFeatureIndex, reconcileFeatureIndex } from '../../src/infer/feature-index.js';
import { shortlistRanker } from '../../src/infer/shortlist-ranking.js';
import { buildScoredGallery, type GalleryRow } from '../../src/infer/scored-gallery.js';
import { cosineHeadWeights, type HeadWeights } from '../../src/model/network/head-weights.js';
import { clusteredFeatures } from '../../src/data/synthetic-features.js';
import { tmpDir } from '../helpers/tmp.js';

const DIM = 32;
const data = clusteredFeatures({ photos: 3000, perIndividual: 5, dim: DIM, seed: 3 });
const rows: GalleryRow[] = Array.from(data.individualOf, (ind, i) => ({ photoId: i + 1, individualId: ind, boxKey: '' }));
const vectorOf = (r: Pick<GalleryRow, 'photoId'>): Float32Array => data.matrix.subarray((r.photoId - 1) * DIM, r.photoId * DIM);
const features = { get: vectorOf };
/** A head that scores by negative L1 distance (|a-b| only): a learned-head shape the cosine index only approximates. */
const l1Head: HeadWeights = { features: DIM, mid: 1, w1: Float32Array.of(0, 0, 1, 0), b1: Float32Array.of(0), w2: Float32Array.of(-1), b2: 0, w3: new Float32Array(DIM).fill(0.5), b3: 8 };
const heads: [string, HeadWeights][] = [['cosine head', cosineHeadWeights(DIM, 10, -5)], ['L1 head', l1Head]];
const queries = [...Array.from({ length: 20 }, (_, i) => ({ q: vectorOf({ photoId: 1 + i * 149 }), exclude: 1 + i * 149 })), ...Array.from({ length: 20 }, (_, i) => ({ q: data.sample(1 + i * 29, i), exclude: undefined }))];

/** The same photos as unit vectors: what a cosine-scored run's branch gives. */
const unit = (v: Float32Array): Float32Array => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const unitMatrix = new Map(rows.map((r) => [r.photoId, unit(vectorOf(r))]));

describe('feature index: shortlist ranked exactly', () => {
  const index = createFeatureIndex(DIM, { space: 'l2' });
  reconcileFeatureIndex(index, rows, vectorOf);

  it('gives the exhaustive top 5 (individuals, scores, photos) with the cosine head over a cosine index', () => {
    const head = heads[0][1];
    const unitOf = (r: Pick<GalleryRow, 'photoId'>): Float32Array => unitMatrix.get(r.photoId)!;
    const cosine = createFeatureIndex(DIM);
    reconcileFeatureIndex(cosine, rows, unitOf);
    const g = buildScoredGallery(rows, { get: unitOf }, head);
    // the head orders photos by cosine: 5 individuals' worth of photos is enough
    const ranker = shortlistRanker(g, head, cosine, 25);
    for (const { q, exclude } of queries) {
      const o = { k: 5, photosPerCandidate: 3, excludePhotoId: exclude };
      expect(ranker.rank(unit(q), o)).toEqual(g.rank(unit(q), o));
    }
  });

  it('gives the exhaustive top 5 with a distance-like head over an L2 index and a long enough shortlist', () => {
    const head = heads[1][1];
    const g = buildScoredGallery(rows, features, head);
    const ranker = shortlistRanker(g, head, index, 400);
    for (const { q, exclude } of queries) {
      const o = { k: 5, photosPerCandidate: 3, excludePhotoId: exclude };
      expect(ranker.rank(q, o)).toEqual(g.rank(q, o));
    }
    // too short a shortlist misses some of the exhaustive top 5 (what bench:scale's recall curve measures)
    const short = shortlistRanker(g, head, index, 10);
    const missed = queries.filter(({ q, exclude }) => {
      const o = { k: 5, photosPerCandidate: 3, excludePhotoId: exclude };
      return JSON.stringify(short.rank(q, o)) !== JSON.stringify(g.rank(q, o));
    });
    expect(missed.length).toBeGreaterThan(0);
  });

  it('survives a restart, grows with an added photo and forgets a removed one', async () => {
    const dir = tmpDir();
    await index.save(dir, 'model-a');
    const back = openFeatureIndex(dir, 'model-a', DIM, { space: 'l2' })!;
    expect(back.size).toBe(3000);
    expect(back.changes).toBe(0);
    for (const { q } of queries.slice(0, 10)) expect(back.search(q, 10)).toEqual(index.search(q, 10));
    expect(openFeatureIndex(dir, 'model-a', DIM + 1, { space: 'l2' })).toBeNull();
    expect(openFeatureIndex(dir, 'model-a', DIM)).toBeNull(); // another metric
    expect(openFeatureIndex(dir, 'model-b', DIM, { space: 'l2' })).toBeNull();

    // a new photo of individual 7 (confirmed), then photo 1 removed (moved out of the gallery)
    const fresh = data.sample(7, 99);
    const grown = [...rows.filter((r) => r.photoId !== 1), { photoId: 5001, individualId: 7, boxKey: '' }];
    const vec = (r: Pick<GalleryRow, 'photoId'>): Float32Array => (r.photoId === 5001 ? fresh : vectorOf(r));
    expect(reconcileFeatureIndex(back, grown, vec)).toEqual({ added: 1, removed: 1 });
    expect(back.search(fresh, 1)).toEqual([5001]);
    expect(back.search(vectorOf({ photoId: 1 }), 50)).not.toContain(1);
    await back.save(dir, 'model-a');
    // one generation on disk: the replaced one is deleted
    expect(readdirSync(dir).filter((f) => f.endsWith('.hnsw'))).toHaveLength(1);

    const again = openFeatureIndex(dir, 'model-a', DIM, { space: 'l2' })!;
    expect(again.size).toBe(3000);
    expect(again.search(fresh, 1)).toEqual([5001]);
    expect(again.search(vectorOf({ photoId: 1 }), 50)).not.toContain(1);
    expect(reconcileFeatureIndex(again, grown, vec)).toEqual({ added: 0, removed: 0 });
    // a photo whose features changed while the service was down (a new box) is indexed anew
    const moved = (r: Pick<GalleryRow, 'photoId'>): Float32Array => (r.photoId === 2 ? fresh : vec(r));
    expect(reconcileFeatureIndex(again, grown, moved)).toEqual({ added: 1, removed: 0 });
    expect(again.search(fresh, 2).sort()).toEqual([2, 5001]);

    const head = heads[1][1];
    const g = buildScoredGallery(grown, { get: vec }, head);
    const o = { k: 5, photosPerCandidate: 3 };
    expect(shortlistRanker(g, head, again, 400).rank(fresh, o)).toEqual(g.rank(fresh, o));
  });

  it('keeps the generation in use when the pointer is missing (an interrupted first save reads as none)', () => {
    const dir = tmpDir();
    expect(openFeatureIndex(dir, 'model-a', DIM)).toBeNull();
    expect(existsSync(path.join(dir, 'model-a.json'))).toBe(false);
  });

  it('writes the gallery as one feature block and reads it back whole, refusing a cut or other-sized one', async () => {
    const file = path.join(tmpDir(), 'model-a.features');
    const some = rows.slice(0, 500).map((r, i) => ({ ...r, boxKey: i % 2 ? `${i},0,10,5` : '' }));
    await writeFeatureBlock(file, some, some.map(vectorOf), DIM);
    const block = readFeatureBlock(file, DIM)!;
    expect([...block.photoIds]).toEqual(some.map((r) => r.photoId));
    expect(block.boxKeys).toEqual(some.map((r) => r.boxKey));
    expect(block.matrix).toEqual(data.matrix.slice(0, 500 * DIM));
    expect(readFeatureBlock(file, DIM + 1)).toBeNull();
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    expect(readFeatureBlock(file, DIM)).toBeNull();
    expect(readFeatureBlock(`${file}.absent`, DIM)).toBeNull();
  });
});
