import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import { importExchange } from '../../src/catalog/catalog-exchange-import.js';
import { readCoco } from '../../src/data/formats/coco.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';

// issue 31 item 2: COCO, Wildbook's bulk-import sheet (CSV, .xlsx) both ways, losing nothing
const dir = tmpDir('whaleid-formats-');
const source = path.join(dir, 'source.db');

/**
 * A catalog with what the formats must carry: a photo of three animals (fractional boxes,
 * rotations, two species, viewpoints, one unidentified, a name a spreadsheet would take for a
 * formula), a dated and placed photo used whole, an undated photo with nothing known, two photos
 * of the same original name, two photos in one sighting.
 */
async function makeSource(cat: Catalog): Promise<void> {
  const one = (await cat.addPhoto(await scenePhoto(401), {
    originalName: 'one.jpg', takenOn: '2021-07-03T09:15:30', latitude: -25.123456789, longitude: 152.987654321, location: 'Hervey Bay', uploadedBy: 'ann',
    annotations: [
      { box: { x: 10.25, y: 0.1 + 0.2, w: 100.125, h: 50 }, theta: 0.3, species: 'Megaptera novaeangliae', viewpoint: 'fluke', individualName: 'Salt' },
      { box: { x: 150, y: 30, w: 60, h: 40 }, theta: -0.1, species: 'whale_fluke', viewpoint: 'left', individualName: '=Pepper' },
      { box: { x: 5, y: 5, w: 20, h: 20 }, viewpoint: 'dorsal' },
    ],
  })).photo;
  const two = (await cat.addPhoto(await scenePhoto(402), {
    originalName: 'same.jpg', takenOn: '2021-07-03', latitude: 10, longitude: -20, location: 'Bay, "north"',
    annotations: [{ box: null, species: 'Megaptera novaeangliae', viewpoint: 'right', individualName: 'Salt' }],
  })).photo;
  await cat.addPhoto(await scenePhoto(403), { originalName: 'same.jpg' });
  const sighting = await cat.moveToEncounter(one.id, null, 'ann');
  await cat.moveToEncounter(two.id, sighting.id, 'ann');
}

/** Every photo with what the formats carry, by content; sightings as the groups of photos they make. */
async function snapshot(cat: Catalog): Promise<unknown[]> {
  const { items } = await cat.listPhotos({ limit: 1000 });
  const notes = await cat.annotationsOf(items.map((p) => p.id));
  const names = new Map<number, string>();
  for (const p of items) for (const a of notes.get(p.id)!) if (a.individualId !== null) names.set(a.individualId, (await cat.individual(a.individualId)).name);
  const group = (e: number | null): string[] => items.filter((q) => e !== null && q.encounterId === e).map((q) => q.sha256).sort();
  return items.map((p) => ({
    sha256: p.sha256, takenOn: p.takenOn, latitude: p.latitude, longitude: p.longitude, location: p.location, sighting: group(p.encounterId),
    individual: p.individualId === null ? null : names.get(p.individualId), box: p.box, status: p.status,
    annotations: notes.get(p.id)!.map((a) => ({ box: a.box, theta: a.theta, species: a.species, viewpoint: a.viewpoint, individual: a.individualId === null ? null : names.get(a.individualId) })),
  })).sort((a, b) => a.sha256.localeCompare(b.sha256));
}

/** A COCO file without what names its export (the date of writing, sighting numbers of one catalog). */
function cocoContent(file: string): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  delete doc.info.date_created;
  delete doc.info.description;
  for (const im of doc.images) im.occurrence_id = im.occurrence_id === null ? null : 'set';
  return doc;
}

/** A sheet's cells, the sighting column only as set or not (its numbers are one catalog's). */
function sheetContent(file: string): string[][] {
  const rows = parse(readFileSync(file, 'utf8')) as string[][];
  const k = rows[0].indexOf('Occurrence.occurrenceID');
  return rows.map((r, i) => r.map((c, j) => (i > 0 && j === k && c !== '' ? 'set' : c)));
}

let expected: unknown[];
beforeAll(async () => {
  const cat = await openCatalog(source);
  await makeSource(cat);
  expected = await snapshot(cat);
  await cat.close();
}, 120_000);

