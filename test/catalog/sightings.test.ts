import { describe, it, expect } from 'vitest';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openCatalog } from '../../src/catalog/catalog.js';
import { MIGRATIONS } from '../../src/catalog/catalog-schema.js';
import { distanceKm, sameSighting } from '../../src/catalog/sighting-rule.js';
import { readPhotoExif } from '../../src/image/photo-exif.js';
import { exifPhoto, scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { BACKENDS, onBackend, openTestCatalog } from '../helpers/backends.js';

const SYDNEY = { latitude: -33.859833, longitude: 151.211111 };

const dir = tmpDir('whaleid-sightings-');

describe('photo dates, positions and sightings', () => {

  it("reads the date taken and the GPS position from a camera's EXIF, and nothing from a photo without", async () => {
    expect(await readPhotoExif(await exifPhoto(1, { takenAt: '2021:07:03 09:15:30', ...SYDNEY }))).toEqual({ takenAt: '2021-07-03T09:15:30', ...SYDNEY });
    expect(await readPhotoExif(await exifPhoto(1, { takenAt: '2021:07:03 09:15:30', latitude: 64.1, longitude: -21.9 }))).toMatchObject({ latitude: 64.1, longitude: -21.9 });
    expect(await readPhotoExif(await scenePhoto(2))).toEqual({ takenAt: null, latitude: null, longitude: null });
    expect(await readPhotoExif(Buffer.from('not a photo'))).toEqual({ takenAt: null, latitude: null, longitude: null });
  });

  it('measures distances on the sphere and applies the rule both ways', () => {
    expect(distanceKm({ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 1 })).toBeCloseTo(111.19, 1);
    const p = (takenOn: string | null, location: string | null = null) => ({ takenOn, latitude: null, longitude: null, location });
    expect(sameSighting(p('2021-07-03', 'Bay'), p('2021-07-03T10:00', ' bay'), false)).toBe(true);
    expect(sameSighting(p('2021-07-03', 'Bay'), p('2021-07-03', 'Cove'), false)).toBe(false);
    expect(sameSighting(p('2021-07-03'), p('2021-07-03'), false)).toBe(false);
    expect(sameSighting(p('2021-07-03'), p('2021-07-03'), true)).toBe(true);
    expect(sameSighting(p('2021-07-03'), p('2021-07-04'), true)).toBe(false);
  });

  it('upgrades a catalog of schema 1 in place, keeping its photos and their dates', async () => {
    const file = path.join(dir, 'v1.db');
    const db = new Database(file);
    db.exec(MIGRATIONS[0]);
    db.pragma('user_version = 1');
    db.prepare("INSERT INTO photos (sha256, format, bytes, width, height, taken_on, uploaded_at) VALUES (?, 'jpeg', 1, 1, 1, '2019-07-04', '2019-07-05')").run('a'.repeat(64));
    db.close();
    const cat = await openCatalog(file);
    expect(await cat.photo(1)).toMatchObject({ takenOn: '2019-07-04', takenOnSource: 'user', latitude: null, encounterId: null });
    await cat.close();
  });
});

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('photo dates, positions and sightings in the catalog', backend), () => {
    it('stores EXIF details at upload, marked as from the camera; what a person gives wins', async () => {
      const cat = await openTestCatalog(backend, dir, `${backend.name}-exif`);
      const a = (await cat.addPhoto(await exifPhoto(3, { takenAt: '2021:07:03 09:15:30', ...SYDNEY }), { originalName: 'a.jpg' })).photo;
      expect(a).toMatchObject({ takenOn: '2021-07-03T09:15:30', takenOnSource: 'exif', ...SYDNEY, positionSource: 'exif' });
      const b = (await cat.addPhoto(await exifPhoto(4, { takenAt: '2021:07:03 09:15:30', ...SYDNEY }), { originalName: 'b.jpg', takenOn: '2021-07-02', latitude: 10, longitude: 20 })).photo;
      expect(b).toMatchObject({ takenOn: '2021-07-02', takenOnSource: 'user', latitude: 10, longitude: 20, positionSource: 'user' });
      const c = (await cat.addPhoto(await scenePhoto(5), { originalName: 'c.jpg' })).photo;
      expect(c).toMatchObject({ takenOn: null, takenOnSource: null, latitude: null, positionSource: null });
      await expect(cat.addPhoto(await scenePhoto(6), { originalName: 'd.jpg', latitude: 91, longitude: 0 })).rejects.toThrow(/Expected a number of degrees between -90 and 90 .* for latitude but received 91/);
      await expect(cat.addPhoto(await scenePhoto(6), { originalName: 'd.jpg', latitude: 10, longitude: null })).rejects.toThrow(/for longitude but received null/);
      // a person corrects the camera: date, place, position (null clears)
      expect(await cat.updatePhotoDetails(a.id, { takenOn: '2021-07-04', location: 'Manly' })).toMatchObject({ takenOn: '2021-07-04', takenOnSource: 'user', location: 'Manly', positionSource: 'exif' });
      expect(await cat.updatePhotoDetails(a.id, { latitude: null, longitude: null })).toMatchObject({ latitude: null, longitude: null, positionSource: null, takenOn: '2021-07-04' });
      await expect(cat.updatePhotoDetails(a.id, { takenOn: '2021-13-01' })).rejects.toThrow(/for takenOn/);
      await cat.close();
    });

    it('groups photos into sightings: one upload, the same day nearby, never another day or far away', async () => {
      const cat = await openTestCatalog(backend, dir, `${backend.name}-group`);
      const add = async (seed: number, o: Parameters<typeof exifPhoto>[1]) => (await cat.addPhoto(await exifPhoto(seed, o), { originalName: `${seed}.jpg`, uploadedBy: 'ann' })).photo.id;
      const day1 = '2021:07:03 09:00:00';
      const upload1 = [await add(10, { takenAt: day1, ...SYDNEY }), await add(11, { takenAt: '2021:07:03 09:40:00', latitude: SYDNEY.latitude + 0.01, longitude: SYDNEY.longitude })];
      await cat.groupIntoEncounters(upload1, { by: 'ann', sameUpload: true });
      const [e1, e2] = await Promise.all(upload1.map(async (id) => (await cat.photo(id)).encounterId));
      expect(e1).not.toBeNull();
      expect(e2).toBe(e1);
      // another upload: same day 3 km away joins; 30 km away and the next day do not
      const near = await add(12, { takenAt: '2021:07:03 15:00:00', latitude: SYDNEY.latitude + 0.027, longitude: SYDNEY.longitude });
      const far = await add(13, { takenAt: '2021:07:03 15:00:00', latitude: SYDNEY.latitude + 0.27, longitude: SYDNEY.longitude });
      const nextDay = await add(14, { takenAt: '2021:07:04 09:00:00', ...SYDNEY });
      await cat.groupIntoEncounters([near, far, nextDay], { by: 'bob', sameUpload: false });
      expect((await cat.photo(near)).encounterId).toBe(e1);
      expect(new Set([e1, (await cat.photo(far)).encounterId, (await cat.photo(nextDay)).encounterId]).size).toBe(3);
      // undated photos: grouped by upload, never across uploads
      const undated = [await add(15, {}), await add(16, {})];
      await cat.groupIntoEncounters(undated, { by: 'ann', sameUpload: true });
      expect((await cat.photo(undated[1])).encounterId).toBe((await cat.photo(undated[0])).encounterId);
      const lone = await add(17, {});
      await cat.groupIntoEncounters([lone], { by: 'ann', sameUpload: false });
      expect((await cat.photo(lone)).encounterId).toBeNull();

      // moving: to another sighting, then alone again; an emptied sighting disappears
      expect((await cat.moveToEncounter(far, e1, 'ann')).photos.map((p) => p.id)).toEqual([...upload1, near, far]);
      const alone = await cat.moveToEncounter(far, null, 'ann');
      expect(alone.photos.map((p) => p.id)).toEqual([far]);
      await expect(cat.moveToEncounter(far, null, 'ann')).rejects.toThrow(/already alone/);
      const emptied = (await cat.photo(lone)).encounterId;
      expect(emptied).toBeNull();
      const nextDayEncounter = (await cat.photo(nextDay)).encounterId!;
      await cat.moveToEncounter(nextDay, e1, 'ann');
      await expect(cat.encounter(nextDayEncounter)).rejects.toThrow(/sighting .* not found/);
      expect((await cat.listEncounters({ day: '2021-07-03' })).map((e) => e.id)).toEqual([alone.id, e1]);

      // an individual's sightings: dates, places, positions, newest first
      const salt = await cat.createIndividual('Salt', '', 'ann');
      for (const id of [upload1[0], near, far]) await cat.confirm(id, salt.id, { by: 'ann' });
      const s = await cat.sightings(salt.id);
      expect(s.map((x) => x.photoIds)).toEqual([[far], [upload1[0], near]]);
      expect(s[0]).toMatchObject({ date: '2021-07-03T15:00:00', latitude: SYDNEY.latitude + 0.27 });
      expect(s[1]).toMatchObject({ encounterId: e1, date: '2021-07-03T09:00:00' });
      expect(s[1].latitude).toBeCloseTo(SYDNEY.latitude + 0.0135, 6);
      await cat.close();
    });
  });
}
