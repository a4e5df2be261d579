import { describe, it, expect, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import { cliLauncher, launcherArgs } from '../helpers/cli-process.js';

// issue 18 item 9: a catalog path that is not a catalog is refused with one line and left as it
// was; serve never starts an empty catalog by mistake; backup never deletes a .partial file
const dir = tmpDir('whaleid-catalog-paths-');
const data = path.join(dir, 'synth');
const bytesOf = (f: string): string => readFileSync(f).toString('base64');

describe('catalog paths', () => {
  beforeAll(async () => {
    await generateSynthCatalog({ out: data, individuals: 3, photosPerIndividual: 2, seed: 5 });
  }, 120_000);

  it("refuses another program's SQLite database and leaves it byte-identical (no tables added, no WAL)", async () => {
    const other = path.join(dir, 'other.db');
    const db = new Database(other);
    db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('keep me')");
    db.close();
    const before = bytesOf(other);
    for (const args of [['catalog', 'import', '--catalog', other, '--data', data], ['catalog', 'export', '--catalog', other, '--out', path.join(dir, 'o.csv')]]) {
      const r = await runCli(...args);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`whaleid: ${other}: a SQLite database but not a whaleid catalog (its tables: notes); refusing to change it`);
    }
    expect(bytesOf(other)).toBe(before);
    expect(existsSync(`${other}-wal`)).toBe(false);
    expect(existsSync(`${other}.photos`)).toBe(false);
  });

  it('refuses a text file as --catalog with one line (not an internal error)', async () => {
    const text = path.join(dir, 'notes.txt');
    writeFileSync(text, 'these are my field notes, not a database\n'.repeat(10));
    for (const args of [['catalog', 'import', '--catalog', text, '--data', data], ['catalog', 'export', '--catalog', text, '--out', path.join(dir, 't.csv')]]) {
      const r = await runCli(...args);
      expect(r.code).toBe(2);
      expect(r.err).toBe(`whaleid: ${text}: not a whaleid catalog (not a SQLite database); refusing to open it`);
    }
    expect(readFileSync(text, 'utf8')).toMatch(/^these are my field notes/);
  });

  it('serve refuses a catalog that does not exist unless --create', async () => {
    const typo = path.join(dir, 'whlaes.db');
    const r = await runCli('serve', '--catalog', typo, '--port', '0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/whlaes\.db: no such catalog \(a new one is made only when asked: whaleid serve --create/);
    expect(existsSync(typo)).toBe(false);
    // with --create it starts on an empty catalog: the real CLI in a child process, stopped by SIGTERM
    const fresh = path.join(dir, 'fresh.db');
    const script = cliLauncher(dir);
    const child = spawn(process.execPath, [...launcherArgs(script), 'serve', '--catalog', fresh, '--create', '--port', '0', '--box-model', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const said = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('whaleid serving')) resolve(out); });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    expect(said).toMatch(/fresh\.db at http/);
    expect(existsSync(fresh)).toBe(true);
    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child.on('exit', (code, signal) => resolve(`${code} ${signal}`)))).toBe('0 null');
  }, 60_000);

  it('catalog import still creates a new catalog', async () => {
    const made = path.join(dir, 'made.db');
    const r = await runCli('catalog', 'import', '--catalog', made, '--data', data, '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/: [1-9]\d* photos added/);
  });

  it('backup refuses an existing <out>.partial instead of deleting it', async () => {
    const source = path.join(dir, 'made.db');
    const out = path.join(dir, 'backup.db');
    writeFileSync(`${out}.partial`, 'a backup in progress elsewhere');
    const r = await runCli('catalog', 'backup', '--catalog', source, '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`whaleid: ${out}.partial exists: another backup to ${out} is running or was interrupted; remove ${out}.partial and run again`);
    expect(readFileSync(`${out}.partial`, 'utf8')).toBe('a backup in progress elsewhere');
    expect(existsSync(out)).toBe(false);
  });
});
