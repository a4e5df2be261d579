import { describe, it, expect } from 'vitest';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openCatalog, openCatalogDb, type Catalog } from '../../src/catalog/catalog.js';
import { TABLE_ORDER } from '../../src/catalog/catalog-tables.js';
import { annotationGalleryId } from '../../src/catalog/gallery-ids.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { BACKENDS, onBackend, type TestBackend } from '../helpers/backends.js';
import { V6_UNDO_POSTGRES, V6_UNDO_SQLITE, V7_UNDO } from '../helpers/schema-undo.js';

// issue 31 item 1: decisions, features and the gallery per annotation; migration 6 keeps every catalog
const dir = tmpDir('whaleid-annotation-decisions-');

/** Every row of every table (annotation features and user changes aside, which migrations 6 and 7 create), ordered by key, as the database gives them. */
async function allRows(where: { catalog: string }): Promise<Record<string, unknown[]>> {
  const db = await openCatalogDb(where.catalog, { readonly: true, create: false });
  try {
    const out: Record<string, unknown[]> = {};
    for (const t of TABLE_ORDER.filter((x) => x.table !== 'annotation_features' && x.table !== 'user_changes')) {
      let q = db.q().selectFrom(t.table).selectAll();
      for (const k of t.key) q = q.orderBy(k as never);
      out[t.table] = await q.execute();
    }
    return out;
  } finally {
    await db.close();
  }
}

/** A photo with two whales, decisions of every kind on both backends' catalogs, a merge, a user. */
async function fill(cat: Catalog): Promise<{ pair: number; second: number }> {
  const a = (await cat.addPhoto(await scenePhoto(601), { originalName: 'a.jpg', box: { x0: 10, y0: 10, x1: 200, y1: 120 } })).photo;
  const b = (await cat.addPhoto(await scenePhoto(602), { originalName: 'b.jpg' })).photo;
  const pair = (await cat.addPhoto(await scenePhoto(603), {
    originalName: 'pair.jpg', uploadedBy: 'ann', annotations: [{ box: { x: 10, y: 20, w: 100, h: 50 }, individualName: 'Salt' }, { box: { x: 150, y: 30, w: 60, h: 40 }, theta: 0.3 }],
  })).photo;
  const salt = await cat.newIndividual(a.id, 'Pepper', '', { by: 'ann' });
  await cat.confirm(b.id, salt.individual.id, { by: 'bob', score: 0.9, modelVersion: 'm1' });
  await cat.skip(b.id, { by: 'bob' });
  await cat.undo(b.id, { by: 'bob' });
  const other = await cat.createIndividual('Other', '', 'ann');
  await cat.merge(salt.individual.id, other.id, { by: 'ann' });
  await cat.addUser('carol', 'reviewer', 'admin');
  return { pair: pair.id, second: (await cat.annotations(pair.id))[1].id };
}

