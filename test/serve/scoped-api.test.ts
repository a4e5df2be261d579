import { describe, it, expect, beforeAll } from 'vitest';
import { startTestService, type TestService } from '../helpers/service.js';
import { BACKENDS, onBackend, type TestBackend } from '../helpers/backends.js';
import { addScopedGallery } from '../helpers/scoped-gallery.js';
import { FUSION_FEATURES } from '../../src/infer/fusion/fusion-model.js';
import type { IdentifierOptions } from '../../src/serve/identifier.js';

// scoped matching through the API, on SQLite and PostgreSQL, over copies of one whale's photo
// filed as other species, viewpoints, places and dates (test/helpers/scoped-gallery.ts)
/** A fused matcher's calibration as `evaluate-open --matcher fused` writes it (as in matcher-api.test.ts). */
const FUSED: Pick<IdentifierOptions, 'matcher' | 'calibration'> = {
  matcher: 'fused',
  calibration: { matcher: 'fused', threshold: 0.5, fusion: { version: 1, features: [...FUSION_FEATURES], weights: [0.5, 1.5, 1, 2], bias: -5, fittedOn: { queries: 40, samples: 400, positives: 40, logLoss: 0.1 } } } as IdentifierOptions['calibration'],
};
// the Siamese matcher on both databases (the fused one, ranked here with the local matcher's index, on SQLite)
const variants: { backend: TestBackend; matcher: Pick<IdentifierOptions, 'matcher' | 'calibration'> }[] = [...BACKENDS.map((backend) => ({ backend, matcher: {} })), { backend: BACKENDS[0], matcher: FUSED }];

for (const { backend, matcher } of variants) {
  describe.skipIf(backend.skip !== '')(onBackend(`scoped matching through the API, ${matcher.matcher ?? 'siamese'} matcher`, backend), () => {
    let svc: TestService;
    let query = 0;
    let unknownQuery = 0;
    const get = async (url: string): Promise<{ status: number; body: any }> => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const res = await fetch(`${svc.url}${url}`);
      return { status: res.status, body: await res.json() };
    };
    const names = async (q: string): Promise<{ names: string[]; compared: number; scope: unknown }> => {
      const r = await get(`/api/photos/${query}/candidates?k=50${q}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return { names: r.body.candidates.map((c: { name: string }) => c.name).sort(), compared: r.body.compared, scope: r.body.scope };
    };

    beforeAll(async () => {
      svc = await startTestService({}, backend, matcher);
      ({ query, unknownQuery } = await addScopedGallery(svc));
    }, 240_000);

    it('a photo of a known species gets candidates of its species and a compatible viewpoint only', async () => {
      const r = await names('');
      expect(r.names).toEqual(['S-backleft', 'S-far', 'S-fjord', 'S-old']);
      expect(r.compared).toBe(4);
      expect(r.scope).toEqual({ species: 'megaptera novaeangliae', viewpoint: 'left', location: null, near: null, from: null, to: null });
      // every viewpoint: the right flank joins, the orca and the photo of unknown species never
      const any = await names('&viewpoint=any');
      expect(any.names).toEqual(['S-backleft', 'S-far', 'S-fjord', 'S-old', 'S-right']);
      expect(any.compared).toBe(5);
    });

    it('narrows by radius, days, dates and location', async () => {
      expect((await names('&km=50')).names).toEqual(['S-backleft', 'S-fjord', 'S-old']);
      const r = await names('&km=50&days=30');
      expect(r.names).toEqual(['S-backleft', 'S-fjord']);
      expect(r.scope).toMatchObject({ near: { latitude: 64, longitude: -22, km: 50 }, from: '2019-06-04', to: '2019-08-03' });
      expect((await names('&from=2019-07-01&to=2019-07-31')).names).toEqual(['S-backleft', 'S-far']);
      expect((await names('&location=bay')).names).toEqual(['S-backleft', 'S-far', 'S-old']);
      expect((await names('&location=nowhere')).compared).toBe(0);
    });

    it('a photo of unknown species is compared with every photo, or with the species asked for', async () => {
      const all = await get(`/api/photos/${unknownQuery}/candidates?k=50`);
      expect(all.body.compared).toBe((await svc.catalog.gallery()).length);
      const orca = await get(`/api/photos/${unknownQuery}/candidates?k=50&species=orcinus%20orca`);
      expect(orca.body.candidates.map((c: { name: string }) => c.name)).toEqual(['S-orca']);
      expect(orca.body.scope).toMatchObject({ species: 'orcinus orca', viewpoint: null });
    });

    it('refuses bad scopes with 400 naming the field', async () => {
      const bad: [string, string][] = [
        ['km=-5', 'km'], ['km=abc', 'km'], ['days=1.5', 'days'], ['from=2019-7-1', 'from'], ['viewpoint=left', 'viewpoint'], ['radius=5', 'radius'],
        ['from=2019-02-30', 'scope from'], ['from=2019-08-01&to=2019-07-01', 'scope from (2019-08-01) is after to'], ['days=3&from=2019-07-01', 'give days'],
        ['species=Orcinus%20orca', 'never matched against another species'],
      ];
      for (const [q, field] of bad) {
        const r = await get(`/api/photos/${query}/candidates?${q}`);
        expect(r.status, q).toBe(400);
        expect(r.body.error, q).toContain(field);
      }
      const noGps = await get(`/api/photos/${unknownQuery}/candidates?km=10`);
      expect(noGps.status).toBe(400);
      expect(noGps.body.error).toBe(`scope km: photo ${unknownQuery} has no GPS position to measure 10 km from`);
    });
  });
}
