/**
 * `catalog import` as a use case below the CLI (issue 34 item 4): on PostgreSQL every photo added
 * gets its feature job, queued as the import goes; on SQLite there is no queue.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { importDatasetQueued } from '../../src/jobs/catalog-import-queued.js';
import { openJobQueue } from '../../src/jobs/job-queue.js';
import { openCatalog } from '../../src/catalog/catalog.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { copyFixture } from '../helpers/fixtures.js';

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(onBackend('catalog import with queued features', backend), () => {
    it('queues one feature job per photo added (PostgreSQL), none on SQLite; a second import adds and queues nothing', async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'whaleid-import-queued-'));
      const data = await copyFixture('synth-10x4-s11', path.join(dir, 'data'));
      const where = await backend.location(dir, 'c');
      const first = await importDatasetQueued(where.catalog, data, { photos: where.photoDir, by: 'ivy' });
      expect(first.added).toBeGreaterThan(0);
      const cat = await openCatalog(where.catalog, { photoDir: where.photoDir, create: false });
      try {
        const ids = (await cat.listPhotos({ limit: 1000 })).items.map((p) => p.id);
        expect(ids.length).toBe(first.added + first.queued);
        if (backend.name === 'sqlite') {
          expect(first.jobsQueued).toBeNull();
        } else {
          expect(first.jobsQueued).toBe(ids.length);
          const queue = await openJobQueue(where.catalog);
          try {
            const states = await queue.featureJobStates(ids);
            expect(states.size).toBe(ids.length);
            expect([...states.values()].every((s) => s.state === 'waiting')).toBe(true);
          } finally {
            await queue.close();
          }
        }
      } finally {
        await cat.close();
      }
      const again = await importDatasetQueued(where.catalog, data, { photos: where.photoDir });
      expect(again.added).toBe(0);
      expect(again.jobsQueued).toBe(backend.name === 'sqlite' ? null : 0);
    }, 180_000);
  });
}