/** Takes migrations 7 and 6 off (a catalog as whaleid left it at schema 5). */
async function toVersion5(backend: TestBackend, where: { catalog: string }): Promise<void> {
  if (backend.name === 'sqlite') {
    const db = new Database(where.catalog);
    db.exec(V7_UNDO);
    db.exec(V6_UNDO_SQLITE);
    db.pragma('user_version = 5');
    db.close();
  } else {
    const client = new pg.Client({ connectionString: where.catalog });
    await client.connect();
    await client.query(`${V7_UNDO} ${V6_UNDO_POSTGRES} UPDATE whaleid_state SET schema_version = 5;`);
    await client.end();
  }
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('decisions per annotation and migration 6', backend), () => {
    it('upgrades a catalog of schema 5 keeping every row; each earlier decision names its photo\'s first annotation', async () => {
      const where = await backend.location(dir, 'v5');
      const cat = await openCatalog(where.catalog, { photoDir: where.photoDir });
      await fill(cat);
      await cat.close();
      const before = await allRows(where);
      await toVersion5(backend, where);
      const old = await allRows(where);
      expect((old.decisions as Record<string, unknown>[]).every((d) => !('annotation_id' in d))).toBe(true);
      const again = await openCatalog(where.catalog, { photoDir: where.photoDir });
      try {
        expect(await again.integrityCheck()).toBe('ok');
      } finally {
        await again.close();
      }
      const after = await allRows(where);
      // every table as it was, rows and ids; the decisions gained only their annotation
      expect(after).toEqual(before);
      const firstOf = new Map((after.annotations as { id: number; photo_id: number; ordinal: number }[]).filter((a) => a.ordinal === 0).map((a) => [a.photo_id, a.id]));
      const decisions = after.decisions as { photo_id: number | null; action: string; annotation_id: number | null }[];
      expect(decisions.map((d) => d.action)).toEqual(['import', 'new-individual', 'confirm', 'skip', 'undo', 'merge']);
      for (const d of decisions) expect(d.annotation_id, `${d.action} of photo ${d.photo_id}`).toBe(d.photo_id === null ? null : firstOf.get(d.photo_id));
      expect(decisions.filter((d) => d.action === 'merge').map((d) => d.annotation_id)).toEqual([null]);
    }, 120_000);

    it('decides about a further annotation: its individual, its history and undo, apart from the photo\'s', async () => {
      const where = await backend.location(dir, 'decide');
      const cat = await openCatalog(where.catalog, { photoDir: where.photoDir });
      try {
        const { pair, second } = await fill(cat);
        const photoBefore = await cat.photo(pair);
        const first = (await cat.annotations(pair))[0];
        const salt = (await cat.individualByName('Salt'))!;
        const pepper = (await cat.individualByName('Pepper'))!;
        // a new individual for the second whale: its own, the photo untouched
        const made = await cat.decideAnnotation(pair, second, { action: 'new-individual', name: 'Second', notes: 'calf' }, { by: 'carol' });
        expect(made.individual?.name).toBe('Second');
        expect(made.decision).toMatchObject({ photoId: pair, annotationId: second, action: 'new-individual', individualId: made.individual!.id, decidedBy: 'carol' });
        expect((await cat.annotations(pair)).map((a) => a.individualId)).toEqual([salt.id, made.individual!.id]);
        expect(await cat.photo(pair)).toEqual(photoBefore);
        // confirmed as Pepper, skipped, then undone twice: back to Pepper, then to Second
        expect((await cat.decideAnnotation(pair, second, { action: 'confirm', individualId: pepper.id }, { by: 'carol', score: 0.8 })).decision).toMatchObject({ action: 'confirm', annotationId: second, score: 0.8 });
        await cat.decideAnnotation(pair, second, { action: 'skip' }, { by: 'carol' });
        expect((await cat.annotations(pair))[1].individualId).toBeNull();
        const undone = (await cat.decideAnnotation(pair, second, { action: 'undo' }, { by: 'dave' })).decision;
        expect(undone).toMatchObject({ action: 'undo', annotationId: second, individualId: pepper.id, decidedBy: 'dave' });
        expect((await cat.annotations(pair))[1].individualId).toBe(pepper.id);
        await cat.decideAnnotation(pair, second, { action: 'undo' }, { by: 'dave' });
        expect((await cat.annotations(pair))[1].individualId).toBe(made.individual!.id);
        // the photo's own undo goes by its first annotation's decisions only: its import is all there is
        await expect(cat.undo(pair, { by: 'dave' })).rejects.toThrow(`photo ${pair}: no decision to undo (only its import, which is where it came from)`);
        // the first annotation is the photo: a decision about it is the photo's
        const viaFirst = (await cat.decideAnnotation(pair, first.id, { action: 'skip' }, { by: 'carol' })).decision;
        expect(viaFirst.annotationId).toBe(first.id);
        expect(await cat.photo(pair)).toMatchObject({ status: 'skipped', individualId: null });
        expect((await cat.undo(pair, { by: 'carol' })).annotationId).toBe(first.id);
        expect(await cat.photo(pair)).toMatchObject({ status: 'identified', individualId: salt.id });
        // the photo's history holds both annotations' decisions, each naming its own
        const history = await cat.decisions({ photoId: pair, limit: 100 });
        expect(new Set(history.map((d) => d.annotationId))).toEqual(new Set([first.id, second]));
        // refused: another photo's annotation, an unknown one, an undo with nothing to undo
        const other = (await cat.addPhoto(await scenePhoto(604), { originalName: 'c.jpg' })).photo;
        await expect(cat.decideAnnotation(other.id, second, { action: 'skip' }, { by: 'carol' })).rejects.toThrow(`photo ${other.id} has no annotation ${second}`);
        await expect(cat.decideAnnotation(pair, 99_999, { action: 'skip' }, { by: 'carol' })).rejects.toThrow(`photo ${pair} has no annotation 99999`);
        const third = await cat.addAnnotation(pair, { box: { x: 5, y: 5, w: 20, h: 20 } }, 'ann');
        await expect(cat.decideAnnotation(pair, third.id, { action: 'undo' }, { by: 'carol' })).rejects.toThrow(`annotation ${third.id} of photo ${pair}: no decision to undo`);
      } finally {
        await cat.close();
      }
    }, 120_000);

    it('puts every annotation with an individual in the gallery, each under its own id, box and features', async () => {
      const where = await backend.location(dir, 'gallery');
      const cat = await openCatalog(where.catalog, { photoDir: where.photoDir });
      try {
        const { pair, second } = await fill(cat);
        const galleryId = annotationGalleryId(second);
        // no individual yet: not in the gallery
        expect((await cat.gallery()).some((r) => r.photoId === galleryId)).toBe(false);
        const { individual } = await cat.decideAnnotation(pair, second, { action: 'new-individual', name: 'Second', notes: '' }, { by: 'carol' });
        const rows = await cat.gallery();
        expect(rows.filter((r) => r.photoId === pair || r.photoId === galleryId)).toEqual([
          { photoId: pair, individualId: (await cat.individualByName('Salt'))!.id, boxKey: '10,20,110,70' },
          { photoId: galleryId, individualId: individual!.id, boxKey: '150,30,210,70,0.3' },
        ]);
        // the photo it is cropped from: the pair's bytes, the annotation's turned box
        const crop = await cat.galleryPhoto(galleryId);
        const photo = await cat.photo(pair);
        expect(crop).toEqual({ ...photo, id: galleryId, box: { x0: 150, y0: 30, x1: 210, y1: 70, theta: 0.3 } });
        expect(await cat.galleryPhoto(pair)).toEqual(photo);
        await expect(cat.galleryPhoto(-99_999)).rejects.toThrow('annotation 99999 not found');
        // features under the gallery id: apart from the photo's, read back by id and all at once
        await cat.putFeatures('m1', [{ photoId: pair, vector: new Float32Array([1, 2]) }, { photoId: galleryId, vector: new Float32Array([3, 4]) }]);
        expect([...(await cat.getFeatures('m1', [pair, galleryId])).entries()].map(([id, v]) => [id, [...v]])).toEqual([[pair, [1, 2]], [galleryId, [3, 4]]]);
        const all = await cat.getAllFeatures('m1');
        expect([...all.get(galleryId)!]).toEqual([3, 4]);
        expect([...all.get(pair)!]).toEqual([1, 2]);
        // a new box of the photo drops the photo's features only: the second whale's box did not change
        await cat.setBox(pair, { x0: 12, y0: 20, x1: 110, y1: 70 }, 'user');
        expect([...(await cat.getFeatures('m1', [pair, galleryId])).keys()]).toEqual([galleryId]);
        // a merge moves it; a skip takes it out
        const target = await cat.createIndividual('Target', '', 'ann');
        await cat.merge(target.id, individual!.id, { by: 'ann' });
        expect((await cat.gallery()).find((r) => r.photoId === galleryId)?.individualId).toBe(target.id);
        await cat.decideAnnotation(pair, second, { action: 'skip' }, { by: 'carol' });
        expect((await cat.gallery()).some((r) => r.photoId === galleryId)).toBe(false);
      } finally {
        await cat.close();
      }
    }, 120_000);
  });
}
