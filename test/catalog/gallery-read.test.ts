import { describe, expect, it } from 'vitest';
import { boxKey } from '../../src/catalog/box-key.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { BACKENDS, onBackend, openTestCatalog } from '../helpers/backends.js';

const dir = tmpDir('whaleid-gallery-read-');

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('the gallery read as one packed value', backend), () => {
    it('gives identified photos of live individuals by id, each box key spelled as from the photo record (awkward doubles included)', async () => {
      const cat = await openTestCatalog(backend, dir, `${backend.name}-gallery`);
      const ids: number[] = [];
      for (let s = 0; s < 7; s++) ids.push((await cat.addPhoto(await scenePhoto(40 + s), { originalName: `${s}.jpg`, individualName: s < 3 ? 'Salt' : s < 5 ? 'Pepper' : 'Cumin' })).photo.id);
      const pending = (await cat.addPhoto(await scenePhoto(60), { originalName: 'pending.jpg' })).photo.id;
      // boxes whose shortest spelling needs 17 digits, a whole number SQLite stores as 10.0, a tiny one
      const p0 = await cat.photo(ids[0]);
      await cat.setBox(ids[0], { x0: 0.1 + 0.2, y0: 1 / 3, x1: p0.width * (2 / 3), y1: p0.height - 1e-7 }, 'user');
      await cat.setBox(ids[1], { x0: 10, y0: 1e-9, x1: 20, y1: 30.5 }, 'model');
      const salt = (await cat.photo(ids[0])).individualId!;
      const cumin = (await cat.photo(ids[6])).individualId!;
      // Cumin merged into Salt: its photos move; Pepper's second photo skipped back to review
      await cat.merge(salt, cumin, { by: 'test' });
      await cat.skip(ids[4], { by: 'test' });
      const rows = await cat.gallery();
      const expected = [];
      for (const id of [...ids].sort((a, b) => a - b)) {
        const p = await cat.photo(id);
        if (p.status !== 'identified') continue;
        expected.push({ photoId: id, individualId: p.individualId, boxKey: boxKey(p.box) });
      }
      expect(rows).toEqual(expected);
      expect(rows.map((r) => r.photoId)).not.toContain(pending);
      expect(rows.map((r) => r.photoId)).not.toContain(ids[4]);
      expect(rows.find((r) => r.photoId === ids[0])!.boxKey).toBe(`${0.1 + 0.2},${1 / 3},${p0.width * (2 / 3)},${p0.height - 1e-7}`);
      expect(rows.find((r) => r.photoId === ids[1])!.boxKey).toBe('10,1e-9,20,30.5');
      expect(new Set(rows.map((r) => r.individualId)).size).toBe(2);
      await cat.close();
    });

    it('is empty for a catalog without identified photos', async () => {
      const cat = await openTestCatalog(backend, dir, `${backend.name}-empty`);
      await cat.addPhoto(await scenePhoto(70), { originalName: 'x.jpg' });
      expect(await cat.gallery()).toEqual([]);
      await cat.close();
    });
  });
}
