import { describe, it, expect, beforeAll } from 'vitest';
import { startBareService, type BareService } from '../helpers/service.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { exifPhoto, scenePhoto } from '../helpers/photos.js';

let svc: BareService;
const HERVEY_BAY = { latitude: -25.1, longitude: 152.9 };

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('dates, positions, sightings and maps over HTTP', backend), () => {
    let ids: number[];
    beforeAll(async () => {
      svc = await startBareService({}, backend);
      // one upload: two photos 1 km apart that morning, one 60 km away that afternoon
      const r = await svc.upload([
        { name: 'a.jpg', bytes: await exifPhoto(1, { takenAt: '2022:08:14 09:10:00', ...HERVEY_BAY }) },
        { name: 'b.jpg', bytes: await exifPhoto(2, { takenAt: '2022:08:14 09:25:00', latitude: HERVEY_BAY.latitude + 0.009, longitude: HERVEY_BAY.longitude }) },
        { name: 'c.jpg', bytes: await exifPhoto(3, { takenAt: '2022:08:14 15:00:00', latitude: HERVEY_BAY.latitude + 0.54, longitude: HERVEY_BAY.longitude }) },
      ]);
      expect(r.status).toBe(200);
      ids = r.body.results.map((x: { photo: { id: number } }) => x.photo.id);
    });

    it("reads each upload's date and GPS from EXIF and groups the upload into sightings", async () => {
      const [a, b, c] = await Promise.all(ids.map(async (id) => (await svc.json('GET', `/api/photos/${id}`)).body));
      expect(a).toMatchObject({ takenOn: '2022-08-14T09:10:00', takenOnSource: 'exif', latitude: HERVEY_BAY.latitude, longitude: HERVEY_BAY.longitude, positionSource: 'exif' });
      expect(b.encounterId).toBe(a.encounterId);
      expect(c.encounterId).not.toBe(a.encounterId);
      const e = await svc.json('GET', `/api/encounters/${a.encounterId}`);
      expect(e.body.photos.map((p: { id: number }) => p.id)).toEqual([a.id, b.id]);
      expect((await svc.json('GET', '/api/encounters/999')).status).toBe(404);
      const thatDay = (await svc.json('GET', '/api/encounters?date=2022-08-14')).body;
      expect(thatDay.map((x: { id: number }) => x.id)).toEqual([c.encounterId, a.encounterId]);
      expect((await svc.json('GET', '/api/encounters?date=2022-08-13')).body).toEqual([]);
      expect((await svc.json('GET', '/api/encounters?date=yesterday')).body.error).toMatch(/for date but received "yesterday"/);
      expect((await svc.json('GET', '/api/encounters?limit=1')).body).toHaveLength(1);
    });

    it('corrects a date, place and position with strict input: no coercion, no unknown fields, both coordinates', async () => {
      const id = ids[2];
      const ok = await svc.json('PATCH', `/api/photos/${id}`, { takenOn: '2022-08-15', location: 'Platypus Bay', latitude: -24.8, longitude: 153.2 });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ takenOn: '2022-08-15', takenOnSource: 'user', location: 'Platypus Bay', latitude: -24.8, positionSource: 'user' });
      const refusals: [unknown, RegExp][] = [
        [{ latitude: -24.8 }, /longitude/],
        [{ latitude: '-24.8', longitude: 153 }, /body\/latitude must be number \(received "-24.8"\)/],
        [{ latitude: 95, longitude: 153 }, /body\/latitude must be <= 90/],
        [{ takenOn: '2022-02-30' }, /takenOn/],
        [{ lattitude: 1 }, /body\/lattitude: unknown field/],
        [{}, /must NOT have fewer than 1 properties/],
      ];
      for (const [body, message] of refusals) {
        const r = await svc.json('PATCH', `/api/photos/${id}`, body);
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error).toMatch(message);
      }
      expect((await svc.json('PATCH', `/api/photos/${id}`, { location: 'x' }, {})).status).toBe(401);
      expect((await svc.json('GET', `/api/photos/${id}`)).body).toMatchObject({ takenOn: '2022-08-15', location: 'Platypus Bay', latitude: -24.8, longitude: 153.2 });
      // null clears
      expect((await svc.json('PATCH', `/api/photos/${id}`, { location: null })).body.location).toBeNull();
    });

    it('moves a photo between sightings, or to a new one of its own', async () => {
      const [a, , c] = await Promise.all(ids.map(async (id) => (await svc.json('GET', `/api/photos/${id}`)).body));
      const moved = await svc.json('PUT', `/api/photos/${c.id}/encounter`, { encounterId: a.encounterId });
      expect(moved.status).toBe(200);
      expect(moved.body.photos.map((p: { id: number }) => p.id)).toEqual(ids);
      const alone = await svc.json('PUT', `/api/photos/${c.id}/encounter`, { encounterId: null });
      expect(alone.body.photos.map((p: { id: number }) => p.id)).toEqual([c.id]);
      expect((await svc.json('PUT', `/api/photos/${c.id}/encounter`, { encounterId: '1' })).status).toBe(400);
      expect((await svc.json('PUT', `/api/photos/${c.id}/encounter`, {})).body.error).toMatch(/body\/encounterId: required/);
      expect((await svc.json('PUT', `/api/photos/${c.id}/encounter`, { encounterId: 999 })).status).toBe(404);
    });

    it("lists an individual's sightings, last seen and cover photo, and draws them on a map", async () => {
      const ind = (await svc.json('POST', `/api/photos/${ids[0]}/new-individual`, { name: 'Migaloo' })).body.individual;
      for (const id of ids.slice(1)) expect((await svc.json('POST', `/api/photos/${id}/confirm`, { individualId: ind.id })).status).toBe(200);
      const s = (await svc.json('GET', `/api/individuals/${ind.id}/sightings`)).body;
      expect(s).toHaveLength(2);
      expect(s[0]).toMatchObject({ date: '2022-08-15', latitude: -24.8, longitude: 153.2, photoIds: [ids[2]] });
      expect(s[1]).toMatchObject({ date: '2022-08-14T09:10:00', photoIds: [ids[0], ids[1]] });
      expect(s[1].latitude).toBeCloseTo(HERVEY_BAY.latitude + 0.0045, 6);
      const list = (await svc.json('GET', '/api/individuals?q=Migaloo')).body.items[0];
      expect(list).toMatchObject({ name: 'Migaloo', photoCount: 3, lastSeen: '2022-08-15', coverPhotoId: ids[0] });

      const map = await fetch(`${svc.url}/api/individuals/${ind.id}/map.svg`);
      expect(map.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
      const svg = await map.text();
      expect(svg.match(/<g class="sighting"/g)).toHaveLength(2);
      expect(svg).toContain('data-label="2022-08-14"');
      // Queensland's coast crosses the map: land is drawn
      expect(/<path class="land" d="M[^"]{200,}"/.test(svg)).toBe(true);
      const other = (await svc.upload([{ name: 'd.jpg', bytes: await exifPhoto(4, { takenAt: '2023:09:01 10:00:00', latitude: -28.6, longitude: 153.7 }) }])).body.results[0].photo;
      const withQuery = await (await fetch(`${svc.url}/api/individuals/${ind.id}/map.svg?photo=${other.id}`)).text();
      expect(withQuery.match(/<g class="current"/g)).toHaveLength(1);
      expect((await fetch(`${svc.url}/api/individuals/${ind.id}/map.svg?photo=x`)).status).toBe(400);
      expect((await fetch(`${svc.url}/api/individuals/999/sightings`)).status).toBe(404);
    });

    it('leaves a photo without EXIF undated, outside any sighting of another upload', async () => {
      const r = await svc.upload([{ name: 'plain.jpg', bytes: await scenePhoto(9) }]);
      expect(r.body.results[0].photo).toMatchObject({ takenOn: null, takenOnSource: null, latitude: null, positionSource: null });
      expect(r.body.results[0].photo.encounterId).not.toBeNull();
    });
  });
}