describe('catalog -> format -> new catalog keeps every field (SQLite, through the CLI)', () => {
  it('has a source with several annotations, unidentified ones, a whole photo and a sighting', () => {
    expect(expected).toHaveLength(3);
    expect((expected as { annotations: unknown[] }[]).map((p) => p.annotations.length).sort()).toEqual([1, 1, 3]);
  });

  for (const format of ['coco', 'wildbook-csv', 'wildbook-xlsx'] as const) {
    it(`${format}: every annotation, box, theta, species, viewpoint, individual, date, position, place and sighting come back equal`, async () => {
      const out = path.join(dir, format);
      const file = path.join(out, format === 'coco' ? 'annotations.json' : format === 'wildbook-csv' ? 'import.csv' : 'import.xlsx');
      const exported = await runCli('catalog', 'export', '--catalog', source, '--format', format, '--out', file, '--images', path.join(out, 'images'));
      expect(exported.err).toBe('');
      expect(exported.out).toMatch(new RegExp(`^wrote 3 photos \\(5 annotations\\) of .*source\\.db to .* as ${format}; 3 photo files written to`));
      // an existing output is refused without --force
      expect((await runCli('catalog', 'export', '--catalog', source, '--format', format, '--out', file)).code).not.toBe(0);
      const target = path.join(dir, `${format}.db`);
      const imported = await runCli('catalog', 'import', '--catalog', target, '--format', format.startsWith('wildbook') ? 'wildbook' : 'coco', '--data', file);
      expect(imported.err).toBe('');
      expect(imported.out).toMatch(/: 3 photos added with 5 annotations, 0 already there, 2 new individuals \(photos from .*images\)$/);
      const cat = await openCatalog(target);
      try {
        expect(await snapshot(cat)).toEqual(expected);
        expect((await cat.listPhotos({ search: 'one.jpg' })).total).toBe(1);
      } finally {
        await cat.close();
      }
      // and out again: the same file (uuids kept, names kept)
      const again = path.join(out, `again${path.extname(file)}`);
      expect((await runCli('catalog', 'export', '--catalog', target, '--format', format, '--out', again)).code).toBe(0);
      if (format === 'coco') expect(cocoContent(again)).toEqual(cocoContent(file));
      else if (format === 'wildbook-csv') expect(sheetContent(again)).toEqual(sheetContent(file));
      // a second import adds nothing
      const twice = await runCli('catalog', 'import', '--catalog', target, '--format', format.startsWith('wildbook') ? 'wildbook' : 'coco', '--data', file);
      expect(twice.out).toMatch(/: 0 photos added with 0 annotations, 3 already there, 0 new individuals/);
    }, 120_000);
  }

  it('neutralises a name a spreadsheet would run as a formula, and reads it back as it was', () => {
    const csv = readFileSync(path.join(dir, 'wildbook-csv', 'import.csv'), 'utf8');
    expect(csv).toContain(",'=Pepper,");
    expect(csv).not.toMatch(/,=Pepper,/);
  });
});

const postgres = BACKENDS.find((b) => b.name === 'postgres')!;
describe.skipIf(postgres.skip !== '')(onBackend('a COCO export imported into a PostgreSQL catalog', postgres), () => {
  it('keeps every field there too', async () => {
    const file = path.join(dir, 'coco', 'annotations.json');
    if (!existsSync(file)) expect((await runCli('catalog', 'export', '--catalog', source, '--format', 'coco', '--out', file, '--images', path.join(dir, 'coco', 'images'))).code).toBe(0);
    const where = await postgres.location(dir, 'formats');
    const cat = await openCatalog(where.catalog, { photoDir: where.photoDir });
    try {
      const r = await importExchange(cat, readCoco(readFileSync(file, 'utf8'), file), { media: path.join(dir, 'coco', 'images') });
      expect(r.summary).toMatchObject({ added: 3, annotations: 5, newIndividuals: 2 });
      expect(await snapshot(cat)).toEqual(expected);
    } finally {
      await cat.close();
    }
  }, 120_000);
});

