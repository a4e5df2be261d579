import { describe, it, expect, beforeAll } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';
import { scenePhoto } from '../helpers/photos.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';

// issue 18 item 3: the API refuses what its schemas do not allow (no coercion, no unknown
// fields, no null where a text is meant) with a 400 naming the field, and changes nothing
let svc: TestService;

async function send(method: string, url: string, body: string): Promise<{ status: number; error: string }> {
  const res = await fetch(`${svc.url}${url}`, { method, headers: { authorization: `Bearer ${svc.token}`, 'content-type': 'application/json' }, body });
  const json = await res.json() as { error?: string };
  return { status: res.status, error: json.error ?? '' };
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('strict API input', backend), () => {
    let pending: number;
    beforeAll(async () => {
      svc = await startTestService({}, backend);
      const form = new FormData();
      form.append('photo', new Blob([new Uint8Array(await scenePhoto(31))], { type: 'image/jpeg' }), 'strict.jpg');
      const res = await fetch(`${svc.url}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${svc.token}` } });
      pending = ((await res.json()) as { results: { photo: { id: number } }[] }).results[0].photo.id;
      await svc.catalog.updateIndividual(2, { notes: 'seen off Cape Cod' });
    }, 240_000);

    const cases: [string, string, () => string, string, RegExp][] = [
      ['merge from true (was: merges individual 1)', 'POST', () => '/api/individuals/9/merge', '{"from":true}', /body\/from must be integer \(received true\)/],
      ['confirm into true (was: individual 1)', 'POST', () => `/api/photos/${pending}/confirm`, '{"individualId":true}', /body\/individualId must be integer/],
      ['merge from [6] (was: 6)', 'POST', () => '/api/individuals/9/merge', '{"from":[6]}', /body\/from must be integer \(received \[6\]\)/],
      ['a misspelt field (was: 200, nothing changed)', 'PATCH', () => '/api/individuals/2', '{"nmae":"x"}', /body\/nmae: unknown field \(expected only name, notes\)/],
      ['notes null (was: notes erased)', 'PATCH', () => '/api/individuals/2', '{"notes":null}', /body\/notes must be string \(received null\)/],
      ['notes 12345 (was: stored as text)', 'PATCH', () => '/api/individuals/2', '{"notes":12345}', /body\/notes must be string \(received 12345\)/],
      ['a box corner as text', 'PUT', () => `/api/photos/${pending}/box`, '{"x0":"12","y0":10,"x1":300,"y1":200}', /body\/x0 must be number \(received "12"\)/],
      ['a missing field', 'POST', () => '/api/individuals/9/merge', '{}', /body\/from: required/],
      ['a body that is not an object', 'POST', () => `/api/photos/${pending}/skip`, '[]', /body must be object/],
    ];
    for (const [name, method, url, body, message] of cases) {
      it(`refuses ${name}`, async () => {
        const before = JSON.stringify([(await svc.catalog.listIndividuals({ limit: 1000 })).items, (await svc.catalog.listPhotos({ limit: 1000 })).items, (await svc.catalog.countDecisions())]);
        const r = await send(method, url(), body);
        expect(r.status).toBe(400);
        expect(r.error).toMatch(message);
        expect(JSON.stringify([(await svc.catalog.listIndividuals({ limit: 1000 })).items, (await svc.catalog.listPhotos({ limit: 1000 })).items, (await svc.catalog.countDecisions())])).toBe(before);
      });
    }

    it('refuses query fields it does not know and query values of the wrong type', async () => {
      const unknown = await fetch(`${svc.url}/api/photos?status=pending&sort=name`);
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { error: string }).error).toMatch(/querystring\/sort: unknown field/);
      const twice = await fetch(`${svc.url}/api/photos?limit=5&limit=6`);
      expect(twice.status).toBe(400);
      expect(((await twice.json()) as { error: string }).error).toMatch(/querystring\/limit must be integer/);
      // numbers in the URL are still numbers
      expect((await fetch(`${svc.url}/api/photos?limit=5`)).status).toBe(200);
    });

    it('still takes the well-formed requests', async () => {
      expect((await send('PATCH', '/api/individuals/2', '{"notes":"two notches"}')).status).toBe(200);
      expect((await svc.catalog.individual(2)).notes).toBe('two notches');
    });
  });
}
