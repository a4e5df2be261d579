import { describe, it, expect } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { importExchange } from '../../src/catalog/catalog-exchange-import.js';
import { readCoco } from '../../src/data/formats/coco.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { BACKENDS, onBackend, openTestCatalog } from '../helpers/backends.js';

// issue 31 item 1: an import records a decision for every annotation that names an individual,
// so undoing a later decision about a further annotation returns it to its imported individual
const dir = tmpDir('whaleid-annotation-imports-');

/** A COCO file of one photo with three whales: two named, one not. */
const COCO = {
  categories: [{ id: 0, name: 'humpback' }],
  images: [{ id: 0, file_name: 'trio.jpg', width: 320, height: 200 }],
  annotations: [
    { id: 0, image_id: 0, category_id: 0, bbox: [10, 20, 100, 50], name: 'Salt' },
    { id: 1, image_id: 0, category_id: 0, bbox: [150, 30, 60, 40], theta: 0.3, name: 'Pepper' },
    { id: 2, image_id: 0, category_id: 0, bbox: [220, 100, 50, 40] },
  ],
};

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('imports per annotation', backend), () => {
    it('records an import for each annotation with an individual, by the importer; undo of a further one returns to it', async () => {
      const media = path.join(dir, `media-${backend.name}`);
      mkdirSync(media, { recursive: true });
      writeFileSync(path.join(media, 'trio.jpg'), await scenePhoto(611));
      const cat = await openTestCatalog(backend, dir, 'coco');
      try {
        const r = await importExchange(cat, readCoco(JSON.stringify(COCO), 'annotations.json'), { media, by: 'ivy' });
        expect(r.issues.filter((i) => i.severity !== 'warning')).toEqual([]);
        expect(r.summary).toMatchObject({ added: 1, annotations: 3, newIndividuals: 2 });
        const [photo] = (await cat.listPhotos({})).items;
        const notes = await cat.annotations(photo.id);
        const salt = (await cat.individualByName('Salt'))!;
        const pepper = (await cat.individualByName('Pepper'))!;
        expect(notes.map((a) => a.individualId)).toEqual([salt.id, pepper.id, null]);
        const imports = (await cat.decisions({ photoId: photo.id, limit: 100 })).reverse();
        expect(imports.map((d) => [d.action, d.annotationId, d.individualId, d.decidedBy])).toEqual([
          ['import', notes[0].id, salt.id, 'ivy'],
          ['import', notes[1].id, pepper.id, 'ivy'],
        ]);
        expect(await cat.countDecisions('import')).toBe(2);
        // a reviewer moves the second whale to Salt; undo returns it to Pepper, as a photo's undo returns it to its import
        await cat.decideAnnotation(photo.id, notes[1].id, { action: 'confirm', individualId: salt.id }, { by: 'carol' });
        expect((await cat.annotations(photo.id))[1].individualId).toBe(salt.id);
        const undone = (await cat.decideAnnotation(photo.id, notes[1].id, { action: 'undo' }, { by: 'carol' })).decision;
        expect(undone).toMatchObject({ action: 'undo', annotationId: notes[1].id, individualId: pepper.id, otherIndividualId: salt.id });
        expect((await cat.annotations(photo.id))[1].individualId).toBe(pepper.id);
        // and no further: its import is where it came from
        await expect(cat.decideAnnotation(photo.id, notes[1].id, { action: 'undo' }, { by: 'carol' }))
          .rejects.toThrow(`annotation ${notes[1].id} of photo ${photo.id}: no decision to undo (only its import, which is where it came from)`);
        // the unnamed whale has no import: nothing to undo
        await expect(cat.decideAnnotation(photo.id, notes[2].id, { action: 'undo' }, { by: 'carol' }))
          .rejects.toThrow(`annotation ${notes[2].id} of photo ${photo.id}: no decision to undo`);
        // the photo (its first annotation) as before
        await expect(cat.undo(photo.id, { by: 'carol' })).rejects.toThrow('only its import');
      } finally {
        await cat.close();
      }
    }, 120_000);

    it('an upload naming one individual records one import, under the uploader', async () => {
      const cat = await openTestCatalog(backend, dir, 'upload');
      try {
        const { photo } = await cat.addPhoto(await scenePhoto(612), { originalName: 'one.jpg', individualName: 'Solo', uploadedBy: 'ann' });
        const [first] = await cat.annotations(photo.id);
        expect((await cat.decisions({ photoId: photo.id })).map((d) => [d.action, d.annotationId, d.decidedBy])).toEqual([['import', first.id, 'ann']]);
      } finally {
        await cat.close();
      }
    }, 60_000);
  });
}