describe('bad rows', () => {
  const sheet = path.join(dir, 'bad', 'import.csv');
  beforeAll(async () => {
    mkdirSync(path.join(dir, 'bad'), { recursive: true });
    writeFileSync(path.join(dir, 'bad', 'one.jpg'), await scenePhoto(501));
    writeFileSync(path.join(dir, 'bad', 'two.jpg'), await scenePhoto(502));
    writeFileSync(sheet, [
      'Encounter.mediaAsset0,Encounter.individualID,Encounter.year,Encounter.month,Encounter.day,Encounter.decimalLatitude,Encounter.decimalLongitude,Annotation.x,Annotation.y,Annotation.width,Annotation.height,Encounter.sex',
      'one.jpg,Salt,2021,7,3,-25.1,152.9,10,10,100,50,female',
      'nope.jpg,Salt,2021,7,3,,,,,,,',
      'two.jpg,Pepper,twenty,7,3,,,,,,,',
      'one.jpg,Pepper,2021,7,3,-25.1,152.9,500,10,100,50,',
      'two.jpg,Pepper,,,,95,10,,,,,',
      '../one.jpg,Salt,2021,7,3,,,,,,,',
    ].join('\n'));
  });

  it('reports every bad row with its file, row, column and why, writes nothing and leaves no catalog behind', async () => {
    const target = path.join(dir, 'bad.db');
    const r = await runCli('catalog', 'import', '--catalog', target, '--format', 'wildbook', '--data', sheet);
    expect(r.code).toBe(1);
    const lines = r.err.split('\n');
    const at = (row: number, column: string, why: RegExp): void => expect(lines.some((l) => l.startsWith(`error: ${sheet}:${row}: ${column}: `) && why.test(l)), `row ${row} ${column}\n${r.err}`).toBe(true);
    at(3, 'file', /no such photo in the media folder/);
    at(4, 'Encounter.year', /expected a whole number, found "twenty"/);
    at(5, 'annotation', /overlapping the 320x200 photo/);
    at(6, 'Encounter.decimalLatitude', /expected decimal degrees between -90 and 90, found 95/);
    at(7, 'Encounter.mediaAsset0', /inside the photo folder/);
    expect(r.err).toMatch(/warning: .*import\.csv: Encounter\.sex: column not read by whaleid/);
    expect(r.err).toMatch(/nothing imported: 5 problems to fix first/);
    expect(existsSync(target)).toBe(false);
    // an existing catalog is left as it was
    const existing = path.join(dir, 'existing.db');
    await (await openCatalog(existing)).close();
    expect((await runCli('catalog', 'import', '--catalog', existing, '--format', 'wildbook', '--data', sheet)).code).toBe(1);
    const cat = await openCatalog(existing);
    try {
      expect((await cat.listPhotos({})).total).toBe(0);
      expect((await cat.listIndividuals({})).total).toBe(0);
    } finally {
      await cat.close();
    }
  }, 120_000);

  it('says what a COCO file lacks, with its JSON path', async () => {
    const file = path.join(dir, 'bad', 'annotations.json');
    writeFileSync(file, JSON.stringify({
      categories: [{ id: 1, name: 'whale_fluke' }],
      images: [{ id: 1, file_name: 'one.jpg', width: 640, height: 200 }, { id: 2, file_name: 'two.jpg' }],
      annotations: [{ id: 1, image_id: 3, bbox: [0, 0, 1, 1] }, { id: 2, image_id: 2, category_id: 9, bbox: [0, 0, 'x', 1] }],
    }));
    const r = await runCli('catalog', 'import', '--catalog', path.join(dir, 'bad-coco.db'), '--format', 'coco', '--data', file);
    expect(r.code).toBe(1);
    expect(r.err).toContain('annotations[0].image_id: expected the id of one of the images, found 3');
    expect(r.err).toContain('annotations[1].bbox: expected [x, y, width, height] in pixels');
    expect(r.err).toContain('annotations[1].category_id: 9 is not one of the categories\' ids');
    expect(r.err).toContain('images[0].width: the file says 640x200, the photo is 320x200');
  }, 60_000);
});
