import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { startTestService, type TestService } from '../helpers/service.js';
import { scenePhoto } from '../helpers/photos.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { readBoxes } from '../../src/image/boxes.js';
import type { Box } from '../../src/image/affine.js';
import { openBoxDetector } from '../../src/boxes/box-predict.js';
import { shippedBoxModelDir } from '../../src/boxes/box-spec.js';
import { iou } from '../../src/boxes/iou.js';

let svc: TestService;
const auth = (): Record<string, string> => ({ authorization: `Bearer ${svc.token}` });

async function upload(files: { name: string; bytes: Buffer; type?: string }[], o: { url?: string; headers?: Record<string, string>; fields?: Record<string, string> } = {}): Promise<{ status: number; body: { results?: UploadItem[]; error?: string } }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(o.fields ?? {})) form.append(k, v);
  for (const f of files) form.append('photo', new Blob([new Uint8Array(f.bytes)], { type: f.type ?? 'image/jpeg' }), f.name);
  const res = await fetch(`${o.url ?? svc.url}/api/photos`, { method: 'POST', body: form, headers: o.headers ?? auth() });
  return { status: res.status, body: (await res.json()) as { results?: UploadItem[]; error?: string } };
}
interface UploadItem { ok: boolean; name: string; status?: number; error?: string; duplicate?: boolean; photo?: { id: number; status: string; originalName: string; sha256: string; individualId: number | null }; identification?: { suggestion: string; compared: number; candidates: { individualId: number; name: string; score: number; photos: { photoId: number; score: number }[] }[] } }

