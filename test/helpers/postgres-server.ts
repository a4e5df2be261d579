import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { processAlive } from '../../src/util/process-alive.js';

/**
 * vitest's global setup: one PostgreSQL server of our own for the whole test run (initdb in a
 * temporary folder, listening only on a Unix socket there, fsync off), stopped and removed at the
 * end (or, for a run killed before its end, by the next run). Test files get a database each
 * (test/helpers/backends.ts). Where PostgreSQL is not installed, `postgresUrl` is '' and the
 * PostgreSQL variants skip with the reason.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** The test server's maintenance database URL, '' when there is none. */
    postgresUrl: string;
    /** Why there is none. */
    postgresMissing: string;
  }
}

/** The newest PostgreSQL's programs (Debian's layout), or null. */
function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : null;
}

/** initdb and postgres refuse root: as root, run them as the `postgres` user (Debian's package makes it), else `nobody`. */
function serverUser(): { prefix: string[]; uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const name = (() => {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
      return 'postgres';
    } catch {
      return 'nobody';
    }
  })();
  const uid = Number(execFileSync('id', ['-u', name]).toString());
  const gid = Number(execFileSync('id', ['-g', name]).toString());
  return { prefix: ['runuser', '-u', name, '--'], uid, gid };
}


/**
 * Stops the servers of earlier runs that were killed before their teardown (their `owner.pid`,
 * the test runner that started them, is gone), and removes their folders. Servers of runs still
 * going, this machine's other test runs, are left alone.
 */
function stopOrphans(bin: string, user: ReturnType<typeof serverUser>): void {
  for (const name of readdirSync(os.tmpdir()).filter((n) => n.startsWith('whaleid-pg-'))) {
    const dir = path.join(os.tmpdir(), name);
    const owner = Number(existsSync(path.join(dir, 'owner.pid')) ? readFileSync(path.join(dir, 'owner.pid'), 'utf8') : NaN);
    if (!Number.isInteger(owner) || processAlive(owner)) continue;
    try {
      const argv = [...(user?.prefix ?? []), path.join(bin, 'pg_ctl'), '-D', path.join(dir, 'data'), '-m', 'immediate', '-w', 'stop'];
      if (existsSync(path.join(dir, 'data', 'postmaster.pid'))) execFileSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 60_000 });
    } catch {
      // not running any more
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A running PostgreSQL server of our own, or why there is none. */
export type PostgresServer = { url: string; missing: ''; stop(): void } | { url: ''; missing: string; stop(): void };

/**
 * Starts a PostgreSQL server of our own: initdb in a temporary folder, listening only on a Unix
 * socket there (no TCP port), trust authentication, fsync off, autovacuum off (the tests see only the analyses the catalog itself runs). The test run's global setup starts
 * one; bench:scale starts its own.
 *
 * @returns its maintenance database URL and how to stop it (stopping removes its folder), or why
 *   none could be started (PostgreSQL not installed, initdb or the server failing)
 */
export function startPostgresServer(): PostgresServer {
  const bin = postgresBin();
  if (!bin) return { url: '', missing: 'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)', stop: () => {} };
  const user = serverUser();
  stopOrphans(bin, user);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'whaleid-pg-'));
  writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
  const data = path.join(dir, 'data');
  mkdirSync(data);
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(data, user.uid, user.gid);
  }
  const run = (program: string, args: string[]): void => {
    const argv = [...(user?.prefix ?? []), path.join(bin, program), ...args];
    execFileSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  };
  const port = 20_000 + Math.floor(Math.random() * 30_000);
  try {
    run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
    run('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', '-o', `-k ${dir} -p ${port} -c listen_addresses='' -c fsync=off -c autovacuum=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`, 'start']);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { url: '', missing: `the test PostgreSQL server did not start (${((e as { stderr?: Buffer }).stderr ?? '').toString().trim().split('\n').pop() || (e as Error).message})`, stop: () => {} };
  }
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // a run that ends without its teardown (Ctrl-C, a timeout's SIGTERM) still stops its server;
  // one killed outright leaves it to the next run's stopOrphans
  process.once('exit', stop);
  return { url: `postgres://postgres@localhost:${port}/postgres?host=${encodeURIComponent(dir)}`, missing: '', stop };
}

/**
 * A new database on a server of {@link startPostgresServer}.
 *
 * @param serverUrl - the server's maintenance database URL
 * @param name - the database's name (letters, digits, underscores)
 * @returns its URL
 */
export async function createPostgresDatabase(serverUrl: string, name: string): Promise<string> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return serverUrl.replace(/\/postgres\?/, `/${name}?`);
}

/**
 * vitest's global setup: starts the server and provides its URL to the tests.
 *
 * @param project - vitest's project (to provide values to tests)
 * @returns the teardown that stops the server and removes its folder
 */
export default function setup(project: TestProject): (() => void) | undefined {
  const server = startPostgresServer();
  project.provide('postgresUrl', server.url);
  project.provide('postgresMissing', server.missing);
  return server.url ? server.stop : undefined;
}
