import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

// The layers of src/, read from the table docs/architecture.md shows (one place for both): a folder
// imports only its own layer and those above it in the table. src/index.ts sits above them all.
const DOC = path.resolve(import.meta.dirname, '../docs/architecture.md');
const RANK: Record<string, number> = Object.fromEntries([
  ...[...readFileSync(DOC, 'utf8').matchAll(/^\| (\d+) \| ([^|]+) \|/gm)].flatMap((m) => [...m[2].matchAll(/`src\/(\w+)`/g)].map((f) => [f[1], Number(m[1])] as const)),
  ['index.ts', Number.MAX_SAFE_INTEGER] as const,
]);

// src/model's subfolders, from the doc's second table: a subfolder imports its own rank and those
// above it; the files directly in src/model (engine choice and drivers) may import any of them
const MODEL_RANK: Record<string, number> = Object.fromEntries(
  [...readFileSync(DOC, 'utf8').matchAll(/^\| (\d+) \| `model\/(\w+)` \|/gm)].map((m) => [m[2], Number(m[1])] as const),
);

const SRC = path.resolve(import.meta.dirname, '../src');

interface Import {
  from: string;
  to: string;
  /** `import type` / `export type`: erased at run time. */
  typeOnly: boolean;
  /** `await import(...)`: loaded only when that code runs. */
  dynamic: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return name.endsWith('.ts') ? [p] : [];
  });
}

/** Every import of a file: relative ones resolved to .ts files under src/, packages by name. */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  const statics = /^(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(statics)) out.push({ from: file, to: resolve(file, m[3]), typeOnly: m[2] !== undefined, dynamic: false });
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    // `import('x').T` in a type position is erased; `await import('x')` loads it
    const typePosition = text.slice(m.index! + m[0].length).startsWith('.');
    out.push({ from: file, to: resolve(file, m[1]), typeOnly: typePosition, dynamic: !typePosition });
  }
  return out;
}

function resolve(from: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return path.resolve(path.dirname(from), spec).replace(/\.js$/, '.ts');
}

const layerOf = (file: string): string => path.relative(SRC, file).split(path.sep)[0];

const files = sourceFiles(SRC);
const imports = files.flatMap(importsOf);

describe('architecture', () => {
  it('the layer table is read from docs/architecture.md', () => {
    expect(RANK).toMatchObject({ util: 1, data: 2, image: 3, model: 4, catalog: 4, infer: 5, boxes: 6, train: 7, predict: 8, eval: 9, pipeline: 10, jobs: 11, serve: 12, cli: 13 });
  });

  it('every folder of src/ has a layer', () => {
    expect(files.map(layerOf).filter((l) => !(l in RANK))).toEqual([]);
  });

  it('no file imports a higher layer (data, image, model -> infer -> train -> predict/eval -> pipeline -> serve/cli)', () => {
    const upward = imports
      .filter((i) => i.to.startsWith(SRC) && RANK[layerOf(i.to)] > RANK[layerOf(i.from)])
      .map((i) => `${path.relative(SRC, i.from)} imports ${path.relative(SRC, i.to)}`);
    expect(upward).toEqual([]);
    // catalog, beside model, needs neither: it stays a plain store of photos and decisions
    const catalogUp = imports.filter((i) => layerOf(i.from) === 'catalog' && i.to.startsWith(SRC) && !['util', 'data', 'image', 'catalog'].includes(layerOf(i.to)));
    expect(catalogUp.map((i) => `${path.relative(SRC, i.from)} imports ${path.relative(SRC, i.to)}`)).toEqual([]);
  });

  it('src/model: each subfolder imports only the subfolders above it in its table', () => {
    expect(MODEL_RANK).toEqual({ network: 1, folders: 2, tfjs: 3, native: 3, onnx: 3 });
    const MODEL = path.join(SRC, 'model');
    const subOf = (file: string): string | null => {
      const parts = path.relative(MODEL, file).split(path.sep);
      return file.startsWith(MODEL + path.sep) && parts.length > 1 ? parts[0] : null;
    };
    const modelFiles = files.filter((f) => f.startsWith(MODEL + path.sep));
    expect(modelFiles.map(subOf).filter((s) => s !== null && !(s in MODEL_RANK))).toEqual([]);
    const wrong = imports
      .filter((i) => subOf(i.from) !== null && i.to.startsWith(MODEL + path.sep))
      .filter((i) => {
        const to = subOf(i.to);
        const from = subOf(i.from)!;
        // the engine interface (training-engine.ts) holds types only; a subfolder may name them
        if (to === null) return !(i.typeOnly && path.basename(i.to) === 'training-engine.ts');
        return to !== from && MODEL_RANK[to] >= MODEL_RANK[from];
      })
      .map((i) => `${path.relative(SRC, i.from)} imports ${path.relative(SRC, i.to)}`);
    expect(wrong).toEqual([]);
  });

  it('prediction, evaluation and the service never load tfjs (only a run without onnx/ does, through a dynamic import)', () => {
    // what loading a module loads: its static value imports, transitively
    const loads = new Map<string, string[]>();
    for (const i of imports) if (!i.typeOnly && !i.dynamic) loads.set(i.from, [...(loads.get(i.from) ?? []), i.to]);
    const reachesTfjs = (entry: string): string[] | null => {
      const seen = new Set<string>([entry]);
      const queue: string[][] = [[entry]];
      while (queue.length) {
        const trail = queue.shift()!;
        for (const next of loads.get(trail.at(-1)!) ?? []) {
          if (next.startsWith('@tensorflow/')) return [...trail, next].map((p) => (p.startsWith(SRC) ? path.relative(SRC, p) : p));
          if (!seen.has(next) && next.startsWith(SRC)) {
            seen.add(next);
            queue.push([...trail, next]);
          }
        }
      }
      return null;
    };
    const entries = ['infer/run-inference.ts', 'predict/predict-dataset.ts', 'predict/run-model.ts', 'eval/evaluate-run.ts', 'serve/identifier.ts', 'serve/server.ts', 'boxes/box-predict.ts'];
    for (const e of entries) expect(reachesTfjs(path.join(SRC, e)), e).toBeNull();
    // the guard itself works: training does load tfjs
    expect(reachesTfjs(path.join(SRC, 'train/trainer.ts'))).not.toBeNull();
  });

  // issue 29 item 1: a matcher is declared once (src/infer/matchers/matcher-registry.ts); every other
  // module asks the registry what a matcher needs instead of switching on its name
  it('no matcher kind is switched on outside the matcher registry', () => {
    const kinds = '(siamese|local|fused)';
    const switches = new RegExp(`(===|!==)\\s*'${kinds}'|'${kinds}'\\s*(===|!==)|case\\s+'${kinds}'|\\.includes\\(\\s*'${kinds}'\\s*\\)`);
    const registry = path.join(SRC, 'infer', 'matchers');
    const found = sourceFiles(SRC)
      .filter((f) => !f.startsWith(registry))
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => ({ at: `${path.relative(SRC, f)}:${i + 1}`, line })))
      .filter(({ line }) => switches.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
    expect(found).toEqual([]);
    // the guard itself works: it sees the switches the registry replaced
    expect(switches.test("if (opts.matcher !== 'siamese' && !opts.model)")).toBe(true);
    expect(switches.test("const fusion = kinds.includes('fused') ? fit() : undefined;")).toBe(true);
  });
});
