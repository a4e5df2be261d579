// A PostgreSQL catalog filled in bulk and opened seconds later (before autovacuum's analyse) must
// not be read with a new table's default estimates: at 100,000 photos the gallery's join then ran
// as a nested loop for 70 s instead of 0.3 s (measured in session 9, see its closing note).
// Opening a writable catalog analyses the tables that grew since their last statistics.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import pg from 'pg';
import { openCatalog } from '../../src/catalog/catalog.js';
import { BACKENDS, newPostgresDatabase, onBackend } from '../helpers/backends.js';
import { tmpDir } from '../helpers/tmp.js';

const postgres = BACKENDS.find((b) => b.name === 'postgres')!;

describe.skipIf(postgres.skip !== '')(onBackend('planner statistics of a bulk-filled catalog', postgres), () => {
  it('are refreshed when the catalog is opened: the planner then expects the photos that are there', async () => {
    const dir = tmpDir('whaleid-stats-');
    const url = await newPostgresDatabase('stats');
    await (await openCatalog(url, { photoDir: path.join(dir, 'photos'), create: true })).close();
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const now = new Date().toISOString();
      // rows written straight in, as bench:scale does and as a bulk load leaves them
      await db.query(`INSERT INTO individuals (id, name, notes, created_at, created_by) SELECT g, 'S' || g, '', $1, 't' FROM generate_series(1, 4000) g`, [now]);
      await db.query(`INSERT INTO photos (id, sha256, format, bytes, width, height, original_name, uploaded_by, uploaded_at, individual_id, status)
        SELECT g, md5(g::text), 'jpeg', 1, 10, 10, g || '.jpg', 't', $1, 1 + (g - 1) / 5, 'identified' FROM generate_series(1, 20000) g`, [now]);
      // the inserting session reports its row counts to the statistics a moment after its commits
      // (PostgreSQL flushes them at most once a second): wait for them, as a service opening the
      // catalog later would find them, so that the first open's ANALYZE is the one that resets them
      const reported = async (): Promise<boolean> => Number((await db.query<{ n: string }>("SELECT coalesce(sum(n_mod_since_analyze), 0) AS n FROM pg_stat_user_tables WHERE relname IN ('photos', 'individuals')")).rows[0].n) >= 24000;
      for (const end = Date.now() + 30_000; !(await reported()); ) {
        if (Date.now() > end) throw new Error('the inserts never reached pg_stat_user_tables');
        await new Promise((r) => setTimeout(r, 100));
      }
      const estimate = async (): Promise<number> => {
        const plan = (await db.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>("EXPLAIN (FORMAT JSON) SELECT id FROM photos WHERE status = 'identified'")).rows[0]['QUERY PLAN'];
        return plan[0].Plan['Plan Rows'];
      };
      // a new table's default estimate is far off (measured: 100 rows for 20,000)
      const before = await estimate();
      expect(before).toBeLessThan(5000);
      const analysed = async (): Promise<string[]> => (await db.query<{ relname: string }>("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL AND relname IN ('photos', 'individuals') ORDER BY relname")).rows.map((r) => r.relname);
      expect(await analysed()).toEqual([]);
      await (await openCatalog(url, { photoDir: path.join(dir, 'photos') })).close();
      expect(await analysed()).toEqual(['individuals', 'photos']);
      expect(await estimate()).toBeGreaterThan(18000);
      // a second open finds nothing stale and analyses nothing
      const stamps = async (): Promise<string> => JSON.stringify((await db.query('SELECT relname, analyze_count FROM pg_stat_user_tables ORDER BY relname')).rows);
      const once = await stamps();
      await (await openCatalog(url, { photoDir: path.join(dir, 'photos') })).close();
      expect(await stamps()).toBe(once);
    } finally {
      await db.end();
    }
  }, 120_000);
});
