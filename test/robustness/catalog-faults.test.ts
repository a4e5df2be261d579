import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, promises as fs, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { snapshotFiles } from '../helpers/file-snapshot.js';
import { cliLauncher, startCli, until } from '../helpers/cli-process.js';
import { BACKENDS, newPostgresDatabase, onBackend } from '../helpers/backends.js';
import { checkedContents, pausePhoto, smallCatalog, type PausedPhoto } from '../helpers/copy-faults.js';
import { tmpfsMissing } from '../helpers/tmpfs.js';

/**
 * The fault table of catalog copy and backup (issue 32): killed (SIGKILL) while photos are
 * copied and inside the target's write transaction, two copies into one target, and a full disk
 * (a small tmpfs). Every row ends with each catalog either untouched or complete and checked
 * (rows through the catalog, every photo file's SHA-256), and the command a person runs next
 * works or says in one line what to do. The copies run as the real CLI; kills in child processes.
 */
const dir = tmpDir('whaleid-catalog-faults-');
const postgres = BACKENDS.find((b) => b.name === 'postgres')!;
const launcher = cliLauncher(dir);
let seed = 1000;
const realWriteFile = fs.writeFile.bind(fs);

/** A new small SQLite catalog in `dir`, with its photo files. */
async function sqliteSource(name: string, n = 4, width = 240): Promise<{ db: string; photos: string; files: string[] }> {
  const db = path.join(dir, `${name}.db`);
  const files = await smallCatalog(db, `${db}.photos`, (seed += 10), n, width);
  return { db, photos: `${db}.photos`, files };
}

/** A new small PostgreSQL catalog (its own database and photo folder). */
async function postgresSource(name: string, n = 4, width = 240): Promise<{ db: string; photos: string; files: string[] }> {
  const db = await newPostgresDatabase(name);
  const photos = path.join(dir, `${name}.pg.photos`);
  return { db, photos, files: await smallCatalog(db, photos, (seed += 10), n, width) };
}

/** Runs `whaleid <args>` in a child process and kills it (SIGKILL) once it reads the paused photo, or at `moment`. */
async function killAt(paused: PausedPhoto, args: string[], moment?: () => Promise<void>): Promise<void> {
  const p = startCli(launcher, args.slice(0, 2).join(' '), args);
  const early = p.exited.then(() => Promise.reject(new Error(`${args.join(' ')} ended before the kill:\n${p.output()}`)));
  await Promise.race([paused.reached, early]);
  if (moment) await Promise.race([moment(), early]);
  p.kill('SIGKILL');
  expect((await p.exited).signal).toBe('SIGKILL');
  await paused.restore();
}

/** Files in `dir` whose names start with `prefix`. */
const leftOf = (prefix: string): string[] => readdirSync(dir).filter((f) => f.startsWith(prefix)).sort();

