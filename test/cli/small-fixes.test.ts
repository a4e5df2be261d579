import { describe, it, expect, beforeAll } from 'vitest';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { parseCsvText } from '../../src/data/csv-file.js';

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
