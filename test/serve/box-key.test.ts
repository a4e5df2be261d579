import { describe, it, expect, beforeAll } from 'vitest';
import path from 'node:path';
import sharp from 'sharp';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { scenePhoto } from '../helpers/photos.js';
import { runCli } from '../helpers/cli.js';

// issue 18 item 2: a box of whole numbers was keyed '10.0,...' by SQL and '10,...' by JavaScript,
// so the gallery missed the features it had just computed: HTTP 500 on the next upload
let svc: TestService;
const auth = (): Record<string, string> => ({ authorization: `Bearer ${svc.token}` });

async function uploadThree(seed: number): Promise<{ status: number; body: { results: { ok: boolean; identification: { compared: number } | null; error?: string }[] } }> {
  const form = new FormData();
  for (let i = 0; i < 3; i++) form.append('photo', new Blob([new Uint8Array(await scenePhoto(seed + i))], { type: 'image/jpeg' }), `p${seed + i}.jpg`);
  const res = await fetch(`${svc.url}/api/photos`, { method: 'POST', body: form, headers: auth() });
  return { status: res.status, body: await res.json() as never };
}

describe('gallery features of whole-number boxes', () => {
  beforeAll(async () => {
    svc = await startTestService();
  }, 240_000);

  it('a box set by hand in whole numbers, then an upload of three photos: all identified', async () => {
    const photo = (await svc.catalog.listPhotos({ status: 'identified', limit: 1, offset: 2 })).items[0];
    const box = { x0: 12, y0: 10, x1: Math.min(300, photo.width), y1: Math.min(200, photo.height) };
    const put = await fetch(`${svc.url}/api/photos/${photo.id}/box`, { method: 'PUT', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify(box) });
    expect(put.status).toBe(200);
    const r = await uploadThree(40);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.results.map((x) => x.ok)).toEqual([true, true, true]);
    for (const x of r.body.results) expect(x.identification!.compared).toBe((await svc.catalog.gallery()).length);
  });

  it('photos imported by `catalog import` while the service runs: the next upload is identified against them', async () => {
    const more = path.join(svc.dir, 'more');
    await generateSynthCatalog({ out: more, individuals: 3, photosPerIndividual: 2, seed: 77 });
    const before = (await svc.catalog.gallery()).length;
    const imp = await runCli('catalog', 'import', '--catalog', svc.catalog.file, '--data', more, '--quiet');
    expect(imp.code, imp.err).toBe(0);
    expect((await svc.catalog.gallery()).length).toBeGreaterThan(before);
    const form = new FormData();
    form.append('photo', new Blob([new Uint8Array(await sharp(await scenePhoto(50)).jpeg({ quality: 60 }).toBuffer())], { type: 'image/jpeg' }), 'after-import.jpg');
    const res = await fetch(`${svc.url}/api/photos`, { method: 'POST', body: form, headers: auth() });
    const body = await res.json() as { results: { ok: boolean; identification: { compared: number } }[] };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.results[0].identification.compared).toBe((await svc.catalog.gallery()).length);
  });
});
