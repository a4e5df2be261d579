import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** The src folders a file imports (static and dynamic imports of relative paths). */
function importedFolders(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\()\s*'(\.[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => path.relative(SRC, path.resolve(path.dirname(file), s)).split(path.sep)[0]);
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = path.join(dir, e);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('the pipeline layer', () => {
  it('pipelines never import the CLI or the service (they are driven by callbacks)', () => {
    const bad = files(path.join(SRC, 'pipeline')).flatMap((f) => importedFolders(f).filter((d) => d === 'cli' || d === 'serve').map((d) => `${path.relative(SRC, f)} -> ${d}`));
    expect(bad).toEqual([]);
  });

  it('only the CLI, the service and the public API import pipelines; nothing imports the CLI', () => {
    const bad = files(SRC).flatMap((f) => {
      const own = path.relative(SRC, f).split(path.sep)[0];
      return importedFolders(f)
        // src/index.ts, the public API, sits above every layer and re-exports pipelines (never the CLI)
        .filter((d) => (d === 'pipeline' && !['pipeline', 'cli', 'serve', 'index.ts'].includes(own)) || (d === 'cli' && own !== 'cli'))
        .map((d) => `${path.relative(SRC, f)} -> ${d}`);
    });
    expect(bad).toEqual([]);
  });
});
