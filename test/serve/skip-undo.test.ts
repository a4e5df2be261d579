import { describe, it, expect, beforeAll } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';
import { scenePhoto } from '../helpers/photos.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';

// issue 18 item 10: a skip replaces the photo's decision, as the review page says, and the last
// decision on a photo can be undone
let svc: TestService;

async function post(url: string, body: unknown = {}, headers: Record<string, string> = { authorization: `Bearer ${svc.token}` }): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${svc.url}${url}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}
const photoOf = async (id: number): Promise<{ status: string; individualId: number | null }> => (await fetch(`${svc.url}/api/photos/${id}`)).json() as never;
async function uploadOne(seed: number): Promise<number> {
  const form = new FormData();
  form.append('photo', new Blob([new Uint8Array(await scenePhoto(seed))], { type: 'image/jpeg' }), `s${seed}.jpg`);
  const res = await fetch(`${svc.url}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${svc.token}` } });
  return ((await res.json()) as { results: { photo: { id: number } }[] }).results[0].photo.id;
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('skip and undo', backend), () => {
    beforeAll(async () => {
      svc = await startTestService({}, backend);
    }, 240_000);

    it('skipping an identified photo takes it out of its individual (a new decision replaces the old one)', async () => {
      const photo = (await svc.catalog.listPhotos({ status: 'identified', limit: 1 })).items[0];
      const whale = photo.individualId!;
      const r = await post(`/api/photos/${photo.id}/skip`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ action: 'skip', photoId: photo.id });
      expect(await photoOf(photo.id)).toMatchObject({ status: 'skipped', individualId: null });
      const ind = await (await fetch(`${svc.url}/api/individuals/${whale}`)).json() as { photos: { id: number }[] };
      expect(ind.photos.map((p) => p.id)).not.toContain(photo.id);
      expect((await svc.catalog.gallery()).map((g) => g.photoId)).not.toContain(photo.id);
      // undo: back to its individual; undo again: its import cannot be undone
      const u = await post(`/api/photos/${photo.id}/undo`, { by: 'ann' });
      expect(u.status).toBe(200);
      expect(u.body).toMatchObject({ action: 'undo', photoId: photo.id, individualId: whale, undoes: r.body.id, decidedBy: 'ann' });
      expect(await photoOf(photo.id)).toMatchObject({ status: 'identified', individualId: whale });
      const again = await post(`/api/photos/${photo.id}/undo`);
      expect(again.status).toBe(400);
      expect(again.body.error).toBe(`photo ${photo.id}: no decision to undo (only its import, which is where it came from)`);
    });

    it('undoes decisions one by one, back to the review queue', async () => {
      const id = await uploadOne(80);
      const [a, b] = (await svc.catalog.listIndividuals({ limit: 2 })).items;
      await post(`/api/photos/${id}/confirm`, { individualId: a.id });
      await post(`/api/photos/${id}/confirm`, { individualId: b.id });
      expect(await photoOf(id)).toMatchObject({ status: 'identified', individualId: b.id });
      expect((await post(`/api/photos/${id}/undo`)).body).toMatchObject({ individualId: a.id, otherIndividualId: b.id });
      expect(await photoOf(id)).toMatchObject({ status: 'identified', individualId: a.id });
      await post(`/api/photos/${id}/undo`);
      expect(await photoOf(id)).toMatchObject({ status: 'pending', individualId: null });
      const none = await post(`/api/photos/${id}/undo`);
      expect(none.status).toBe(400);
      expect(none.body.error).toBe(`photo ${id}: no decision to undo`);
      const history = await (await fetch(`${svc.url}/api/photos/${id}/decisions`)).json() as { action: string }[];
      expect(history.map((d) => d.action)).toEqual(['undo', 'undo', 'confirm', 'confirm']);
    });

    it('undoing a new individual returns the photo to the queue and keeps the individual, without it', async () => {
      const id = await uploadOne(81);
      const made = await post(`/api/photos/${id}/new-individual`, { name: 'Undone' });
      await post(`/api/photos/${id}/undo`);
      expect(await photoOf(id)).toMatchObject({ status: 'pending', individualId: null });
      expect(await svc.catalog.individual(made.body.individual.id)).toMatchObject({ name: 'Undone', photoCount: 0 });
    });

    it('needs the token', async () => {
      const id = await uploadOne(82);
      expect((await post(`/api/photos/${id}/undo`, {}, {})).status).toBe(401);
    });
  });
}
