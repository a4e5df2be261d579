import { describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createIdentifier, type IdentifierOptions } from '../../src/serve/identifier.js';
import { readFeatureBlock, readFeatureBlockDigest, rowsDigest } from '../../src/infer/feature-block.js';
import { boxKey } from '../../src/catalog/box-key.js';
import { startTestService } from '../helpers/service.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { tmpDir } from '../helpers/tmp.js';

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('identifier over a gallery index (a gallery above its threshold)', backend), () => {
    it('answers exactly as exhaustive scoring does, writes its feature block, starts from it after restarts, follows skips and re-boxes, refuses a block of other features', async () => {
      const svc = await startTestService({}, backend);
      const dir = tmpDir();
      const base: IdentifierOptions = { cacheDir: path.join(svc.dir, 'cache'), threads: 1 };
      // threshold 1: this 40-photo gallery is ranked through the index (bounds, then the head)
      const withIndex: IdentifierOptions = { ...base, index: { dir, threshold: 1 } };
      const exhaustive = await createIdentifier(svc.catalog, svc.run, { ...base, index: false });
      const photos = (await svc.catalog.gallery()).map((r) => r.photoId);
      const name = exhaustive.modelVersion.replace(/[^\w.-]/g, '_');
      const file = path.join(dir, `${name}.features`);
      // the feature count, from the block's own header
      const dim = (): number => {
        const bytes = readFileSync(file);
        return (JSON.parse(bytes.subarray(4, 4 + bytes.readUInt32LE(0)).toString('utf8')) as { dim: number }).dim;
      };
      const blockIds = (): number[] => Array.from(readFeatureBlock(file, dim())!.photoIds).sort((a, b) => a - b);
      const current = async (): Promise<string> => {
        const rows = await svc.catalog.gallery();
        const vectors = await svc.catalog.getFeatures(exhaustive.modelVersion, rows.map((r) => r.photoId));
        return rowsDigest(rows, rows.map((r) => vectors.get(r.photoId)!));
      };
      const agree = async (id: Awaited<ReturnType<typeof createIdentifier>>): Promise<void> => {
        for (const p of photos.slice(0, 12)) {
          for (const o of [{ k: 5, photosPerCandidate: 2 }, { k: 1, photosPerCandidate: 3 }]) expect(await id.identify(p, o)).toEqual(await exhaustive.identify(p, o));
        }
      };
      let readAll = 0;
      const counted = new Proxy(svc.catalog, { get: (t, k) => (k === 'getAllFeatures' ? (...a: Parameters<typeof t.getAllFeatures>) => (readAll++, t.getAllFeatures(...a)) : Reflect.get(t, k)) });

      let id = await createIdentifier(counted, svc.run, withIndex);
      await agree(id);
      // the block is written at the first large gallery, with the gallery's digest
      expect(blockIds()).toEqual([...photos].sort((a, b) => a - b));
      expect(readFeatureBlockDigest(file)).toBe(await current());
      expect(readAll).toBe(1);
      const skipped = photos[3];
      await svc.catalog.skip(skipped, { by: 'test' });
      await agree(id);
      await id.close();
      expect(blockIds()).not.toContain(skipped);

      // a restart starts from the block (no feature row read) and leaves it as it is: it holds the gallery
      const written = statSync(file).mtimeMs;
      readAll = 0;
      id = await createIdentifier(counted, svc.run, withIndex);
      await agree(id);
      expect(readAll).toBe(0);
      expect(statSync(file).mtimeMs).toBe(written);
      await svc.catalog.undo(skipped, { by: 'test' });
      await agree(id);
      await id.close();
      expect(blockIds()).toContain(skipped);

      // a photo re-boxed while no service ran: its block entry is of the old box, so it is read from the catalog and the block rewritten
      const reboxed = photos[5];
      const p = await svc.catalog.photo(reboxed);
      const box = { x0: 0, y0: 0, x1: Math.floor(p.width / 2), y1: p.height };
      await svc.catalog.setBox(reboxed, box, 'user');
      id = await createIdentifier(svc.catalog, svc.run, withIndex);
      await agree(id);
      await id.close();
      const block = readFeatureBlock(file, dim())!;
      expect(block.boxKeys[Array.from(block.photoIds).indexOf(reboxed)]).toBe(boxKey(box));

      // a block whose vectors are another catalog's (same photos, other features): the start's spot
      // check refuses it, the features are read from the catalog's rows and the block written anew
      const bytes = Buffer.from(readFileSync(file));
      // the features follow the header (padded to 4) and the photo ids; the index's bytes come after them
      const headerEnd = 4 + bytes.readUInt32LE(0);
      const floats = new Float32Array(bytes.buffer, headerEnd + ((4 - (headerEnd % 4)) % 4) + block.photoIds.length * 4, block.matrix.length);
      expect(Array.from(floats.subarray(0, 8))).toEqual(Array.from(block.matrix.subarray(0, 8)));
      for (let i = 0; i < floats.length; i++) floats[i] = floats[i] * 0.5 + 0.25;
      writeFileSync(file, bytes);
      readAll = 0;
      id = await createIdentifier(counted, svc.run, withIndex);
      await agree(id);
      expect(readAll).toBe(1);
      expect(readFeatureBlockDigest(file)).toBe(await current());
      await id.close();
      await exhaustive.close();
    });
  });
}
