import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import type { FixtureName } from './fixture-builders.js';
import { FIXTURES_ROOT } from './fixtures-setup.js';
import { processAlive } from '../../src/util/process-alive.js';

/**
 * Shared test fixtures: the synthetic catalogs and tiny trained runs that many test files need
 * (test/helpers/fixture-builders.ts says how each is made). vitest's global setup
 * (test/helpers/fixtures-setup.ts) names their folder, keyed by a hash of the code that makes them
 * (the modules the builders import, package-lock.json, the native addon, Node's version): a
 * change to the synthetic generator or the trainer makes new ones. The first test file that asks for a fixture builds it (in a child
 * process, under a lock: test files running at the same time, or other test runs, wait for it
 * instead of building it again); the others, and later runs of the same code, reuse it. Test files
 * get a copy of their own ({@link copyFixture}), or read the shared one ({@link sharedFixture})
 * and never write in it.
 */


const run = promisify(execFile);

/** Builds a fixture into `final` unless it is there: one builder at a time, by a lock folder beside it. */
async function ensure(name: FixtureName, final: string): Promise<void> {
  const lock = `${final}.lock`;
  while (!existsSync(final)) {
    try {
      mkdirSync(lock);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
      // another process builds it: wait for the folder, or take over from a builder that died
      // (its pid written right after the lock; a lock without one for 10 s is a dead one's too)
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
      await run(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'build-fixture.ts'), name, tmp], { cwd: FIXTURES_ROOT, maxBuffer: 64 << 20 }).catch((err: { stderr?: string; message: string }) => {
        throw new Error(`building the test fixture ${name} failed: ${err.stderr?.trim() || err.message}`);
      });
      renameSync(tmp, final);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      rmSync(lock, { recursive: true, force: true });
    }
  }
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
    p = ensure(name, final).then(() => final);
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
