/**
 * How fast a message reaches another connection of the same PostgreSQL database: LISTEN/NOTIFY
 * (what sharded scoring uses) against a pg-boss job (send, then a worker's handler), each a round
 * trip measured the same way. It is why the scoring queries do not go through the job queue.
 */
import PgBoss from 'pg-boss';
import pg from 'pg';
import { percentile } from './load.js';

/** Round trips in milliseconds per transport. */
export interface TransportTimes {
  notify: number[];
  pgBoss: number[];
}

/**
 * Measures `n` round trips over each transport.
 *
 * @param url - a PostgreSQL database (pg-boss makes its schema `bench_transport` there)
 * @param n - round trips per transport
 * @returns the times
 */
export async function measureTransports(url: string, n: number): Promise<TransportTimes> {
  const a = new pg.Client({ connectionString: url });
  const b = new pg.Client({ connectionString: url });
  await a.connect();
  await b.connect();
  // b answers every ping on a's channel
  b.on('notification', (m) => void b.query('SELECT pg_notify($1, $2)', ['bench_pong', m.payload ?? '']));
  await b.query('LISTEN bench_ping');
  await a.query('LISTEN bench_pong');
  const notify: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await new Promise<void>((resolve) => {
      a.once('notification', () => resolve());
      void a.query('SELECT pg_notify($1, $2)', ['bench_ping', String(i)]);
    });
    notify.push(performance.now() - t);
  }
  await a.end();
  await b.end();

  // the job queue at its shortest polling interval (500 ms: pg-boss's floor)
  const boss = new PgBoss({ connectionString: url, schema: 'bench_transport', supervise: false, schedule: false });
  boss.on('error', () => {});
  await boss.start();
  await boss.createQueue('ping');
  const pgBoss: number[] = [];
  let arrived: (() => void) | null = null;
  await boss.work('ping', { pollingIntervalSeconds: 0.5, batchSize: 1 }, async () => {
    arrived?.();
  });
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await new Promise<void>((resolve) => {
      arrived = resolve;
      void boss.send('ping', { i });
    });
    pgBoss.push(performance.now() - t);
  }
  await boss.stop({ graceful: false, wait: true, timeout: 1000 });
  return { notify, pgBoss };
}

/**
 * One line of {@link measureTransports}'s figures.
 *
 * @param t - the times
 * @returns the line
 */
export function transportLine(t: TransportTimes): string {
  const f = (v: number[]): string => `p50 ${percentile(v, 50).toFixed(1)} ms, p95 ${percentile(v, 95).toFixed(1)} ms`;
  return `message to another connection and back: LISTEN/NOTIFY ${f(t.notify)}; pg-boss job (send -> handler, 0.5 s polling) ${f(t.pgBoss)} over ${t.notify.length} round trips each`;
}
