import { describe, it, expect } from 'vitest';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import { importDataset } from '../../src/catalog/catalog-import.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { V6_UNDO_POSTGRES, V6_UNDO_SQLITE, V7_UNDO } from '../helpers/schema-undo.js';

// issue 31 item 1: a photo holds several annotations; migration 4 keeps every existing catalog
const dir = tmpDir('whaleid-annotations-');

/** What the catalog says of every photo's box and individual, through the photo and through its first annotation. */
async function boxesAndIndividuals(cat: Catalog): Promise<{ id: number; box: unknown; individualId: number | null; status: string }[]> {
  const { items } = await cat.listPhotos({ limit: 10_000 });
  return items.map((p) => ({ id: p.id, box: p.box, individualId: p.individualId, status: p.status }));
}

/** A catalog of the version 3 schema: made by this code, then its migrations 4 to 7 taken off again (7: V7_UNDO, 6: V6_UNDO_*), as an older whaleid left it. */
const V4_UNDO = `DROP TABLE users; DROP TABLE annotations; DROP INDEX photos_uuid; DROP INDEX individuals_uuid; ALTER TABLE photos DROP COLUMN uuid; ALTER TABLE individuals DROP COLUMN uuid;`;

/** A catalog with imported photos (boxes from the dataset's CSV), uploads with and without boxes, decisions of each kind. */
async function fill(cat: Catalog): Promise<void> {
  const data = path.join(dir, `synth-${Math.random().toString(36).slice(2)}`);
  await generateSynthCatalog({ out: data, individuals: 3, photosPerIndividual: 2, seed: 31 });
  await importDataset(cat, data);
  const a = (await cat.addPhoto(await scenePhoto(310), { originalName: 'a.jpg', box: { x0: 10.25, y0: 0.1 + 0.2, x1: 200, y1: 150 } })).photo;
  const b = (await cat.addPhoto(await scenePhoto(311), { originalName: 'b.jpg' })).photo;
  const ind = await cat.newIndividual(a.id, 'Salt', '', { by: 'ann' });
  await cat.confirm(b.id, ind.individual.id, { by: 'ann' });
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('annotations and migration 4', backend), () => {
    it('keeps every photo\'s box and individual of a catalog of the previous schema, each as its first annotation', async () => {
      const where = await backend.location(dir, 'migrate');
      const cat = await openCatalog(where.catalog, { photoDir: where.photoDir });
      await fill(cat);
      const before = await boxesAndIndividuals(cat);
      const gallery = await cat.gallery();
      await cat.close();
      expect(before.some((p) => p.box !== null) && before.some((p) => p.box === null) && before.some((p) => p.individualId !== null)).toBe(true);
      if (backend.name === 'sqlite') {
        const db = new Database(where.catalog);
        db.exec(V7_UNDO);
        db.exec(V6_UNDO_SQLITE);
        db.exec(V4_UNDO);
        db.pragma('user_version = 3');
        expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'annotations'").get()).toEqual({ n: 0 });
        db.close();
      } else {
        const client = new pg.Client({ connectionString: where.catalog });
        await client.connect();
        await client.query(`${V7_UNDO} ${V6_UNDO_POSTGRES} ${V4_UNDO} UPDATE whaleid_state SET schema_version = 3;`);
        await client.end();
      }
      const again = await openCatalog(where.catalog, { photoDir: where.photoDir });
      try {
        expect(await boxesAndIndividuals(again)).toEqual(before);
        expect(await again.gallery()).toEqual(gallery);
        const notes = await again.annotationsOf(before.map((p) => p.id));
        for (const p of before) {
          const list = notes.get(p.id)!;
          expect(list.map((a) => a.ordinal), `photo ${p.id}`).toEqual([0]);
          const box = p.box as { x0: number; y0: number; x1: number; y1: number } | null;
          expect(list[0].box, `photo ${p.id}`).toEqual(box ? { x: box.x0, y: box.y0, w: box.x1 - box.x0, h: box.y1 - box.y0 } : null);
          expect(list[0].individualId, `photo ${p.id}`).toBe(p.individualId);
          expect([list[0].theta, list[0].species, list[0].viewpoint, list[0].uuid]).toEqual([0, '', '', null]);
        }
      } finally {
        await again.close();
      }
    }, 120_000);

    it('holds several annotations per photo; the first stays in step with the photo\'s box and individual through boxes, decisions and merges', async () => {
      const where = await backend.location(dir, 'several');
      const cat = await openCatalog(where.catalog, { photoDir: where.photoDir });
      try {
        const { photo } = await cat.addPhoto(await scenePhoto(320), {
          originalName: 'pair.jpg', annotations: [
            { box: { x: 10, y: 20, w: 100.5, h: 50 }, theta: 0.25, species: 'Megaptera novaeangliae', viewpoint: 'fluke', individualName: 'Salt', individualUuid: 'u-salt' },
            { box: { x: 150, y: 30, w: 60, h: 40 }, theta: -0.1, species: 'Megaptera novaeangliae', viewpoint: 'left', individualName: 'Pepper' },
          ],
        });
        const salt = (await cat.individualByName('Salt'))!;
        const pepper = (await cat.individualByName('Pepper'))!;
        expect(photo.box).toEqual({ x0: 10, y0: 20, x1: 110.5, y1: 70 });
        expect(photo.individualId).toBe(salt.id);
        expect(photo.status).toBe('identified');
        let list = await cat.annotations(photo.id);
        expect(list.map((a) => [a.ordinal, a.box, a.theta, a.species, a.viewpoint, a.individualId])).toEqual([
          [0, { x: 10, y: 20, w: 100.5, h: 50 }, 0.25, 'Megaptera novaeangliae', 'fluke', salt.id],
          [1, { x: 150, y: 30, w: 60, h: 40 }, -0.1, 'Megaptera novaeangliae', 'left', pepper.id],
        ]);
        expect((await cat.storedUuids()).individuals.get(salt.id)).toBe('u-salt');
        // a third animal, added later
        const third = await cat.addAnnotation(photo.id, { box: { x: 5, y: 5, w: 20, h: 20 }, viewpoint: 'dorsal' }, 'ann');
        expect([third.ordinal, third.individualId, third.species]).toEqual([2, null, '']);
        await expect(cat.addAnnotation(photo.id, { box: { x: 500, y: 5, w: 20, h: 20 } }, 'ann')).rejects.toThrow(/overlapping the 320x200 photo/);
        // a new box (upright) and a new individual for the photo are its first annotation's
        await cat.setBox(photo.id, { x0: 12, y0: 22, x1: 112, y1: 72 }, 'user');
        const other = await cat.createIndividual('Other', '', 'ann');
        await cat.confirm(photo.id, other.id, { by: 'ann' });
        list = await cat.annotations(photo.id);
        expect([list[0].box, list[0].theta, list[0].individualId]).toEqual([{ x: 12, y: 22, w: 100, h: 50 }, 0, other.id]);
        expect(list[1].individualId).toBe(pepper.id);
        // a merge moves every annotation of the individual, not only photos' first
        await cat.merge(other.id, pepper.id, { by: 'ann' });
        list = await cat.annotations(photo.id);
        expect(list.map((a) => a.individualId)).toEqual([other.id, other.id, null]);
        // a photo uploaded the old way has one annotation from its box
        const plain = (await cat.addPhoto(await scenePhoto(321), { originalName: 'plain.jpg', box: { x0: 1, y0: 2, x1: 30, y1: 40 } })).photo;
        expect((await cat.annotations(plain.id)).map((a) => a.box)).toEqual([{ x: 1, y: 2, w: 29, h: 38 }]);
        await expect(cat.annotations(99_999)).rejects.toThrow(/photo 99999 not found/);
      } finally {
        await cat.close();
      }
    }, 120_000);
  });
}

