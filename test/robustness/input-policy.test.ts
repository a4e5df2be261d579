import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { runCli } from '../helpers/cli.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';

// Issue 18 item 8: one input policy for every command, a summary that counts what was skipped,
// and a non-zero exit when anything was.
describe('bad photos and bad rows are counted and make every command exit non-zero', () => {
  const dir = tmpDir();
  const data = path.join(dir, 'ds');
  const bad = ['zero.jpg', 'cut.jpg', 'text.jpg', 'drawing.jpg'];
  let spaced: string[] = [];
  beforeAll(async () => {
    await generateSynthCatalog({ out: data, individuals: 8, photosPerIndividual: 4, seed: 11 });
    const train = path.join(data, 'train');
    writeFileSync(path.join(train, 'zero.jpg'), Buffer.alloc(0));
    writeFileSync(path.join(train, 'cut.jpg'), (await scenePhoto(9, 400, 300)).subarray(0, 6000));
    writeFileSync(path.join(train, 'text.jpg'), 'not a photo\n');
    writeFileSync(path.join(train, 'drawing.jpg'), '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200"><rect width="300" height="200" fill="#345"/></svg>');
    const csv = readFileSync(path.join(data, 'train.csv'), 'utf8').trim().split('\n');
    const someId = csv.find((l) => !l.endsWith('new_whale') && !l.startsWith('Image'))!.split(',')[1];
    // two labelled photos get an id with a space: those rows are errors, their photos left out
    spaced = csv.slice(1, 3).map((l) => l.split(',')[0]);
    const rows = csv.map((l, i) => (i >= 1 && i <= 2 ? `${l.split(',')[0]},w bad` : l));
    writeFileSync(path.join(data, 'train.csv'), [...rows, ...bad.map((b) => `${b},${someId}`)].join('\n') + '\n');
    expect(readdirSync(train)).toEqual(expect.arrayContaining(bad));
  });

  it('validate decodes headers: each bad photo and each bad row is an error, exit 1', async () => {
    const r = await runCli('validate', '--data', data);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: train\/zero\.jpg: empty file \(0 bytes\)/);
    expect(r.err).toMatch(/error: train\/cut\.jpg: truncated or corrupt image/);
    expect(r.err).toMatch(/error: train\/text\.jpg: not an image/);
    expect(r.err).toMatch(/error: train\/drawing\.jpg: an SVG drawing is not accepted/);
    expect(r.err).toMatch(/contains whitespace/);
    expect(r.out).toMatch(/0 fatal, 6 errors/);
  });

  it('catalog import counts unreadable photos and skipped rows, exit 1', async () => {
    const r = await runCli('catalog', 'import', '--catalog', path.join(dir, 'c.db'), '--data', data);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/4 unreadable, 2 dataset rows skipped/);
    for (const b of bad) expect(r.err).toContain(b);
  });

  it('train leaves the SVG and the other bad photos out, says how many, exit 1 (with and without dedup)', async () => {
    for (const dedup of [[], ['--no-dedup']]) {
      const run = path.join(dir, `run${dedup.length}`);
      const r = await runCli('train', '--data', data, '--out', run, '--preset', 'tiny', '--schedule', 'smoke', '--threads', '1', '--quiet', ...dedup);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(/drawing\.jpg: an SVG drawing is not accepted.*\(left out\)/);
      expect(r.err).toMatch(/6 photos were left out of training/);
      expect(r.out).toMatch(/trained 2 epochs/);
      expect(spaced.length).toBe(2);
    }
  });
});
