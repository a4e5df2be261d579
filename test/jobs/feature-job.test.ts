import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import path from 'node:path';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import type { PhotoRecord } from '../../src/catalog/catalog-types.js';
import { annotationGalleryId } from '../../src/catalog/gallery-ids.js';
import { runFeatureJob, type FeatureExtractor } from '../../src/jobs/feature-job.js';
import { decodeLocalFeatures } from '../../src/infer/local/local-feature-store.js';
import { DEFAULT_LOCAL, DESCRIPTOR_LENGTH, keypointCount } from '../../src/infer/local/local-features.js';
import { createCatalogLocalFeatures, localRecordKey } from '../../src/infer/local/catalog-local-features.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';

const MODEL = 'test-model@1';

/** A model whose vector is the photo's id, counting its calls and keeping what it was given (the job, not the network, is under test). */
function countingExtractor(modelVersion = MODEL): FeatureExtractor & { calls: number; seen: PhotoRecord[] } {
  const e = {
    modelVersion,
    calls: 0,
    seen: [] as PhotoRecord[],
    async extract(photos: readonly PhotoRecord[]) {
      e.calls += photos.length;
      e.seen.push(...photos);
      return photos.map((p) => Float32Array.of(p.id, 1, 2));
    },
  };
  return e;
}

describe('the feature job with local descriptors (idempotent per part)', () => {
  const dir = tmpDir('whaleid-feature-job-');
  let catalog: Catalog;
  const key = localRecordKey(DEFAULT_LOCAL);
  const add = async (seed: number): Promise<number> => (await catalog.addPhoto(await scenePhoto(seed), { originalName: `p${seed}.jpg` })).photo.id;
  const stored = async (id: number) => ({
    vector: (await catalog.getFeatures(MODEL, [id])).get(id),
    record: (await catalog.getFeatureRecords(key, [id])).get(id),
  });

  beforeAll(async () => {
    catalog = await openCatalog(path.join(dir, 'c.db'), { photoDir: path.join(dir, 'photos') });
  });
  afterAll(async () => {
    await catalog?.close();
  });

  it('stores both parts; run again it finds both and writes nothing (the catalog revision stays)', async () => {
    const id = await add(1);
    const first = countingExtractor();
    const local = createCatalogLocalFeatures(catalog, { settings: DEFAULT_LOCAL });
    expect(await runFeatureJob(catalog, first, id, local)).toEqual({ photoId: id, outcome: 'written' });
    expect(first.calls).toBe(1);
    expect(local.described).toBe(1);
    const s = await stored(id);
    expect([...s.vector!]).toEqual([id, 1, 2]);
    const [f] = decodeLocalFeatures(s.record!, DEFAULT_LOCAL, 'record');
    expect(keypointCount(f)).toBeGreaterThan(0);
    expect(f.descriptors.length).toBe(keypointCount(f) * DESCRIPTOR_LENGTH);

    const revision = await catalog.revision();
    const again = countingExtractor();
    const local2 = createCatalogLocalFeatures(catalog, { settings: DEFAULT_LOCAL });
    expect(await runFeatureJob(catalog, again, id, local2)).toEqual({ photoId: id, outcome: 'present' });
    expect(again.calls).toBe(0);
    expect(local2.described).toBe(0);
    expect(await catalog.revision()).toBe(revision);
    expect((await stored(id)).record!.equals(s.record!)).toBe(true);
  });

  it('a photo with only its Siamese features gets its descriptors, the model not run again', async () => {
    const id = await add(2);
    const siameseOnly = countingExtractor();
    expect(await runFeatureJob(catalog, siameseOnly, id)).toEqual({ photoId: id, outcome: 'written' });
    expect((await stored(id)).record).toBeUndefined();
    // without a local side, a job finding the Siamese features has nothing to do
    expect(await runFeatureJob(catalog, siameseOnly, id)).toEqual({ photoId: id, outcome: 'present' });
    const local = createCatalogLocalFeatures(catalog, { settings: DEFAULT_LOCAL });
    expect(await runFeatureJob(catalog, siameseOnly, id, local)).toEqual({ photoId: id, outcome: 'written' });
    expect(siameseOnly.calls).toBe(1);
    expect(local.described).toBe(1);
    expect(keypointCount(decodeLocalFeatures((await stored(id)).record!, DEFAULT_LOCAL, 'record')[0])).toBeGreaterThan(0);
  });

  it('a photo with only its descriptors gets its Siamese features, the descriptors not described again', async () => {
    const id = await add(3);
    const local = createCatalogLocalFeatures(catalog, { settings: DEFAULT_LOCAL });
    expect(await local.store([await catalog.photo(id)])).toBe(1);
    const before = (await stored(id)).record!;
    const e = countingExtractor();
    const local2 = createCatalogLocalFeatures(catalog, { settings: DEFAULT_LOCAL });
    expect(await runFeatureJob(catalog, e, id, local2)).toEqual({ photoId: id, outcome: 'written' });
    expect(e.calls).toBe(1);
    expect(local2.described).toBe(0);
    expect((await stored(id)).record!.equals(before)).toBe(true);
    expect([...(await stored(id)).vector!]).toEqual([id, 1, 2]);
  });

  it('a damaged descriptor record is described again; a photo gone is `gone`', async () => {
    const id = await add(4);
    await catalog.putFeatures(MODEL, [{ photoId: id, vector: Float32Array.of(9) }]);
    await catalog.putFeatureRecords(key, [{ photoId: id, bytes: Buffer.from('WLKF truncated') }]);
    const local = createCatalogLocalFeatures(catalog, { settings: DEFAULT_LOCAL });
    expect(await runFeatureJob(catalog, countingExtractor(), id, local)).toEqual({ photoId: id, outcome: 'written' });
    expect(local.described).toBe(1);
    expect(keypointCount(decodeLocalFeatures((await stored(id)).record!, DEFAULT_LOCAL, 'record')[0])).toBeGreaterThan(0);
    expect(await runFeatureJob(catalog, countingExtractor(), 987654, local)).toEqual({ photoId: 987654, outcome: 'gone' });
  });

  it('with several models (a service fusing them) stores each one\'s features under its version, computing only the missing ones', async () => {
    const id = await add(5);
    const [a, b] = [countingExtractor('model-a@1'), countingExtractor('model-b@2')];
    await catalog.putFeatures('model-a@1', [{ photoId: id, vector: Float32Array.of(7, 7, 7) }]);
    expect(await runFeatureJob(catalog, [a, b], id)).toEqual({ photoId: id, outcome: 'written' });
    expect([a.calls, b.calls]).toEqual([0, 1]);
    expect([...(await catalog.getFeatures('model-a@1', [id])).get(id)!]).toEqual([7, 7, 7]);
    expect([...(await catalog.getFeatures('model-b@2', [id])).get(id)!]).toEqual([id, 1, 2]);
    expect(await runFeatureJob(catalog, [a, b], id)).toEqual({ photoId: id, outcome: 'present' });
    expect([a.calls, b.calls]).toEqual([0, 1]);
  });

  it('a photo\'s job extracts its further annotations too: each its own box and rotation, under its gallery id', async () => {
    const { photo } = await catalog.addPhoto(await scenePhoto(6), {
      originalName: 'pair.jpg', annotations: [{ box: { x: 10, y: 20, w: 100, h: 50 }, individualName: 'Salt' }, { box: { x: 150, y: 30, w: 60, h: 40 }, theta: 0.3 }],
    });
    const second = (await catalog.annotations(photo.id))[1];
    const galleryId = annotationGalleryId(second.id);
    const e = countingExtractor();
    const local = createCatalogLocalFeatures(catalog, { settings: DEFAULT_LOCAL });
    expect(await runFeatureJob(catalog, e, photo.id, local)).toEqual({ photoId: photo.id, outcome: 'written' });
    expect(e.seen.map((p) => [p.id, p.box])).toEqual([[photo.id, { x0: 10, y0: 20, x1: 110, y1: 70 }], [galleryId, { x0: 150, y0: 30, x1: 210, y1: 70, theta: 0.3 }]]);
    expect([...(await stored(galleryId)).vector!]).toEqual([galleryId, 1, 2]);
    expect(local.described).toBe(2);
    expect(keypointCount(decodeLocalFeatures((await stored(galleryId)).record!, DEFAULT_LOCAL, 'record')[0])).toBeGreaterThan(0);
    // a further annotation added later: the photo's job again extracts only it
    const third = await catalog.addAnnotation(photo.id, { box: { x: 200, y: 100, w: 80, h: 60 } }, 'ann');
    const again = countingExtractor();
    expect(await runFeatureJob(catalog, again, photo.id)).toEqual({ photoId: photo.id, outcome: 'written' });
    expect(again.seen.map((p) => p.id)).toEqual([annotationGalleryId(third.id)]);
    expect(await runFeatureJob(catalog, again, photo.id)).toEqual({ photoId: photo.id, outcome: 'present' });
  });
});
