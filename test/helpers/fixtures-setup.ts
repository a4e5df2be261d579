import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * vitest's global setup for the shared test fixtures (test/helpers/fixtures.ts): their folder,
 * keyed by a hash of the code that makes them.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder of this code's shared fixtures. */
    fixturesDir: string;
  }
}

/** The repository. */
export const FIXTURES_ROOT = path.resolve(import.meta.dirname, '../..');
const ROOT = FIXTURES_ROOT;
const CACHE = path.join(os.tmpdir(), 'whaleid-test-fixtures');

/** Every file under a folder, sorted (none when it is missing). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** The hash of the code that makes the fixtures. */
export function fixturesKey(): string {
  const hash = createHash('sha256').update(process.version);
  const files = [
    ...filesUnder(path.join(ROOT, 'src')),
    path.join(ROOT, 'test', 'helpers', 'fixture-builders.ts'),
    path.join(ROOT, 'test', 'helpers', 'build-fixture.ts'),
    path.join(ROOT, 'package-lock.json'),
    path.join(ROOT, 'native', 'build', 'Release', 'whaleid_native.node'),
  ];
  for (const f of files) {
    if (!existsSync(f)) continue;
    hash.update(`\0${path.relative(ROOT, f)}\0`).update(readFileSync(f));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * vitest's global setup: names this code's fixture folder (made when missing) and removes the
 * folders of other code that no run has used for a day.
 *
 * @param project - vitest's project (to provide the folder to the tests)
 */
export default function setup(project: TestProject): void {
  const dir = path.join(CACHE, fixturesKey());
  mkdirSync(dir, { recursive: true });
  const now = new Date();
  // touched: the folder in use is not an old one
  writeFileSync(path.join(dir, '.used'), now.toISOString());
  for (const name of readdirSync(CACHE)) {
    const other = path.join(CACHE, name);
    if (other === dir) continue;
    const used = path.join(other, '.used');
    const at = existsSync(used) ? statSync(used).mtimeMs : statSync(other).mtimeMs;
    if (now.getTime() - at > 86_400_000) rmSync(other, { recursive: true, force: true });
  }
  project.provide('fixturesDir', dir);
}

