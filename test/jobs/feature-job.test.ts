import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import path from 'node:path';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import type { PhotoRecord } from '../../src/catalog/catalog-types.js';
import { runFeatureJob, type FeatureExtractor } from '../../src/jobs/feature-job.js';
import { decodeLocalFeatures } from '../../src/infer/local/local-feature-store.js';
import { DEFAULT_LOCAL, DESCRIPTOR_LENGTH, keypointCount } from '../../src/infer/local/local-features.js';
import { createCatalogLocalFeatures, localRecordKey } from '../../src/infer/local/catalog-local-features.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';

const MODEL = 'test-model@1';

/** A model whose vector is the photo's id, counting its calls (the job, not the network, is under test). */
function countingExtractor(modelVersion = MODEL): FeatureExtractor & { calls: number } {
  const e = {
    modelVersion,
    calls: 0,
    async extract(photos: readonly PhotoRecord[]) {
      e.calls += photos.length;
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
});
