import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startFixtureServer } from './fixture-server.js';

/**
 * vitest's global setup for the shared test fixtures (test/helpers/fixtures.ts): their folder,
 * keyed by a hash of the code that makes them.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder of this code's shared fixtures. */
    fixturesDir: string;
    /** The Unix socket of the run's fixture server (test/helpers/fixture-server.ts). */
    fixtureServer: string;
  }
}

/** The repository. */
const ROOT = path.resolve(import.meta.dirname, '../..');
const CACHE = path.join(os.tmpdir(), 'whaleid-test-fixtures');

/** Every file under a folder, sorted (none when it is missing). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/**
 * The TypeScript modules a module imports, itself included, following its relative imports
 * (static, re-exports and dynamic `import('./x.js')`) to their .ts files.
 *
 * @param entry - the first module
 * @returns their paths, sorted
 */
export function importGraph(entry: string): string[] {
  const seen = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      todo.push(path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '.ts'));
    }
  }
  return [...seen].sort();
}

/**
 * The hash of the code that makes the fixtures: the modules test/helpers/build-fixture.ts imports
 * (the synthetic generator, the trainer and all they use), the bundled models, package-lock.json,
 * the native addon and Node's version. Code the fixtures do not run (the service, the catalog, the
 * CLI) may change without making new ones.
 */
export function fixturesKey(): string {
  const hash = createHash('sha256').update(process.version);
  const files = [
    ...importGraph(path.join(ROOT, 'test', 'helpers', 'build-fixture.ts')),
    ...filesUnder(path.join(ROOT, 'models')),
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
 * vitest's global setup: names this code's fixture folder (made when missing), starts the run's
 * fixture server, and removes the folders of other code that no run has used for 3 hours (a run
 * of the suite takes minutes).
 *
 * @param project - vitest's project (to provide the folder and the server to the tests)
 * @returns the teardown: stops the server
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
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
    if (now.getTime() - at > 3 * 3_600_000) rmSync(other, { recursive: true, force: true });
  }
  project.provide('fixturesDir', dir);
  const server = await startFixtureServer(dir, ROOT);
  project.provide('fixtureServer', server.socket);
  return () => server.close();
}

