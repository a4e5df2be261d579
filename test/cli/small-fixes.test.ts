import { describe, it, expect, beforeAll } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { parseCsvText } from '../../src/data/csv-file.js';
import { contactSheetLegend } from '../../src/image/preview.js';
import sharp from 'sharp';

// Issue 19 item 9.
describe('preview and export details', () => {
  const dir = tmpDir();
  const ds = path.join(dir, 'ds');
  beforeAll(async () => {
    await generateSynthCatalog({ out: ds, individuals: 5, photosPerIndividual: 3, seed: 3 });
  });

  it("preview crops with the dataset's own bounding_boxes.csv unless --boxes is given", async () => {
    const sheet = path.join(dir, 'sheet.png');
    const r = await runCli('preview', '--data', ds, '--out', sheet, '--limit', '4', '--size', '32', '--augment', '0', '--no-cache');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`wrote ${sheet}: 4 photos, 0 without a box in ${path.join(ds, 'bounding_boxes.csv')}`);
    const other = path.join(dir, 'other-boxes.csv');
    writeFileSync(other, 'Image,x0,y0,x1,y1\n');
    const given = await runCli('preview', '--data', ds, '--boxes', other, '--out', sheet, '--limit', '4', '--size', '32', '--augment', '0', '--no-cache', '--force');
    expect(given.out).toBe(`wrote ${sheet}: 4 photos, 4 without a box in ${other}`);
    // issue 33 item 9: the sheet has a legend: a row above the photos, with the box's green in it
    const { data, info } = await sharp(sheet).raw().toBuffer({ resolveWithObject: true });
    const greenInRows = (y0: number, y1: number): boolean => {
      for (let y = y0; y < y1; y++) for (let x = 0; x < 40; x++) {
        const i = (y * info.width + x) * info.channels;
        if (data[i + 1] > 180 && data[i] < 80 && data[i + 2] < 80) return true;
      }
      return false;
    };
    expect(greenInRows(8, 26)).toBe(true);
    expect(info.height).toBe(8 + 2 * 18 + 8 + 4 * (18 + 160 + 8));
    expect(contactSheetLegend(0.05, 2.15, 3)).toEqual([
      'green: the box; yellow, dashed: the region cropped (box + 5% margin, padded to 2.15:1); other colours: other boxes given',
      'columns: the photo, the crop the network sees (its square input shown stretched back to 2.15:1), 3 crops under training\'s augmentation (rotation, shear, zoom, shift)',
    ]);
  });

  it("catalog export gives each photo's original name and boxes to 2 decimals", async () => {
    const boxes = path.join(dir, 'fine-boxes.csv');
    const names = [...readdirSync(path.join(ds, 'train')), ...readdirSync(path.join(ds, 'test'))];
    writeFileSync(boxes, `Image,x0,y0,x1,y1\n${names.map((n) => `${n},10.123456789012345,20.5,200.987654321,150`).join('\n')}\n`);
    const db = path.join(dir, 'whales.db');
    const imp = await runCli('catalog', 'import', '--catalog', db, '--data', ds, '--boxes', boxes, '--quiet');
    expect(imp.code, imp.err).toBe(0);
    const out = path.join(dir, 'export.csv');
    expect((await runCli('catalog', 'export', '--catalog', db, '--out', out)).code).toBe(0);
    const table = parseCsvText(readFileSync(out, 'utf8'), 'export.csv');
    const col = (name: string): number => table.header.indexOf(name);
    expect(table.rows.length).toBeGreaterThan(0);
    for (const { fields } of table.rows) {
      expect(names).toContain(fields[col('OriginalName')]);
      expect(fields.slice(col('x0'), col('y1') + 1)).toEqual(['10.12', '20.5', '200.99', '150']);
    }
  });
});

// Issue 33 item 9.
describe('small things a newcomer meets', () => {
  const dir = tmpDir();

  it('evaluate with --submission and --truth swapped suggests the swap', async () => {
    const sub = path.join(dir, 'sub.csv');
    const truth = path.join(dir, 'truth.csv');
    writeFileSync(sub, 'Image,Id\na.jpg,w_1 w_2 new_whale\nb.jpg,w_2 w_1\n');
    writeFileSync(truth, 'Image,Id\na.jpg,w_1\nb.jpg,w_2\n');
    const right = await runCli('evaluate', '--submission', sub, '--truth', truth);
    expect(right.code, right.err).toBe(0);
    const swapped = await runCli('evaluate', '--submission', truth, '--truth', sub);
    expect(swapped.code).toBe(2);
    expect(swapped.err).toBe(`whaleid: ${sub}: rows of several ids, as a submission has, where the truth has one id a row; were --submission and --truth swapped? (try --submission ${sub} --truth ${truth})`);
  });

  it('every command takes the shared --quiet', async () => {
    const { buildProgram } = await import('../../src/cli/main.js');
    const program = await buildProgram({ out: () => {}, err: () => {}, setExitCode: () => {}, progress: false });
    const without: string[] = [];
    const walk = (c: typeof program, names: string[]): void => {
      for (const s of c.commands) {
        if (s.commands.length) walk(s, [...names, s.name()]);
        else if (!s.options.some((o) => o.long === '--quiet')) without.push([...names, s.name()].join(' '));
      }
    };
    walk(program, []);
    expect(without).toEqual([]);
    const sub = path.join(dir, 'sub.csv');
    const r = await runCli('evaluate', '--submission', sub, '--truth', path.join(dir, 'truth.csv'), '--quiet');
    expect(r.code, r.err).toBe(0);
  });
});
