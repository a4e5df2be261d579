/**
 * `whaleid model calibrate --catalog`: an imported model calibrated on a catalog's reviewed
 * photos (a reviewer's new-individual and confirm decisions), which fits exactly what the same
 * photos labelled on disk fit; photos still pending review, or skipped, take no part.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { openCatalog } from '../../src/catalog/catalog.js';
import { runCli } from '../helpers/cli.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';

const RESNET = path.resolve(import.meta.dirname, '../fixtures/embedding-models/resnet.onnx');

interface Calibration {
  scale: number;
  bias: number;
  threshold: number;
  map5: number;
  pairs: { same: number; different: number };
  source: string;
}

describe('model calibrate --catalog', () => {
  const dir = tmpDir('whaleid-calibrate-catalog-');
  const labelled = path.join(dir, 'labelled');
  const photos: { individual: number; bytes: Buffer; name: string }[] = [];

  beforeAll(async () => {
    // each individual's photos are one scene, cut and encoded differently (a random-weight network tells them apart)
    for (let k = 0; k < 5; k++) {
      mkdirSync(path.join(labelled, `ind${k}`), { recursive: true });
      const scene = await scenePhoto(400 + k, 360, 240);
      for (let j = 0; j < 3; j++) {
        const bytes = await sharp(scene).extract({ left: 8 * j, top: 4 * j, width: 340, height: 220 }).jpeg({ quality: 60 + 15 * j }).toBuffer();
        writeFileSync(path.join(labelled, `ind${k}`, `p${j}.jpg`), bytes);
        photos.push({ individual: k, bytes, name: `ind${k}-p${j}.jpg` });
      }
    }
    for (const m of ['by-data', 'by-catalog']) expect((await runCli('model', 'import', '--onnx', RESNET, '--out', path.join(dir, m), '--resize', 'crop', '--threads', '1')).code).toBe(0);
  }, 120_000);

  it('fits on the photos a reviewer identified, as the same photos labelled on disk fit, leaving out pending and skipped ones', async () => {
    const byData = await runCli('model', 'calibrate', '--model', path.join(dir, 'by-data'), '--data', labelled, '--threads', '1', '--quiet');
    expect(byData.code, byData.err).toBe(0);

    const file = path.join(dir, 'reviewed.db');
    const catalog = await openCatalog(file, { create: true });
    // uploaded without an individual (pending review), then decided: the first photo of each
    // scene starts a new individual, the others are confirmed as it
    const ids = new Map<number, number>();
    for (const p of photos) {
      const { photo } = await catalog.addPhoto(p.bytes, { originalName: p.name, uploadedBy: 'field' });
      const individual = ids.get(p.individual);
      if (individual === undefined) ids.set(p.individual, (await catalog.newIndividual(photo.id, `whale ${p.individual}`, '', { by: 'ann' })).individual.id);
      else await catalog.confirm(photo.id, individual, { by: 'ann', score: 0.9 });
    }
    // photos no reviewer identified: one still pending, one skipped (both of new scenes)
    const pending = await catalog.addPhoto(await scenePhoto(490, 360, 240), { originalName: 'pending.jpg', uploadedBy: 'field' });
    const skipped = await catalog.addPhoto(await scenePhoto(491, 360, 240), { originalName: 'skipped.jpg', uploadedBy: 'field' });
    await catalog.skip(skipped.photo.id, { by: 'ann' });
    expect(pending.photo.individualId).toBeNull();
    await catalog.close();

    const byCatalog = await runCli('model', 'calibrate', '--model', path.join(dir, 'by-catalog'), '--catalog', file, '--threads', '1', '--quiet');
    expect(byCatalog.code, byCatalog.err).toBe(0);
    expect(byCatalog.out).toMatch(/15 photos of 5 individuals, 30 same and \d+ different pairs\)$/);
    const a = JSON.parse(readFileSync(path.join(dir, 'by-data', 'calibration.json'), 'utf8')) as Calibration;
    const b = JSON.parse(readFileSync(path.join(dir, 'by-catalog', 'calibration.json'), 'utf8')) as Calibration;
    expect(b.source).toBe(file);
    expect(b.pairs).toEqual(a.pairs);
    expect(b.map5).toBeCloseTo(a.map5, 9);
    expect(b.scale).toBeCloseTo(a.scale, 6);
    expect(b.bias).toBeCloseTo(a.bias, 6);
    expect(b.threshold).toBeCloseTo(a.threshold, 6);

    // a catalog without two reviewed individuals is refused in one line
    const empty = path.join(dir, 'empty.db');
    const c2 = await openCatalog(empty, { create: true });
    await c2.addPhoto(photos[0].bytes, { originalName: 'a.jpg', uploadedBy: 'field' });
    await c2.close();
    const refused = await runCli('model', 'calibrate', '--model', path.join(dir, 'by-catalog'), '--catalog', empty, '--threads', '1', '--quiet');
    expect(refused.code).toBe(2);
    expect(refused.err.trim().split('\n')).toHaveLength(1);
    expect(refused.err).toMatch(/empty\.db: 0 labelled photos of 0 individuals; calibration needs at least 2 individuals/);
  }, 300_000);
});
