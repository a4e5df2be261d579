import { cpSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import { inject } from 'vitest';
import type { FixtureName } from './fixture-builders.js';

/**
 * Shared test fixtures: the synthetic catalogs and tiny trained runs that many test files need
 * (test/helpers/fixture-builders.ts says how each is made). vitest's global setup
 * (test/helpers/fixtures-setup.ts) names their folder, keyed by a hash of the code that makes them
 * (the modules the builders import, package-lock.json, the native addon, Node's version): a
 * change to the synthetic generator or the trainer makes new ones. The first test file that asks
 * for a fixture has the run's fixture server build it (test/helpers/fixture-server.ts: one
 * builder process for the run, and a lock against other runs); the others, and later runs of the
 * same code, reuse it. Test files get a copy of their own ({@link copyFixture}), or read the shared
 * one ({@link sharedFixture}) and never write in it.
 */

/** Asks the run's fixture server for `name`; resolves once its folder is there. */
function ensure(name: FixtureName): Promise<void> {
  const socketPath = inject('fixtureServer');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: `/${encodeURIComponent(name)}` }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(body || `fixture server: HTTP ${res.statusCode}`))));
    });
    req.on('error', (e) => reject(new Error(`the test fixture server (${socketPath}) did not answer for ${name}: ${e.message}`)));
    req.end();
  });
}

/** This process's fixtures, built or being built. */
const made = new Map<string, Promise<string>>();

/**
 * The shared folder of a fixture, built when missing. Read it, never write in it: a test that
 * changes it would change it for every other file and later run ({@link copyFixture}).
 *
 * @param name - the fixture (test/helpers/fixture-builders.ts)
 * @returns its folder
 */
export function sharedFixture(name: FixtureName): Promise<string> {
  let p = made.get(name);
  if (!p) {
    const final = path.join(inject('fixturesDir'), name);
    p = ensure(name).then(() => final);
    made.set(name, p);
  }
  return p;
}

/**
 * A copy of a fixture of this test file's own.
 *
 * @param name - the fixture (test/helpers/fixture-builders.ts)
 * @param dest - the folder its files go in (made when missing)
 * @returns `dest`
 */
export async function copyFixture(name: FixtureName, dest: string): Promise<string> {
  cpSync(await sharedFixture(name), dest, { recursive: true });
  return dest;
}
