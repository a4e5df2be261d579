import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import { annotationGalleryId } from '../../src/catalog/gallery-ids.js';
import { readCoco } from '../../src/data/formats/coco.js';
import { importExchangeQueued } from '../../src/jobs/catalog-import-queued.js';
import { runWorker } from '../../src/jobs/worker.js';
import type { FeatureJobResult } from '../../src/jobs/feature-job.js';
import { createIdentifier } from '../../src/serve/identifier.js';
import { newPostgresDatabase } from '../helpers/backends.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { writeUntrainedRun } from '../helpers/untrained-run.js';

// issue 31 item 1: on a queued (PostgreSQL) catalog the workers extract the features of a photo's
// further annotations with the photo's, so the second whale of an imported photo is in the gallery
// without the service computing anything
const unavailable = inject('postgresMissing');
if (unavailable) console.warn(`skipping the queued annotation features test: ${unavailable}`);

/** Two photos: two named whales in one (the second turned), one unnamed whale in the other (the query). */
const COCO = {
  categories: [{ id: 0, name: 'humpback' }],
  images: [{ id: 0, file_name: 'pair.jpg', width: 320, height: 200 }, { id: 1, file_name: 'query.jpg', width: 320, height: 200 }],
  annotations: [
    { id: 0, image_id: 0, category_id: 0, bbox: [10, 20, 120, 80], name: 'Salt' },
    { id: 1, image_id: 0, category_id: 0, bbox: [160, 40, 140, 90], theta: 0.4, name: 'Pepper' },
    { id: 2, image_id: 1, category_id: 0, bbox: [150, 30, 150, 100] },
  ],
};

describe.skipIf(unavailable !== '')('features of further annotations on a queued catalog', () => {
  const dir = tmpDir('whaleid-annotation-queued-');
  const runDir = path.join(dir, 'run');
  const photoDir = path.join(dir, 'photos');
  let url: string;
  let catalog: Catalog;

  beforeAll(async () => {
    // an untrained tiny run: the job's arithmetic is a trained one's
    await writeUntrainedRun(runDir);
    url = await newPostgresDatabase('annotation-queued');
  }, 120_000);
  afterAll(async () => {
    await catalog?.close();
  });

  it('a worker extracts both whales of an imported photo; the second is a candidate for a query of its individual', async () => {
    const media = path.join(dir, 'media');
    mkdirSync(media, { recursive: true });
    writeFileSync(path.join(media, 'pair.jpg'), await scenePhoto(621));
    writeFileSync(path.join(media, 'query.jpg'), await scenePhoto(622));
    const imported = await importExchangeQueued(url, readCoco(JSON.stringify(COCO), 'annotations.json'), { media, by: 'ivy', photos: photoDir });
    expect(imported.issues.filter((i) => i.severity !== 'warning')).toEqual([]);
    // one job per photo: the pair's second whale is part of its photo's job
    expect(imported.jobsQueued).toBe(2);
    catalog = await openCatalog(url, { photoDir });
    const photos = (await catalog.listPhotos({})).items;
    const pair = photos.find((p) => p.originalName === 'pair.jpg')!;
    const query = photos.find((p) => p.originalName === 'query.jpg')!;
    const second = (await catalog.annotations(pair.id))[1];
    const galleryId = annotationGalleryId(second.id);

    const stop = new AbortController();
    const done: FeatureJobResult[] = [];
    const lines: string[] = [];
    const worked = runWorker({
      catalog, url, runDir, concurrency: 1, threads: 1, scoring: false, catchUpEveryMs: 3_600_000, signal: stop.signal, onLine: (l) => lines.push(l),
      onJob: (r) => {
        done.push(r);
        if (done.length === 2) stop.abort();
      },
    });
    const timer = setTimeout(() => stop.abort(), 90_000);
    const summary = await worked;
    clearTimeout(timer);
    expect(summary, lines.join('\n')).toMatchObject({ jobs: 2, written: 2, failed: 0 });

    const identifier = await createIdentifier(catalog, runDir, { threads: 1, queued: true, onWarning: () => {} });
    try {
      const features = await catalog.getFeatures(identifier.modelVersion, [pair.id, galleryId, query.id]);
      expect([...features.keys()].sort((a, b) => a - b)).toEqual([galleryId, pair.id, query.id].sort((a, b) => a - b));
      // the second whale's own crop (its box, turned), not the photo's first
      expect([...features.get(galleryId)!]).not.toEqual([...features.get(pair.id)!]);
      const gallery = await catalog.gallery();
      expect(gallery.map((r) => r.photoId).sort((a, b) => a - b)).toEqual([galleryId, pair.id].sort((a, b) => a - b));
      const pepper = (await catalog.individualByName('Pepper'))!;
      const found = await identifier.identify(query.id, { k: 5 });
      const candidate = found.candidates.find((c) => c.individualId === pepper.id);
      expect(candidate, JSON.stringify(found.candidates)).toBeDefined();
      expect(candidate!.photos).toEqual([{ photoId: pair.id, annotationId: second.id, score: expect.any(Number) }]);
    } finally {
      await identifier.close();
    }
  }, 240_000);
});
