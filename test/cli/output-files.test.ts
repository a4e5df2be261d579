import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { snapshotFiles } from '../helpers/file-snapshot.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { guardOutputs, readsFile } from '../../src/cli/output-guard.js';

// Issue 18 item 1: no command overwrites a file silently, and none writes over one of its inputs.
describe('output files: existing ones need --force, inputs never', () => {
  const dir = tmpDir();
  const ds = path.join(dir, 'ds');
  const db = path.join(dir, 'whales.db');
  beforeAll(async () => {
    await generateSynthCatalog({ out: ds, individuals: 5, photosPerIndividual: 3, seed: 2 });
    const imp = await runCli('catalog', 'import', '--catalog', db, '--data', ds, '--quiet');
    expect(imp.code, imp.err).toBe(0);
  });

  /** Runs the CLI and checks that it refused with one line and changed no file under `dir`. */
  async function refused(args: string[], message: RegExp): Promise<void> {
    const before = snapshotFiles(dir);
    const r = await runCli(...args);
    expect(r.code, r.err).toBe(2);
    expect(r.err.split('\n'), r.err).toHaveLength(1);
    expect(r.err).toMatch(message);
    expect(snapshotFiles(dir)).toEqual(before);
  }

  it('catalog export onto its own catalog is refused, even with --force: the catalog stays byte-identical', async () => {
    await refused(['catalog', 'export', '--catalog', db, '--out', db], /--out .*whales\.db is the --catalog input .*whales\.db: refusing to write over it/);
    await refused(['catalog', 'export', '--catalog', db, '--out', db, '--force'], /is the --catalog input/);
    // the same file by another spelling
    await refused(['catalog', 'export', '--catalog', db, '--out', path.join(dir, 'ds', '..', 'whales.db'), '--force'], /is the --catalog input/);
  });

  it('baseline and predict refuse to replace the labels of their dataset', async () => {
    await refused(['baseline', '--data', ds, '--out', path.join(ds, 'train.csv'), '--force'], /--out .*train\.csv is part of the --data input .*ds: refusing/);
    await refused(['predict', '--model', path.join(dir, 'no-run'), '--data', ds, '--out', path.join(ds, 'train.csv'), '--force'], /is part of the --data input/);
    await refused(['preview', '--data', ds, '--out', path.join(ds, 'train', 'x.png'), '--force'], /is part of the --data input/);
    await refused(['boxes', 'predict', '--data', ds, '--out', path.join(ds, 'bounding_boxes.csv'), '--force'], /is part of the --data input/);
  });

  it('an existing output is refused with one line unless --force, then replaced', async () => {
    const out = path.join(dir, 'sub.csv');
    writeFileSync(out, 'precious\n');
    await refused(['baseline', '--data', ds, '--out', out], /sub\.csv already exists; give --force to replace it, or choose another --out$/);
    const forced = await runCli('baseline', '--data', ds, '--out', out, '--force');
    expect(forced.code, forced.err).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^Image,Id\n/);
  });

  it('predict guards its .top.json too; ensemble its output and inputs; dedup its lists; boxes predict its sheet', async () => {
    const sub = path.join(dir, 'p.csv');
    writeFileSync(`${sub}.top.json`, '[]');
    await refused(['predict', '--model', path.join(dir, 'no-run'), '--data', ds, '--out', sub], /p\.csv\.top\.json already exists; give --force/);
    const a = path.join(dir, 'a.csv');
    writeFileSync(a, 'Image,Id\n1.jpg,w_a\n');
    await refused(['ensemble', `${a}:0.9`, '--out', a, '--force'], /--out .*a\.csv is the argument .*a\.csv:0\.9 input/);
    const e = path.join(dir, 'e.csv');
    writeFileSync(e, 'keep\n');
    await refused(['ensemble', `${a}:0.9`, '--out', e], /e\.csv already exists/);
    const dd = path.join(dir, 'dedup');
    mkdirSync(dd);
    writeFileSync(path.join(dd, 'phash.csv'), 'keep\n');
    await refused(['dedup', '--data', ds, '--out', dd], /dedup\/phash\.csv already exists/);
    const sheet = path.join(dir, 'sheet.png');
    writeFileSync(sheet, 'keep');
    await refused(['boxes', 'predict', '--data', ds, '--out', path.join(dir, 'new-boxes.csv'), '--sheet', sheet], /sheet\.png already exists; give --force to replace it, or choose another --sheet$/);
  });

  it('a folder given as an output file is named as such', async () => {
    await refused(['baseline', '--data', ds, '--out', dir, '--force'], /--out .* is a folder; expected a file name$/);
  });

  it('what counts as an input file: a dataset photo or list, a run file, a catalog journal, a linked copy', () => {
    const run = { flag: '--model', path: '/r', kind: 'run' as const };
    expect(readsFile(run, '/r/config.json')).toBe(true);
    expect(readsFile(run, '/r/onnx/branch.onnx')).toBe(true);
    expect(readsFile(run, '/r/evaluate-open.csv')).toBe(false); // evaluate-open's default output lives there
    const data = { flag: '--data', path: '/d', kind: 'dataset' as const };
    expect(readsFile(data, '/d/sample_submission.csv')).toBe(true);
    expect(readsFile(data, '/d/Alphabet/character01/a.png')).toBe(true);
    expect(readsFile(data, '/d/my-submission.csv')).toBe(false);
    const cat = { flag: '--catalog', path: '/c.db', kind: 'catalog' as const };
    expect(readsFile(cat, '/c.db-wal')).toBe(true);
    expect(readsFile(cat, '/c.db.photos/ab/x.jpg')).toBe(true);
    const link = path.join(dir, 'linked');
    symlinkSync(ds, link);
    expect(readsFile({ flag: '--data', path: ds, kind: 'dataset' }, path.join(link, 'train.csv'))).toBe(true);
    expect(() => guardOutputs([{ flag: '--truth', path: '/t.csv', kind: 'file' }], [{ flag: '--out', path: '/x', spec: { kind: 'work' } }], false)).not.toThrow();
  });
});