describe('catalog copy and backup killed (SIGKILL) at several moments', () => {
  it('a copy to a new SQLite file killed while copying photos leaves no catalog; the retry says what to remove, then completes', async () => {
    const s = await sqliteSource('k1');
    const to = path.join(dir, 'k1-copy.db');
    await killAt(pausePhoto(s.files.at(-1)!), ['catalog', 'copy', '--from', s.db, '--to', to, '--quiet']);
    expect(existsSync(to)).toBe(false);
    const retry = await runCli('catalog', 'copy', '--from', s.db, '--to', to, '--quiet');
    expect([retry.code, retry.err]).toEqual([2, `whaleid: ${to}.partial exists: another copy to ${to} is running or was interrupted; remove ${to}.partial and run again`]);
    rmSync(`${to}.partial`);
    expect((await runCli('catalog', 'copy', '--from', s.db, '--to', to, '--quiet')).code).toBe(0);
    expect(await checkedContents(to, `${to}.photos`)).toEqual(await checkedContents(s.db, s.photos));
  });

  it('a backup of a SQLite catalog killed while copying photos leaves no backup; the retry after removing the .partial completes', async () => {
    const s = await sqliteSource('k2');
    const out = path.join(dir, 'k2-backup.db');
    await killAt(pausePhoto(s.files.at(-1)!), ['catalog', 'backup', '--catalog', s.db, '--out', out]);
    // a SIGKILL leaves the .partial (with its journals) and the photos copied so far, never the backup
    expect(leftOf('k2-backup')).toEqual(['k2-backup.db.partial', 'k2-backup.db.partial-shm', 'k2-backup.db.partial-wal', 'k2-backup.db.photos']);
    const forced = await runCli('catalog', 'backup', '--catalog', s.db, '--out', out, '--force');
    expect([forced.code, forced.err]).toEqual([2, `whaleid: ${out}.partial exists: another backup to ${out} is running or was interrupted; remove ${out}.partial and ${out}.photos and run again`]);
    rmSync(`${out}.partial`);
    rmSync(`${out}.photos`, { recursive: true });
    const retry = await runCli('catalog', 'backup', '--catalog', s.db, '--out', out);
    expect(retry.code, retry.err).toBe(0);
    expect(await checkedContents(out, `${out}.photos`)).toEqual(await checkedContents(s.db, s.photos));
  });

  describe.skipIf(postgres.skip !== '')(onBackend('PostgreSQL', postgres), () => {
    it('a --force copy over a PostgreSQL catalog killed inside its write transaction leaves the old catalog whole', async () => {
      const s = await sqliteSource('k3');
      const old = await postgresSource('k3_old');
      const before = await checkedContents(old.db, old.photos);
      const args = ['catalog', 'copy', '--from', s.db, '--to', old.db, '--to-photos', old.photos, '--force', '--quiet'];
      // killed with the old catalog's decisions deleted, waiting on our lock of the features table
      const locker = new pg.Client({ connectionString: old.db });
      await locker.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE features IN SHARE MODE');
        const paused = pausePhoto(s.files.at(-1)!);
        await killAt(paused, args, async () => {
          await paused.release();
          await until('the copy waits on the lock', async () => Number((await locker.query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0].n) > 0, 30_000);
        });
        await locker.query('ROLLBACK');
        await until('the killed copy\'s session ends', async () => Number((await locker.query('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows[0].n) === 0, 30_000);
      } finally {
        await locker.end();
      }
      expect(await checkedContents(old.db, old.photos)).toEqual(before);
      const done = await runCli(...args);
      expect(done.code, done.err).toBe(0);
      expect(await checkedContents(old.db, old.photos)).toEqual(await checkedContents(s.db, s.photos));
    });

    it('a backup of a PostgreSQL catalog killed while copying photos leaves no backup; the retry completes', async () => {
      const s = await postgresSource('k4');
      const out = path.join(dir, 'k4-backup.db');
      await killAt(pausePhoto(s.files.at(-1)!), ['catalog', 'backup', '--catalog', s.db, '--photos', s.photos, '--out', out]);
      expect(leftOf('k4-backup')).toEqual(['k4-backup.db.partial', 'k4-backup.db.partial-shm', 'k4-backup.db.partial-wal', 'k4-backup.db.photos']);
      // the advice followed: both removed, the same command again
      rmSync(`${out}.partial`);
      rmSync(`${out}.photos`, { recursive: true });
      const retry = await runCli('catalog', 'backup', '--catalog', s.db, '--photos', s.photos, '--out', out);
      expect(retry.code, retry.err).toBe(0);
      expect(await checkedContents(out, `${out}.photos`)).toEqual(await checkedContents(s.db, s.photos));
    });
  });
});

describe('two copies into one target', () => {
  it.skipIf(postgres.skip !== '')(onBackend('into one empty PostgreSQL database without --force: one completes, the other is refused (issue 32 item 2)', postgres), async () => {
    const a = await sqliteSource('c1a');
    const b = await sqliteSource('c1b');
    const target = await newPostgresDatabase('c1');
    const photos = path.join(dir, 'c1.pg.photos');
    const paused = [pausePhoto(a.files.at(-1)!), pausePhoto(b.files.at(-1)!)];
    let results: Awaited<ReturnType<typeof runCli>>[];
    try {
      const runs = [a, b].map((s) => runCli('catalog', 'copy', '--from', s.db, '--to', target, '--to-photos', photos, '--quiet'));
      // both past their first look at the target (empty), both at their last photo, then both on
      await Promise.race([Promise.all(paused.map((p) => p.reached)), ...runs.map((r) => r.then((x) => Promise.reject(new Error(`a copy ended early: ${x.err}`))))]);
      await Promise.all(paused.map((p) => p.release()));
      results = await Promise.all(runs);
    } finally {
      // the pipes go before anything reads the sources' photos again
      await Promise.all(paused.map((p) => p.restore()));
    }
    expect(results.map((r) => r.code).sort()).toEqual([0, 2]);
    const [winner, loser] = results[0].code === 0 ? [a, results[1]] : [b, results[0]];
    expect(loser.err).toMatch(/^whaleid: postgres:\/\/\S+: holds a catalog already \(\d+ rows\); a copy never mixes two catalogs/);
    expect(await checkedContents(target, photos)).toEqual(await checkedContents(winner.db, winner.photos));
  });

  it('into one new SQLite file: the second is refused while the first runs, the first completes', async () => {
    const a = await sqliteSource('c2a');
    const b = await sqliteSource('c2b');
    const to = path.join(dir, 'c2.db');
    const paused = pausePhoto(a.files.at(-1)!);
    try {
      const first = runCli('catalog', 'copy', '--from', a.db, '--to', to, '--quiet');
      await Promise.race([paused.reached, first.then((x) => Promise.reject(new Error(`the copy ended early: ${x.err}`)))]);
      const second = await runCli('catalog', 'copy', '--from', b.db, '--to', to, '--quiet');
      expect([second.code, second.err]).toEqual([2, `whaleid: ${to}.partial exists: another copy to ${to} is running or was interrupted; remove ${to}.partial and run again`]);
      await paused.release();
      const done = await first;
      expect(done.code, done.err).toBe(0);
    } finally {
      await paused.restore();
    }
    expect(leftOf('c2.db')).toEqual(['c2.db', 'c2.db.photos']);
    expect(await checkedContents(to, `${to}.photos`)).toEqual(await checkedContents(a.db, a.photos));
  });
});

describe('a photo write that fails with ENOSPC (injected into node\'s fs, on any machine)', () => {
  it('fails a SQLite backup in one line (exit 2) and leaves nothing; the same command then completes', async () => {
    const s = await sqliteSource('e');
    const out = path.join(dir, 'e-backup.db');
    let writes = 0;
    // the third photo file written runs out of room
    const spy = vi.spyOn(fs, 'writeFile').mockImplementation(async (...args: Parameters<typeof fs.writeFile>) => {
      if (String(args[0]).includes('e-backup.db.photos') && ++writes === 3) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
      return realWriteFile(...args);
    });
    const r = await runCli('catalog', 'backup', '--catalog', s.db, '--out', out).finally(() => spy.mockRestore());
    expect([r.code, r.err]).toEqual([2, `whaleid: ${out}: no space left on device (ENOSPC); the backup failed and nothing of it was kept`]);
    expect(leftOf('e-backup')).toEqual([]);
    expect((await runCli('catalog', 'backup', '--catalog', s.db, '--out', out)).code).toBe(0);
    expect(await checkedContents(out, `${out}.photos`)).toEqual(await checkedContents(s.db, s.photos));
  });
});


const noTmpfs = tmpfsMissing();
describe.skipIf(noTmpfs !== '')(`a full disk (a small tmpfs)${noTmpfs ? `: skipped, ${noTmpfs}` : ''}`, () => {
  const full = path.join(dir, 'full');
  let s: Awaited<ReturnType<typeof sqliteSource>>;
  let dbBytes = 0;
  let photoBytes = 0;
  beforeAll(async () => {
    s = await sqliteSource('d', 6, 1200);
    const ref = path.join(dir, 'd-ref.db');
    expect((await runCli('catalog', 'backup', '--catalog', s.db, '--out', ref)).code).toBe(0);
    dbBytes = statSync(ref).size;
    photoBytes = s.files.reduce((n, f) => n + statSync(f).size, 0);
    mkdirSync(full);
  });
  let mounted = false;
  afterAll(() => {
    if (mounted) execFileSync('umount', [full]);
  });

  /** Runs `whaleid <args>` with `bytes` of room under `full`: it must fail in one line and leave the tmpfs as it found it. */
  async function onFullDisk(bytes: number, args: string[], reason: RegExp, keepsPhotos = false): Promise<void> {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.round(bytes)}`, 'whaleid-test', full]);
    mounted = true;
    try {
      const before = snapshotFiles(s.photos);
      const db = readFileSync(s.db);
      const r = await runCli(...args);
      expect(r.code, r.err).toBe(2);
      expect(r.err.split('\n')).toHaveLength(1);
      expect(r.err).toMatch(reason);
      // a backup leaves nothing; a copy only photo files a later copy reuses (content-addressed)
      expect(readdirSync(full).filter((f) => !(keepsPhotos && f.endsWith('.photos')))).toEqual([]);
      expect(snapshotFiles(s.photos)).toEqual(before);
      expect(readFileSync(s.db).equals(db)).toBe(true);
    } finally {
      execFileSync('umount', [full]);
      mounted = false;
    }
  }

  it('a SQLite backup with room for the database and half the photos, or less than the database, fails in one line and leaves nothing', async () => {
    const out = path.join(full, 'b.db');
    await onFullDisk(dbBytes + photoBytes / 2, ['catalog', 'backup', '--catalog', s.db, '--out', out], /^whaleid: \S+b\.db: no space left on device \(ENOSPC[^)]*\); the backup failed and nothing of it was kept$/);
    await onFullDisk(dbBytes / 2, ['catalog', 'backup', '--catalog', s.db, '--out', out], /^whaleid: \S+b\.db: no space left on device \(SQLITE_FULL\); the backup failed and nothing of it was kept$/);
  });

  it('a copy to a new SQLite file with room for the photos only fails in one line and leaves no catalog', async () => {
    await onFullDisk(photoBytes + 16_384, ['catalog', 'copy', '--from', s.db, '--to', path.join(full, 'c.db'), '--quiet'], /^whaleid: \S+c\.db: no space left on device \((SQLITE_FULL|ENOSPC)[^)]*\); nothing was copied$/, true);
  });

  it.skipIf(postgres.skip !== '')(onBackend('a PostgreSQL backup with room for half the photos fails in one line and leaves nothing', postgres), async () => {
    const p = await postgresSource('d_pg', 6);
    await onFullDisk(photoBytes / 2, ['catalog', 'backup', '--catalog', p.db, '--photos', p.photos, '--out', path.join(full, 'p.db')], /^whaleid: \S+p\.db: no space left on device \((ENOSPC|SQLITE_FULL)[^)]*\); the backup failed and nothing of it was kept$/);
  });
});
