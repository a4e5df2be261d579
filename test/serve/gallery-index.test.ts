import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createIdentifier, type IdentifierOptions } from '../../src/serve/identifier.js';
import { openFeatureIndex } from '../../src/infer/feature-index.js';
import { startTestService } from '../helpers/service.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { tmpDir } from '../helpers/tmp.js';

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('identifier over a feature index (a gallery above its threshold)', backend), () => {
    it('answers as exhaustive scoring does, saves its index and feature block, forgets a skipped photo, takes it back and a re-boxed one anew after restarts', async () => {
      const svc = await startTestService({}, backend);
      const dir = tmpDir();
      const base: IdentifierOptions = { cacheDir: path.join(svc.dir, 'cache'), threads: 1 };
      // threshold 1: this 40-photo gallery is ranked through the index (a shortlist of all its photos: exact)
      const withIndex: IdentifierOptions = { ...base, index: { dir, threshold: 1, shortlist: 64 } };
      const exhaustive = await createIdentifier(svc.catalog, svc.run, { ...base, index: false });
      const photos = (await svc.catalog.gallery()).map((r) => r.photoId);
      const name = exhaustive.modelVersion.replace(/[^\w.-]/g, '_');
      const pointer = (): string => readFileSync(path.join(dir, `${name}.json`), 'utf8');
      const indexed = (): number[] => openFeatureIndex(dir, name, JSON.parse(pointer()).dim, { space: JSON.parse(pointer()).space })!.photoIds().sort((a, b) => a - b);
      const agree = async (id: Awaited<ReturnType<typeof createIdentifier>>): Promise<void> => {
        for (const p of photos.slice(0, 12)) expect(await id.identify(p, { k: 5, photosPerCandidate: 2 })).toEqual(await exhaustive.identify(p, { k: 5, photosPerCandidate: 2 }));
      };

      let id = await createIdentifier(svc.catalog, svc.run, withIndex);
      await agree(id);
      // built and written at the first large gallery
      expect(indexed()).toEqual([...photos].sort((a, b) => a - b));
      const skipped = photos[3];
      await svc.catalog.skip(skipped, { by: 'test' });
      await agree(id);
      await id.close();
      expect(indexed()).not.toContain(skipped);

      // a restart reads the saved index (no new generation: nothing changed) and the gallery's
      // vectors from the feature block written beside it, not from the catalog's rows
      const written = pointer();
      let readAll = 0;
      const counted = new Proxy(svc.catalog, { get: (t, k) => (k === 'getAllFeatures' ? (...a: Parameters<typeof t.getAllFeatures>) => (readAll++, t.getAllFeatures(...a)) : Reflect.get(t, k)) });
      id = await createIdentifier(counted, svc.run, withIndex);
      await agree(id);
      expect(pointer()).toBe(written);
      expect(readAll).toBe(0);
      await svc.catalog.undo(skipped, { by: 'test' });
      await agree(id);
      await id.close();
      expect(indexed()).toContain(skipped);

      // a photo re-boxed while no service ran: its block entry is of the old box, its indexed vector changes
      const reboxed = photos[5];
      const before = openFeatureIndex(dir, name, JSON.parse(pointer()).dim, { space: JSON.parse(pointer()).space })!.fingerprint(reboxed);
      const p = await svc.catalog.photo(reboxed);
      await svc.catalog.setBox(reboxed, { x0: 0, y0: 0, x1: Math.floor(p.width / 2), y1: p.height }, 'user');
      id = await createIdentifier(svc.catalog, svc.run, withIndex);
      await agree(id);
      await id.close();
      expect(openFeatureIndex(dir, name, JSON.parse(pointer()).dim, { space: JSON.parse(pointer()).space })!.fingerprint(reboxed)).not.toBe(before);
      await exhaustive.close();
    });
  });
}