async function json(method: string, url: string, body?: unknown, headers: Record<string, string> = auth()): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${svc.url}${url}`, { method, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, body: type.includes('json') ? await res.json() : await res.text() };
}

/** A catalog photo of a whale, re-encoded (other bytes, same picture), with its fluke box. */
async function reencodedPhotoOf(index: number): Promise<{ whale: string; bytes: Buffer; image: string; box: Box }> {
  const [image, whale] = [...svc.labels.entries()].filter(([, id]) => id !== 'new_whale')[index];
  const bytes = await sharp(readFileSync(path.join(svc.data, 'train', image))).jpeg({ quality: 70 }).toBuffer();
  const box = (await readBoxes(path.join(svc.data, 'bounding_boxes.csv'))).get(image)!;
  return { whale, bytes, image, box };
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('photo-ID service over HTTP on loopback', backend), () => {
    beforeAll(async () => {
      svc = await startTestService({ maxUploadBytes: 400_000 }, backend);
    }, 240_000);

    it('reports its state and documents every route as OpenAPI', async () => {
      const h = await json('GET', '/api/health', undefined, {});
      expect(h.body).toMatchObject({ ok: true, readOnly: false, model: { version: svc.identifier.modelVersion } });
      const doc = (await json('GET', '/api/openapi.json', undefined, {})).body;
      expect(doc.openapi).toBe('3.0.3');
      for (const p of ['/api/photos', '/api/photos/{id}/candidates', '/api/photos/{id}/confirm', '/api/photos/{id}/new-individual', '/api/individuals/{id}/merge', '/api/individuals', '/api/export.csv']) expect(Object.keys(doc.paths)).toContain(p);
      expect(doc.paths['/api/photos/{id}/confirm'].post.security).toEqual([{ token: [] }]);
    });

    it('identifies an uploaded photo: its own whale first, best photos listed, same bytes recognised', async () => {
      const { whale, bytes, box } = await reencodedPhotoOf(0);
      const r = await upload([{ name: 'day1/IMG_0001.jpg', bytes }], { fields: { takenOn: '2019-07-04', location: 'Stellwagen Bank', by: 'ann' } });
      expect(r.status).toBe(200);
      const item = r.body.results![0];
      expect(item.ok).toBe(true);
      expect(item.photo).toMatchObject({ status: 'pending', originalName: 'IMG_0001.jpg', individualId: null });
      expect(item.identification!.compared).toBe((await svc.catalog.gallery()).length);
      // the photo came without its box: a person draws it, and the candidates follow the new crop
      const boxed = await json('PUT', `/api/photos/${item.photo!.id}/box`, box);
      expect(boxed.body).toMatchObject({ box, boxSource: 'user' });
      const ident = (await json('GET', `/api/photos/${item.photo!.id}/candidates`)).body as NonNullable<UploadItem['identification']>;
      expect(ident.candidates).toHaveLength(5);
      expect(ident.candidates[0].name).toBe(whale);
      expect(ident.candidates[0].photos.length).toBeGreaterThan(0);
      for (let i = 1; i < 5; i++) expect(ident.candidates[i - 1].score).toBeGreaterThanOrEqual(ident.candidates[i].score);
      const again = await upload([{ name: 'copy.jpg', bytes }]);
      expect(again.body.results![0]).toMatchObject({ ok: true, duplicate: true, photo: { id: item.photo!.id } });
      expect((await svc.catalog.listPhotos({ search: 'copy.jpg' })).total).toBe(0);
    });

    it('records a confirmation with who, when and which model, and the individual page lists the photo', async () => {
      const { whale, bytes, box } = await reencodedPhotoOf(5);
      const item = (await upload([{ name: 'to-confirm.jpg', bytes }])).body.results![0];
      await json('PUT', `/api/photos/${item.photo!.id}/box`, box);
      const top = (await json('GET', `/api/photos/${item.photo!.id}/candidates`)).body.candidates[0];
      expect(top.name).toBe(whale);
      const d = await json('POST', `/api/photos/${item.photo!.id}/confirm`, { individualId: top.individualId, score: top.score, by: 'bob' });
      expect(d.status).toBe(200);
      expect(d.body).toMatchObject({ action: 'confirm', photoId: item.photo!.id, individualId: top.individualId, decidedBy: 'bob', modelVersion: svc.identifier.modelVersion });
      const ind = (await json('GET', `/api/individuals/${top.individualId}`)).body;
      expect(ind.photos.map((p: { id: number }) => p.id)).toContain(item.photo!.id);
      expect((await json('GET', `/api/photos/${item.photo!.id}`)).body.status).toBe('identified');
      const history = (await json('GET', `/api/photos/${item.photo!.id}/decisions`)).body;
      expect(history[0]).toMatchObject({ action: 'confirm', decidedBy: 'bob' });
      // the confirmed photo is now a gallery photo: the next query is compared with it too
      const other = (await upload([{ name: 'later.jpg', bytes: await sharp(bytes).jpeg({ quality: 60 }).toBuffer() }])).body.results![0];
      await json('PUT', `/api/photos/${other.photo!.id}/box`, box);
      const next = (await json('GET', `/api/photos/${other.photo!.id}/candidates`)).body;
      expect(next.compared).toBe((await svc.catalog.gallery()).length);
      expect(next.candidates[0].photos.map((p: { photoId: number }) => p.photoId)).toContain(item.photo!.id);
      // issue 33 item 9: a confirmation sent without a score records the model's score of that individual
      const expected = next.candidates[0];
      const noScore = await json('POST', `/api/photos/${other.photo!.id}/confirm`, { individualId: expected.individualId });
      expect(noScore.status).toBe(200);
      expect(noScore.body.score).toBeCloseTo(expected.score, 5);
    });

    it('creates new individuals (named or numbered), merges two, and refuses decisions on a merged one', async () => {
      const p1 = (await upload([{ name: 'n1.jpg', bytes: await scenePhoto(1) }])).body.results![0].photo!;
      const p2 = (await upload([{ name: 'n2.jpg', bytes: await scenePhoto(2) }])).body.results![0].photo!;
      const a = (await json('POST', `/api/photos/${p1.id}/new-individual`, { name: 'Salt', notes: 'first seen 1975' })).body;
      expect(a.individual).toMatchObject({ name: 'Salt', notes: 'first seen 1975', photoCount: 1 });
      const b = (await json('POST', `/api/photos/${p2.id}/new-individual`, {})).body;
      expect(b.individual.name).toMatch(/^W\d{5}$/);
      expect((await json('POST', `/api/photos/${p2.id}/new-individual`, { name: 'Salt' })).status).toBe(400);
      const m = await json('POST', `/api/individuals/${a.individual.id}/merge`, { from: b.individual.id, by: 'cy' });
      expect(m.body).toMatchObject({ action: 'merge', individualId: a.individual.id, otherIndividualId: b.individual.id, decidedBy: 'cy' });
      expect((await json('GET', `/api/individuals/${a.individual.id}`)).body.photos.map((p: { id: number }) => p.id).sort()).toEqual([p1.id, p2.id].sort());
      expect((await json('GET', `/api/individuals?q=${b.individual.name}`)).body.total).toBe(0);
      const refused = await json('POST', `/api/photos/${p1.id}/confirm`, { individualId: b.individual.id });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatch(/was merged into/);
      const skipped = await json('POST', `/api/photos/${(await upload([{ name: 'n3.jpg', bytes: await scenePhoto(3) }])).body.results![0].photo!.id}/skip`, {});
      expect(skipped.body.action).toBe('skip');
    });

    it('needs the token for every change, and a service without one is read-only', async () => {
      const bytes = await scenePhoto(4);
      expect((await upload([{ name: 'token-check.jpg', bytes }], { headers: {} })).status).toBe(401);
      expect((await upload([{ name: 'token-check.jpg', bytes }], { headers: { authorization: 'Bearer wrong-token-123' } })).status).toBe(401);
      expect((await json('POST', '/api/individuals', { name: 'X' }, {})).status).toBe(401);
      expect((await json('POST', '/api/photos/1/confirm', { individualId: 1 }, {})).status).toBe(401);
      expect((await json('POST', '/api/individuals/1/merge', { from: 2 }, {})).status).toBe(401);
      const readOnly = await svc.another({ token: null });
      const r = await upload([{ name: 'token-check.jpg', bytes }], { url: readOnly });
      expect(r.status).toBe(403);
      expect(r.body.error).toMatch(/read-only/);
      expect((await fetch(`${readOnly}/api/individuals`)).status).toBe(200);
      expect((await svc.catalog.listPhotos({ search: 'token-check.jpg' })).total).toBe(0);
    });

    it('reports each bad photo of an upload and keeps the good ones', async () => {
      const good = await scenePhoto(5);
      const big = await sharp({ create: { width: 1200, height: 1200, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
      expect(big.length).toBeGreaterThan(400_000);
      const r = await upload([
        { name: 'good.jpg', bytes: good },
        { name: 'notes.txt', bytes: Buffer.from('not a photo at all'), type: 'text/plain' },
        { name: 'cut.jpg', bytes: good.subarray(0, Math.floor(good.length / 2)) },
        { name: 'huge.png', bytes: big, type: 'image/png' },
        { name: 'drawing.svg', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'), type: 'image/svg+xml' },
        { name: 'empty.jpg', bytes: Buffer.alloc(0) },
      ]);
      expect(r.status).toBe(200);
      const byName = new Map(r.body.results!.map((x) => [x.name, x]));
      expect(byName.get('good.jpg')!.ok).toBe(true);
      expect(byName.get('notes.txt')).toMatchObject({ ok: false, status: 415 });
      expect(byName.get('notes.txt')!.error).toMatch(/notes\.txt: not an image/);
      expect(byName.get('cut.jpg')).toMatchObject({ ok: false, status: 400 });
      expect(byName.get('cut.jpg')!.error).toMatch(/cut\.jpg: truncated or corrupt image \(the jpeg file ends before its end marker\)/);
      expect(byName.get('huge.png')).toMatchObject({ ok: false, status: 413 });
      expect(byName.get('drawing.svg')).toMatchObject({ ok: false, status: 415 });
      expect(byName.get('empty.jpg')!.error).toMatch(/empty/);
      // all bad: 400, nothing stored
      const bad = await upload([{ name: 'x.txt', bytes: Buffer.from('hello'), type: 'text/plain' }]);
      expect(bad.status).toBe(400);
    });

    it('enforces the pixel limit of the catalog', async () => {
      const { openCatalog } = await import('../../src/catalog/catalog.js');
      const small = await openCatalog(path.join(svc.dir, 'limits.db'), { maxPixels: 10_000 });
      const wide = await sharp({ create: { width: 4000, height: 10, channels: 3, background: '#345' } }).jpeg().toBuffer();
      await expect(small.addPhoto(wide, { originalName: 'wide.jpg' })).rejects.toThrow(/wide\.jpg: image exceeds the pixel limit \(4000x10 is over 10000 pixels/);
      expect((await small.listPhotos({})).total).toBe(0);
      await small.close();
    });

    it('never uses client file names as paths and stores SQL-like text as data', async () => {
      const bytes = await scenePhoto(6);
      const r = (await upload([{ name: '../../../../tmp/evil.jpg', bytes }], { fields: { location: "x'); DROP TABLE photos; --" } })).body.results![0];
      expect(r.ok).toBe(true);
      expect(r.photo!.originalName).toBe('evil.jpg');
      expect(existsSync(path.join(svc.catalog.photoFiles.dir, r.photo!.sha256.slice(0, 2), `${r.photo!.sha256}.jpg`))).toBe(true);
      const stored = readdirSync(svc.catalog.photoFiles.dir, { recursive: true }).map(String).filter((f) => f.endsWith('.jpg'));
      expect(stored.every((f) => /^[0-9a-f]{2}\/[0-9a-f]{64}\.jpg$/.test(f))).toBe(true);
      const name = "Robert'); DROP TABLE individuals; --";
      const created = await json('POST', '/api/individuals', { name, notes: '%_\\ 100% sure' });
      expect(created.status).toBe(200);
      expect(created.body.name).toBe(name);
      const found = (await json('GET', `/api/individuals?q=${encodeURIComponent("DROP TABLE")}`)).body;
      expect(found.items.map((i: { name: string }) => i.name)).toEqual([name]);
      expect((await json('GET', `/api/individuals?q=${encodeURIComponent('100%')}`)).body.total).toBe(1);
      expect((await json('GET', `/api/photos?q=${encodeURIComponent('DROP TABLE photos')}`)).body.total).toBe(1);
      expect((await json('POST', '/api/individuals', { name: 'bad\u0000name' })).status).toBe(400);
      expect((await json('GET', '/api/photos/0')).status).toBe(400);
      expect((await json('GET', '/api/photos/999999')).status).toBe(404);
      expect((await json('GET', '/api/photos/abc')).status).toBe(400);
    });

    it('keeps the catalog consistent under concurrent uploads', async () => {
      const distinct = await Promise.all([10, 11, 12, 13, 14, 15].map((s) => scenePhoto(s)));
      const same = await scenePhoto(20);
      const before = (await svc.catalog.listPhotos({})).total;
      const results = await Promise.all([...distinct.map((b, i) => upload([{ name: `c${i}.jpg`, bytes: b }])), ...[0, 1, 2, 3].map((i) => upload([{ name: `same${i}.jpg`, bytes: same }]))]);
      expect(results.every((r) => r.status === 200 && r.body.results![0].ok)).toBe(true);
      const sameIds = new Set(results.slice(distinct.length).map((r) => r.body.results![0].photo!.id));
      expect(sameIds.size).toBe(1);
      expect((await svc.catalog.listPhotos({})).total).toBe(before + distinct.length + 1);
      expect(await svc.catalog.integrityCheck()).toBe('ok');
    });

    it('gives a photo uploaded without a box the fluke detector\'s box, and matches its whale with it', async () => {
      const detector = await openBoxDetector(shippedBoxModelDir());
      try {
        const url = await svc.another({ boxDetector: detector });
        const { whale, bytes, box } = await reencodedPhotoOf(7);
        const item = (await upload([{ name: 'unboxed.jpg', bytes }], { url })).body.results![0];
        expect(item.ok).toBe(true);
        const photo = item.photo as unknown as { box: Box; boxSource: string };
        expect(photo.boxSource).toBe('model');
        expect(iou(photo.box, box)).toBeGreaterThan(0.5);
        expect(item.identification!.candidates.map((c) => c.name)).toContain(whale);
      } finally {
        await detector.dispose();
      }
    });

    it('exports the catalog as CSV and serves the photo and its review crop', async () => {
      const csv = (await json('GET', '/api/export.csv')).body as string;
      const lines = csv.trim().split('\n');
      expect(lines[0]).toBe('Image,Id,PhotoId,OriginalName,Status,x0,y0,x1,y1,BoxSource,TakenOn,Location,UploadedBy,UploadedAt');
      expect(lines.length - 1).toBe((await svc.catalog.listPhotos({})).total);
      const p = (await svc.catalog.listPhotos({ status: 'identified', limit: 1 })).items[0];
      const img = await fetch(`${svc.url}/api/photos/${p.id}/image`);
      expect(img.headers.get('content-type')).toBe('image/jpeg');
      expect(Buffer.from(await img.arrayBuffer()).equals(readFileSync(svc.catalog.photoFile(p)))).toBe(true);
      const crop = await fetch(`${svc.url}/api/photos/${p.id}/crop.jpg?width=200`);
      const meta = await sharp(Buffer.from(await crop.arrayBuffer())).metadata();
      expect(meta.width).toBe(200);
      expect(meta.height).toBe(Math.round(200 / 2.15));
    });
  });
}
