import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

// Issue 34 item 3: the training engine is chosen once per run (src/model/training-engines.ts) and
// what differs between engines is asked of its traits or of the engine (TrainingEngineInfo), never
// of its name. 'native' names only an engine; 'wasm' is also tfjs's backend, so a comparison with
// 'wasm' counts where the line speaks of an engine.
const SRC = path.resolve(import.meta.dirname, '../src');
const CHOICE = path.join(SRC, 'model', 'training-engines.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return name.endsWith('.ts') ? [p] : [];
  });
}

const compares = (name: string): RegExp => new RegExp(`(===|!==)\\s*'${name}'|'${name}'\\s*(===|!==)|case\\s+'${name}'|\\.includes\\(\\s*'${name}'\\s*\\)`);
const native = compares('native');
const wasm = compares('wasm');
const switchesOnEngine = (line: string): boolean => native.test(line) || (wasm.test(line) && /engine/i.test(line));

describe('one engine choice', () => {
  it('no engine name is compared outside src/model/training-engines.ts', () => {
    const found = sourceFiles(SRC)
      .filter((f) => f !== CHOICE)
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => ({ at: `${path.relative(SRC, f)}:${i + 1}`, line })))
      .filter(({ line }) => switchesOnEngine(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
    expect(found).toEqual([]);
    // the guard itself works: it sees the switches the selection's traits replaced
    expect(switchesOnEngine("const ahead = engine.info.engine === 'native';")).toBe(true);
    expect(switchesOnEngine("if ((options.engine ?? 'wasm') !== 'native') throw refusal;")).toBe(true);
    expect(switchesOnEngine("if (options.engine === 'wasm') throw new WhaleidError('--backbone');")).toBe(true);
    // and leaves tfjs's backend alone
    expect(switchesOnEngine("if (backend !== 'wasm' && backend !== 'cpu') throw bad();")).toBe(false);
    // the choice itself does compare them, in the one place
    expect(readFileSync(CHOICE, 'utf8').split('\n').some(switchesOnEngine)).toBe(true);
  });

  it('writes the thread default once, in src/model/training-engines.ts', () => {
    const found = sourceFiles(SRC)
      .filter((f) => f !== CHOICE && !f.includes(`${path.sep}cli${path.sep}`))
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').map((line, i) => ({ at: `${path.relative(SRC, f)}:${i + 1}`, line })))
      .filter(({ line }) => /threads\s*\?\?\s*(Math\.min\(\s*8|os\.availableParallelism|availableParallelism)/.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
    expect(found).toEqual([]);
  });
});
