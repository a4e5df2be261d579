import { describe, it, expect, beforeAll, afterEach, vi } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';
import { scenePhoto } from '../helpers/photos.js';

// issue 18 item 6: an upload is read whole before anything is stored; limits and malformed
// bodies refuse it with a message (never a 500 and a stack trace), each file gets its outcome
let svc: TestService;
let small: string;
const auth = (): Record<string, string> => ({ authorization: `Bearer ${svc.token}` });

async function post(url: string, body: FormData | string | Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; body: { error?: string; results?: { ok: boolean; name: string }[] } }> {
  const res = await fetch(`${url}/api/photos`, { method: 'POST', body, headers: { ...auth(), ...headers } });
  return { status: res.status, body: await res.json() as never };
}
const form = async (photos: number[], fields: [string, string][] = []): Promise<FormData> => {
  const f = new FormData();
  for (const [k, v] of fields) f.append(k, v);
  for (const s of photos) f.append('photo', new Blob([new Uint8Array(await scenePhoto(s))], { type: 'image/jpeg' }), `u${s}.jpg`);
  return f;
};
const photoCount = async (): Promise<number> => (await svc.catalog.listPhotos({})).total;

describe('uploads: limits and malformed bodies', () => {
  const stderr: string[] = [];
  beforeAll(async () => {
    svc = await startTestService();
    small = await svc.another({ maxFilesPerUpload: 3 });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => { stderr.push(String(chunk)); return true; });
  }, 240_000);
  afterEach(() => {
    const written = stderr.splice(0).join('');
    expect(written).not.toMatch(/internal error|at .*\.js/);
  });

  it('refuses more files than the limit before storing any', async () => {
    const before = await photoCount();
    const r = await post(small, await form([60, 61, 62, 63]));
    expect(r.status).toBe(413);
    expect(r.body.error).toBe('too many files: at most 3 photos per upload; nothing was stored');
    expect(await photoCount()).toBe(before);
    expect((await post(small, await form([60, 61, 62]))).body.results!.map((x) => x.ok)).toEqual([true, true, true]);
  });

  it('refuses more form fields than the limit, and unknown or repeated fields, before storing the photo', async () => {
    const before = await photoCount();
    const many = await post(svc.url, await form([64], Array.from({ length: 22 }, (_, i) => [`f${i}`, 'x'] as [string, string])));
    expect(many.status).toBe(413);
    expect(many.body.error).toMatch(/^too many form fields: at most 20 .*; nothing was stored$/);
    const unknown = await post(svc.url, await form([64], [['loaction', 'Stellwagen Bank']]));
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('form field "loaction": unknown (expected only takenOn, location, by and photo files)');
    const twice = await post(svc.url, await form([64], [['by', 'ann'], ['by', 'bob']]));
    expect(twice.status).toBe(400);
    expect(twice.body.error).toMatch(/form field by: given 2 times/);
    const badDate = await post(svc.url, await form([64, 65], [['takenOn', '2019-02-30']]));
    expect(badDate.status).toBe(400);
    expect(badDate.body.error).toMatch(/for takenOn but received "2019-02-30"/);
    expect(await photoCount()).toBe(before);
  });

  it('answers an upload without a file with a message', async () => {
    const r = await post(svc.url, await form([], [['location', 'Stellwagen Bank']]));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/no photo file in the upload/);
  });

  it('answers a body without a boundary, or cut short, with 400 and no stack trace', async () => {
    const before = await photoCount();
    const noBoundary = await post(svc.url, 'hello', { 'content-type': 'multipart/form-data' });
    expect(noBoundary.status).toBe(400);
    expect(noBoundary.body.error).toMatch(/malformed multipart\/form-data body .*; nothing was stored/);
    const head = Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="photo"; filename="cut.jpg"\r\nContent-Type: image/jpeg\r\n\r\n');
    const photo = await scenePhoto(66);
    // the photo's first half, then the body ends: no closing boundary
    const cut = await post(svc.url, new Uint8Array(Buffer.concat([head, photo.subarray(0, photo.length >> 1)])), { 'content-type': 'multipart/form-data; boundary=XyZ' });
    expect(cut.status).toBe(400);
    expect(cut.body.error).toMatch(/malformed multipart\/form-data body/);
    expect(await photoCount()).toBe(before);
  });
});
