import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { processAlive } from '../../src/util/process-alive.js';

/**
 * The builder of the shared test fixtures for one test run (test/helpers/fixtures.ts asks it):
 * an HTTP server on a Unix socket in vitest's main process, and one child process that builds
 * every fixture the run asks for, one after another. Before, each fixture had a child process of
 * its own, and each paid about 3 s of CPU to start (Node, tsx, the sources, tfjs's wasm backend)
 * before building anything: four fixtures took 32 s of CPU in four processes against 23 s in one
 * (measured). The fixtures are the same files either way (layer names, weights and logs compared;
 * only the logged seconds differ).
 *
 * Other test runs of the same code may build the same folder at the same time: a lock folder
 * beside each fixture (its builder's pid inside) makes one of them build it and the others wait.
 */

/** A running fixture server. */
export interface FixtureServer {
  /** The Unix socket it listens on. */
  readonly socket: string;
  /** Stops the server and its builder process. */
  close(): Promise<void>;
}

/**
 * The builder process, started at the first request: it builds one fixture at a time
 * (test/helpers/build-fixture.ts --serve), in the order asked.
 */
function builderProcess(root: string): { build(name: string, dir: string): Promise<void>; stop(): void } {
  let child: ChildProcess | null = null;
  let stderr = '';
  let queue: Promise<void> = Promise.resolve();
  let pending: { resolve: () => void; reject: (e: Error) => void } | null = null;
  const start = (): ChildProcess => {
    if (child) return child;
    stderr = '';
    const c = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'build-fixture.ts'), '--serve'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    c.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    c.on('message', (m: { ok: boolean; error?: string }) => (m.ok ? pending?.resolve() : pending?.reject(new Error(m.error))));
    c.on('exit', (code, signal) => {
      child = null;
      pending?.reject(new Error(`the fixture builder exited (${signal ?? `code ${code}`}): ${stderr.trim()}`));
    });
    child = c;
    return c;
  };
  const buildNow = (name: string, dir: string): Promise<void> => {
    const c = start();
    return new Promise<void>((resolve, reject) => {
      pending = { resolve, reject };
      c.send({ name, dir });
    }).finally(() => (pending = null));
  };
  return {
    build(name, dir) {
      const next = queue.then(() => buildNow(name, dir));
      queue = next.catch(() => {});
      return next;
    },
    stop: () => void child?.kill('SIGKILL'),
  };
}

/**
 * Makes `final` with `build` unless it is there: one builder at a time across processes, by a
 * lock folder beside it (its pid inside; a lock whose process is gone, or without a pid for 10 s,
 * is taken over).
 */
async function buildLocked(final: string, build: (tmp: string) => Promise<void>): Promise<void> {
  const lock = `${final}.lock`;
  while (!existsSync(final)) {
    try {
      mkdirSync(lock);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
      try {
        const owner = Number(existsSync(path.join(lock, 'pid')) ? readFileSync(path.join(lock, 'pid'), 'utf8') : NaN);
        if (Number.isInteger(owner) ? !processAlive(owner) : Date.now() - statSync(lock).mtimeMs > 10_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // the lock went meanwhile: look again
      }
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    writeFileSync(path.join(lock, 'pid'), String(process.pid));
    const tmp = `${final}.tmp-${process.pid}`;
    try {
      rmSync(tmp, { recursive: true, force: true });
      await build(tmp);
      renameSync(tmp, final);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

/**
 * Starts the fixture server of a test run.
 *
 * @param fixturesDir - the folder of this code's fixtures (test/helpers/fixtures-setup.ts)
 * @param root - the repository (the builder's working folder)
 * @returns the server; `GET /<name>` answers 200 once `fixturesDir/<name>` is there, 500 with the
 *   builder's error when it could not be made
 */
export async function startFixtureServer(fixturesDir: string, root: string): Promise<FixtureServer> {
  const builder = builderProcess(root);
  const made = new Map<string, Promise<void>>();
  const server: Server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    if (!/^[a-z0-9-]+$/.test(name)) {
      res.writeHead(400).end(`not a fixture name: ${name}`);
      return;
    }
    let p = made.get(name);
    if (!p) {
      p = buildLocked(path.join(fixturesDir, name), (tmp) => builder.build(name, tmp));
      made.set(name, p);
      p.catch(() => made.delete(name));
    }
    p.then(
      () => res.writeHead(200).end(),
      (e: Error) => res.writeHead(500).end(`building the test fixture ${name} failed: ${e.message}`),
    );
  });
  const socket = path.join(os.tmpdir(), `whaleid-fixtures-${process.pid}.sock`);
  rmSync(socket, { force: true });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socket, resolve));
  return {
    socket,
    close: async () => {
      builder.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(socket, { force: true });
    },
  };
}
