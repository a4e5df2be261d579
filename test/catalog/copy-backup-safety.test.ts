import { describe, it, expect, beforeAll } from 'vitest';
import { readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { snapshotFiles } from '../helpers/file-snapshot.js';
import { BACKENDS, newPostgresDatabase, onBackend } from '../helpers/backends.js';
import { checkedContents, smallCatalog } from '../helpers/copy-faults.js';

/**
 * Issue 32, items 1, 3 and 4, through the real CLI: a copy onto the same catalog under another
 * name is refused; a backup checks every photo it copies, appears only once complete, and a
 * failed one leaves nothing behind and says why in one line. (Item 2, concurrent copies, and
 * the kills and full disks are in test/robustness/catalog-faults.test.ts.)
 */
const dir = tmpDir('whaleid-copy-safety-');
const postgres = BACKENDS.find((b) => b.name === 'postgres')!;
const source = path.join(dir, 'source.db');
let files: string[];

beforeAll(async () => {
  files = await smallCatalog(source, `${source}.photos`, 100);
}, 60_000);

/** Every file left in `dir` whose name starts with `prefix`. */
const leftOf = (prefix: string): string[] => readdirSync(dir).filter((f) => f.startsWith(prefix));

describe('catalog copy onto itself', () => {
  it('refuses a SQLite target that is the source through a symlink or a hard link, with --force too, touching nothing', async () => {
    const link = path.join(dir, 'link.db');
    symlinkSync(source, link);
    const before = snapshotFiles(dir);
    const r = await runCli('catalog', 'copy', '--from', source, '--to', link, '--to-photos', `${source}.photos`, '--force', '--quiet');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^whaleid: --to .*link\.db: the same catalog as --from .*source\.db; a copy needs another target$/);
    const back = await runCli('catalog', 'copy', '--from', link, '--to', source, '--force', '--quiet');
    expect(back.code).toBe(2);
    expect(snapshotFiles(dir)).toEqual(before);
    rmSync(link);
  });

  it.skipIf(postgres.skip !== '')(onBackend('refuses the same PostgreSQL database written as another URL, with --force too', postgres), async () => {
    const url = await newPostgresDatabase('self');
    const photos = path.join(dir, 'self-photos');
    await smallCatalog(url, photos, 200);
    const before = await checkedContents(url, photos);
    // postgres://postgres@localhost:P/db?host=H and postgres:///db?host=H&port=P&user=postgres: one database
    const u = new URL(url);
    const other = `postgres:///${u.pathname.slice(1)}?host=${encodeURIComponent(u.searchParams.get('host')!)}&port=${u.port}&user=postgres`;
    const r = await runCli('catalog', 'copy', '--from', url, '--to', other, '--from-photos', photos, '--to-photos', photos, '--force', '--quiet');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^whaleid: --to postgres:\/\/\/t_self\S*: the same catalog as --from postgres:\/\/postgres@localhost\S* \(the same database of the same server\); a copy needs another target$/);
    expect(await checkedContents(url, photos)).toEqual(before);
    // another database of the same server is another catalog
    const second = await newPostgresDatabase('self_other');
    const ok = await runCli('catalog', 'copy', '--from', url, '--to', second, '--from-photos', photos, '--to-photos', photos, '--quiet');
    expect(ok.code, ok.err).toBe(0);
    expect(await checkedContents(second, photos)).toEqual(before);
  });
});

describe('catalog backup of a SQLite catalog', () => {
  it('refuses a damaged photo file, names it, and leaves nothing; a good backup restores with catalog copy', async () => {
    const good = readFileSync(files[1]);
    const damaged = Buffer.from(good);
    damaged[damaged.length >> 1] ^= 0xff;
    writeFileSync(files[1], damaged);
    const out = path.join(dir, 'damaged-backup.db');
    const r = await runCli('catalog', 'backup', '--catalog', source, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(new RegExp(`^whaleid: ${files[1].replace(/[.]/g, '\\.')}: its content's SHA-256 is [0-9a-f]{64}, not the catalog's [0-9a-f]{64} \\(a damaged or replaced photo file\\); the backup failed and nothing of it was kept`));
    expect(leftOf('damaged-backup')).toEqual([]);
    writeFileSync(files[1], good);
    // the backup a person makes once the photo is repaired restores (catalog copy checks it all)
    const again = await runCli('catalog', 'backup', '--catalog', source, '--out', out);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toMatch(/\(4 photos copied to .*damaged-backup\.db\.photos\)$/);
    const restored = path.join(dir, 'restored.db');
    const copy = await runCli('catalog', 'copy', '--from', out, '--to', restored, '--quiet');
    expect(copy.code, copy.err).toBe(0);
    expect(await checkedContents(restored, `${restored}.photos`)).toEqual(await checkedContents(source, `${source}.photos`));
  });

  it('a missing photo fails in one line (exit 2), leaves no database, journal or photo behind, and the retry works', async () => {
    const bytes = readFileSync(files[3]);
    rmSync(files[3]);
    const out = path.join(dir, 'missing-backup.db');
    const r = await runCli('catalog', 'backup', '--catalog', source, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^whaleid: \S+\.jpg: photo file missing \(the catalog's photo [0-9a-f]{64}\); give the catalog's photo folder with --photos; the backup failed and nothing of it was kept \(\S+missing-backup\.db\)$/);
    expect(leftOf('missing-backup')).toEqual([]);
    writeFileSync(files[3], bytes);
    const retry = await runCli('catalog', 'backup', '--catalog', source, '--out', out);
    expect(retry.code, retry.err).toBe(0);
    expect(leftOf('missing-backup').sort()).toEqual(['missing-backup.db', 'missing-backup.db.photos']);
    expect(await checkedContents(out, `${out}.photos`)).toEqual(await checkedContents(source, `${source}.photos`));
  });

  it.skipIf(postgres.skip !== '')(onBackend('a PostgreSQL backup that fails leaves no .partial, -wal, -shm or photo', postgres), async () => {
    const url = await newPostgresDatabase('backup_fail');
    const photos = path.join(dir, 'backup-fail-photos');
    const pgFiles = await smallCatalog(url, photos, 300);
    rmSync(pgFiles[2]);
    const out = path.join(dir, 'pg-missing.db');
    const r = await runCli('catalog', 'backup', '--catalog', url, '--photos', photos, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^whaleid: \S+\.jpg: photo file missing .*; give the catalog's photo folder with --photos; the backup failed and nothing of it was kept \(\S+pg-missing\.db\)$/);
    expect(leftOf('pg-missing')).toEqual([]);
  });
});
