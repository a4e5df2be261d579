import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { openCatalog } from '../../src/catalog/catalog.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { mountTmpfs, tmpfsMissing } from '../helpers/tmpfs.js';

// Issue 32 item 10: a disk that filled during `catalog import` printed one line per remaining photo
// (854) and counted them as unreadable photos.
const noTmpfs = tmpfsMissing();
describe.skipIf(noTmpfs !== '')(`catalog import onto a disk that fills${noTmpfs ? `: skipped, ${noTmpfs}` : ''}`, () => {
  const dir = tmpDir('whaleid-import-full-');
  const ds = path.join(dir, 'ds');
  const disk = path.join(dir, 'disk');
  let room = 0;
  let total = 0;
  let tmpfs: ReturnType<typeof mountTmpfs> | null = null;
  beforeAll(async () => {
    await generateSynthCatalog({ out: ds, individuals: 6, photosPerIndividual: 4, seed: 3 });
    // the room a whole import takes, measured on an ordinary disk
    const ref = path.join(dir, 'ref.db');
    const r = await runCli('catalog', 'import', '--catalog', ref, '--data', ds, '--quiet');
    expect(r.code, r.err).toBe(0);
    const photos = readdirSync(`${ref}.photos`, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
    const refCatalog = await openCatalog(ref);
    total = (await refCatalog.listPhotos({ limit: 1000 })).total;
    await refCatalog.close();
    room = statSync(ref).size + photos.reduce((n, f) => n + statSync(f).size, 0) / 2;
  });
  afterAll(() => tmpfs?.unmount());

  it('stops at the first write error with one line (exit 2); the photos before it are whole; run again with room, it adds the rest', async () => {
    tmpfs = mountTmpfs(disk, room);
    const db = path.join(disk, 'whales.db');
    const r = await runCli('catalog', 'import', '--catalog', db, '--data', ds);
    expect(r.code).toBe(2);
    expect(r.err.split('\n'), r.err).toHaveLength(1);
    expect(r.err).toMatch(new RegExp(`^whaleid: ${db.replace(/[.]/g, '\\.')} \\(photos in \\S+\\): no space left on device \\((ENOSPC|SQLITE_FULL)[^)]*\\); import stopped at photo (\\d+) of \\d+ \\(\\S+\\); the photos before it are in, whole: make room and run the import again to add the rest$`));
    const stoppedAt = Number(/import stopped at photo (\d+)/.exec(r.err)![1]);
    expect(stoppedAt).toBeGreaterThan(1);

    // every row has its photo file, byte for byte; no temporary file is left behind
    tmpfs.resize(room * 4);
    const cat = await openCatalog(db);
    try {
      expect(await cat.integrityCheck()).toBe('ok');
      const listed = await cat.listPhotos({ limit: 1000 });
      // the photos before the one that failed (fewer when the dataset repeats a photo), none after
      expect(listed.total).toBeGreaterThan(0);
      expect(listed.total).toBeLessThanOrEqual(stoppedAt - 1);
      expect(listed.total).toBeLessThan(total);
      for (const p of listed.items) expect(createHash('sha256').update(readFileSync(cat.photoFile(p))).digest('hex')).toBe(p.sha256);
      const files = readdirSync(`${db}.photos`, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
      expect(files.map((e) => e.name).filter((n) => !/^[0-9a-f]{64}\.\w+$/.test(n))).toEqual([]);
    } finally {
      await cat.close();
    }
    const again = await runCli('catalog', 'import', '--catalog', db, '--data', ds, '--quiet');
    expect(again.code, again.err).toBe(0);
    const whole = await openCatalog(db);
    expect((await whole.listPhotos({ limit: 1000 })).total).toBe(total);
    await whole.close();
  });
});
