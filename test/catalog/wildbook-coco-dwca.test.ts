import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openCatalog } from '../../src/catalog/catalog.js';
import { readZipArchive, zipArchive } from '../../src/data/formats/zip-file.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';

// issue 31 item 2: a COCO file in Wildbook's export layout imports with every field and goes out
// in that layout again; the Darwin Core Archive passes the structure checks of GBIF's validator
const dir = tmpDir('whaleid-wbcoco-');
const U = { shark: '0b7d2b0e-6d0c-4a57-9c52-0a3c6c1f2d11', other: '7f3e9a41-2c55-4b1e-8f0a-51d2e9b7c6a4', img1: '3c1f6a8e-5b2d-4e71-9a0c-8d4f2e6b1a37', img2: 'a94e2c17-0f6b-4d38-b5e1-2c7a9f3d8e60', ann1: 'e1a2b3c4-d5e6-4f70-8a9b-0c1d2e3f4a5b' };

/** Wildbook's COCO export (formats.md): individual ids through info.individual_id_mapping, uuids, viewpoint, theta, date and GPS. */
const WILDBOOK_COCO = {
  info: { description: 'Wildbook export', individual_id_mapping: { [U.shark]: 0, [U.other]: 1 } },
  categories: [{ id: 0, name: 'whale_shark', supercategory: 'animal' }],
  images: [
    { id: 0, file_name: `${U.img1}.jpg`, width: 320, height: 200, uuid: U.img1, date_captured: '2019-05-04T10:31:00', gps_lat_captured: -21.9123, gps_lon_captured: 113.9456 },
    { id: 1, file_name: `${U.img2}.jpg`, width: 320, height: 200, uuid: U.img2, date_captured: null, gps_lat_captured: null, gps_lon_captured: null },
  ],
  annotations: [
    { id: 0, image_id: 0, category_id: 0, bbox: [12.5, 20, 150, 80.25], area: 12037.5, segmentation: [[12.5, 20, 162.5, 20, 162.5, 100.25, 12.5, 100.25]], iscrowd: 0, uuid: U.ann1, viewpoint: 'left', theta: 0.125, individual_ids: [0], individual_uuid: U.shark, name: 'Stumpy' },
    { id: 1, image_id: 0, category_id: 0, bbox: [200, 30, 100, 60], area: 6000, segmentation: [], iscrowd: 0, uuid: 'ann-2', viewpoint: 'frontleft', theta: 0, individual_ids: [1], individual_uuid: U.other, name: null },
    { id: 2, image_id: 1, category_id: 0, bbox: [0, 0, 320, 200], area: 64000, segmentation: [], iscrowd: 0, uuid: 'ann-3', viewpoint: 'right', theta: 3.0, individual_ids: [], individual_uuid: null, name: null },
  ],
};

describe('COCO in Wildbook\'s export layout', () => {
  const folder = path.join(dir, 'wildbook-export');
  const target = path.join(dir, 'from-wildbook.db');
  beforeAll(async () => {
    mkdirSync(path.join(folder, 'images'), { recursive: true });
    writeFileSync(path.join(folder, 'images', `${U.img1}.jpg`), await scenePhoto(601));
    writeFileSync(path.join(folder, 'images', `${U.img2}.jpg`), await scenePhoto(602));
    writeFileSync(path.join(folder, 'annotations.json'), JSON.stringify(WILDBOOK_COCO));
  });

  it('imports with every field: image uuid, capture date and GPS; annotation uuid, box, species, viewpoint, theta, individual by uuid and name', async () => {
    const r = await runCli('catalog', 'import', '--catalog', target, '--format', 'coco', '--data', path.join(folder, 'annotations.json'));
    expect(r.err).toBe('');
    expect(r.out).toMatch(/3 annotations, 0 already there, 2 new individuals/);
    const cat = await openCatalog(target);
    try {
      const { items } = await cat.listPhotos({});
      const uuids = await cat.storedUuids();
      const one = items.find((p) => uuids.photos.get(p.id) === U.img1)!;
      expect([one.originalName, one.takenOn, one.latitude, one.longitude]).toEqual([`${U.img1}.jpg`, '2019-05-04T10:31:00', -21.9123, 113.9456]);
      const notes = await cat.annotations(one.id);
      const stumpy = (await cat.individualByName('Stumpy'))!;
      const unnamed = (await cat.individualByName(U.other))!; // Wildbook's individual without a name: its uuid names it
      expect(notes.map((a) => [a.uuid, a.box, a.species, a.viewpoint, a.theta, a.individualId])).toEqual([
        [U.ann1, { x: 12.5, y: 20, w: 150, h: 80.25 }, 'whale_shark', 'left', 0.125, stumpy.id],
        ['ann-2', { x: 200, y: 30, w: 100, h: 60 }, 'whale_shark', 'frontleft', 0, unnamed.id],
      ]);
      expect([uuids.individuals.get(stumpy.id), uuids.individuals.get(unnamed.id)]).toEqual([U.shark, U.other]);
      expect([one.individualId, one.box]).toEqual([stumpy.id, { x0: 12.5, y0: 20, x1: 162.5, y1: 100.25 }]);
      const two = items.find((p) => uuids.photos.get(p.id) === U.img2)!;
      expect([two.takenOn, two.latitude, two.status]).toEqual([null, null, 'pending']);
      expect((await cat.annotations(two.id)).map((a) => [a.uuid, a.viewpoint, a.theta, a.individualId])).toEqual([['ann-3', 'right', 3, null]]);
    } finally {
      await cat.close();
    }
  }, 120_000);

  it('imports Wildbook\'s .tar.gz of it as shipped (annotations.json and images/ inside)', async () => {
    const archive = path.join(dir, 'wildbook-export.tar.gz');
    execFileSync('tar', ['czf', archive, '-C', folder, 'annotations.json', 'images']);
    const r = await runCli('catalog', 'import', '--catalog', path.join(dir, 'from-archive.db'), '--format', 'coco', '--data', archive);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/: 2 photos added with 3 annotations, 0 already there, 2 new individuals/);
    const bad = await runCli('catalog', 'import', '--catalog', path.join(dir, 'from-bad-archive.db'), '--format', 'coco', '--data', path.join(folder, 'annotations.json.tar.gz'));
    expect(bad.err).toMatch(/--data .*annotations\.json\.tar\.gz: no such file/);
  }, 120_000);

  it('goes out again in that layout, every field as it came', async () => {
    const out = path.join(dir, 'again', 'annotations.json');
    expect((await runCli('catalog', 'export', '--catalog', target, '--format', 'coco', '--out', out)).code).toBe(0);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.categories).toEqual([{ id: 1, name: 'whale_shark', supercategory: 'animal' }]);
    expect(doc.info.individual_id_mapping).toEqual({ [U.shark]: 0, [U.other]: 1 }); // sorted uuids from 0, as Wildbook numbers them
    const fields = ['file_name', 'width', 'height', 'uuid', 'date_captured', 'gps_lat_captured', 'gps_lon_captured'];
    const pick = (o: Record<string, unknown>, keys: string[]): Record<string, unknown> => Object.fromEntries(keys.map((k) => [k, o[k]]));
    expect(doc.images.map((im: Record<string, unknown>) => pick(im, fields))).toEqual(WILDBOOK_COCO.images.map((im) => pick(im, fields)));
    const annotationFields = ['bbox', 'area', 'iscrowd', 'uuid', 'viewpoint', 'theta', 'individual_ids', 'individual_uuid'];
    expect(doc.annotations.map((a: Record<string, unknown>) => pick(a, annotationFields))).toEqual(WILDBOOK_COCO.annotations.map((a) => pick(a, annotationFields)));
    // names: Wildbook's display name, else (an unnamed individual) the uuid that names it here; wildlife-datasets' identity beside it
    expect(doc.annotations.map((a: { name: string | null; identity: string }) => [a.name, a.identity])).toEqual([['Stumpy', 'Stumpy'], [U.other, U.other], [null, 'unknown']]);
    expect(doc.annotations.every((a: { image_id: number; category_id: number; segmentation: number[][] }) => doc.images.some((im: { id: number }) => im.id === a.image_id) && a.category_id === 1 && a.segmentation[0].length === 8)).toBe(true);
  }, 60_000);
});

/**
 * The structure checks of GBIF's data validator for an occurrence-core archive, as far as they
 * read the archive alone: the files meta.xml names are there, the core is an Occurrence core,
 * every field index is a column of the core and its header names that term, the id column is
 * occurrenceID, the required terms are mapped, occurrenceID is unique and present, basisOfRecord
 * is from its vocabulary, eventDate is ISO 8601, coordinates are in range and have a datum.
 *
 * @returns the problems found ([] when it passes)
 */
function gbifStructureProblems(files: Map<string, Buffer>): string[] {
  const problems: string[] = [];
  const meta = files.get('meta.xml')?.toString('utf8');
  if (!meta) return ['no meta.xml'];
  const core = /<core ([^>]*)>([\s\S]*?)<\/core>/.exec(meta);
  if (!core) return ['meta.xml: no core'];
  const attr = (name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(core[1])?.[1];
  if (attr('rowType') !== 'http://rs.tdwg.org/dwc/terms/Occurrence') problems.push(`rowType ${attr('rowType')}`);
  if (attr('fieldsTerminatedBy') !== '\\t' || attr('ignoreHeaderLines') !== '1') problems.push('expected a tab-separated core with one header line');
  const location = /<location>([^<]+)<\/location>/.exec(core[2])?.[1];
  const data = location ? files.get(location)?.toString('utf8') : undefined;
  if (!data) return [...problems, `core file ${location} missing`];
  if (!files.has(/metadata="([^"]+)"/.exec(meta)?.[1] ?? '')) problems.push('the metadata file meta.xml names is missing');
  const rows = data.replace(/\n$/, '').split('\n').map((l) => l.split('\t'));
  const header = rows[0];
  const fields = [...core[2].matchAll(/<field index="(\d+)" term="([^"]+)"\/>/g)].map((m) => ({ index: Number(m[1]), term: m[2].replace('http://rs.tdwg.org/dwc/terms/', '') }));
  for (const f of fields) if (f.index >= header.length || header[f.index] !== f.term) problems.push(`field index ${f.index} (${f.term}) is column ${JSON.stringify(header[f.index])}`);
  const column = new Map(fields.map((f) => [f.term, f.index]));
  const id = Number(/<id index="(\d+)"\/>/.exec(core[2])?.[1]);
  if (id !== column.get('occurrenceID')) problems.push('the id column is not occurrenceID');
  for (const t of ['occurrenceID', 'basisOfRecord', 'scientificName', 'eventDate']) if (!column.has(t)) problems.push(`required term ${t} not mapped`);
  const seen = new Set<string>();
  for (const [i, r] of rows.slice(1).entries()) {
    const v = (t: string): string => r[column.get(t)!] ?? '';
    if (r.length !== header.length) problems.push(`row ${i + 2}: ${r.length} columns, header ${header.length}`);
    if (!v('occurrenceID') || seen.has(v('occurrenceID'))) problems.push(`row ${i + 2}: occurrenceID ${JSON.stringify(v('occurrenceID'))} empty or not unique`);
    seen.add(v('occurrenceID'));
    if (!['HumanObservation', 'MachineObservation', 'PreservedSpecimen', 'Occurrence'].includes(v('basisOfRecord'))) problems.push(`row ${i + 2}: basisOfRecord ${v('basisOfRecord')}`);
    if (!v('scientificName')) problems.push(`row ${i + 2}: no scientificName`);
    if (v('eventDate') && !/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(v('eventDate'))) problems.push(`row ${i + 2}: eventDate ${v('eventDate')} is not ISO 8601`);
    const [lat, lon] = [v('decimalLatitude'), v('decimalLongitude')];
    if ((lat === '') !== (lon === '')) problems.push(`row ${i + 2}: one coordinate without the other`);
    if (lat !== '' && !(Math.abs(Number(lat)) <= 90 && Math.abs(Number(lon)) <= 180)) problems.push(`row ${i + 2}: coordinates ${lat}, ${lon} out of range`);
    if (lat !== '' && v('geodeticDatum') !== 'WGS84') problems.push(`row ${i + 2}: coordinates without geodeticDatum`);
  }
  const eml = files.get('eml.xml')?.toString('utf8') ?? '';
  for (const tag of ['title', 'creator', 'pubDate', 'intellectualRights']) if (!new RegExp(`<${tag}[ >]`).test(eml)) problems.push(`eml.xml: no ${tag}`);
  return problems;
}

describe('Darwin Core Archive', () => {
  it('passes the structure checks of GBIF\'s validator: required terms, meta.xml mapping the core\'s columns, unique occurrenceID, ISO dates, coordinates in range', async () => {
    const source = path.join(dir, 'dwca-source.db');
    const cat = await openCatalog(source);
    await cat.addPhoto(await scenePhoto(701), {
      originalName: 'a.jpg', takenOn: '2021-07-03T09:15:30', latitude: -25.1, longitude: 152.9, location: 'Hervey Bay',
      annotations: [{ box: { x: 1, y: 2, w: 30, h: 40 }, species: 'Megaptera novaeangliae', viewpoint: 'fluke', individualName: 'Salt' }, { box: { x: 100, y: 2, w: 30, h: 40 }, theta: 0.5, species: 'Megaptera novaeangliae', individualName: 'Pepper' }],
    });
    await cat.addPhoto(await scenePhoto(702), { originalName: 'b.jpg', takenOn: '2021-07-04' });
    await cat.close();
    const out = path.join(dir, 'dwca', 'whales-dwca.zip');
    const r = await runCli('catalog', 'export', '--catalog', source, '--format', 'dwca', '--out', out, '--title', 'Hervey Bay humpbacks', '--creator', 'Ann & Bob', '--license', 'CC0-1.0');
    expect(r.err).toBe('');
    const files = readZipArchive(readFileSync(out));
    expect([...files.keys()].sort()).toEqual(['eml.xml', 'meta.xml', 'occurrence.txt']);
    // another reader than ours: Info-ZIP's unzip tests every entry's CRC (where it is installed)
    if (existsSync('/usr/bin/unzip')) expect(execFileSync('/usr/bin/unzip', ['-t', out]).toString()).toMatch(/testing: occurrence\.txt\s+OK[\s\S]*No errors detected/);
    expect(gbifStructureProblems(files)).toEqual([]);
    const rows = files.get('occurrence.txt')!.toString('utf8').trim().split('\n').map((l) => l.split('\t'));
    const col = (t: string): number => rows[0].indexOf(t);
    expect(rows.slice(1).map((row) => [row[col('organismName')], row[col('scientificName')], row[col('eventDate')], row[col('decimalLatitude')], row[col('associatedMedia')]])).toEqual([
      ['Salt', 'Megaptera novaeangliae', '2021-07-03T09:15:30', '-25.1', 'a.jpg'],
      ['Pepper', 'Megaptera novaeangliae', '2021-07-03T09:15:30', '-25.1', 'a.jpg'],
      ['', 'Animalia', '2021-07-04', '', 'b.jpg'],
    ]);
    expect(JSON.parse(rows[2][col('dynamicProperties')])).toEqual({ bbox: [100, 2, 30, 40], theta: 0.5 });
    const eml = files.get('eml.xml')!.toString('utf8');
    expect(eml).toContain('<title xml:lang="eng">Hervey Bay humpbacks</title>');
    expect(eml).toContain('<organizationName>Ann &amp; Bob</organizationName>');
    expect(eml).toContain('publicdomain/zero/1.0');
  }, 120_000);

  it('the checks find what GBIF refuses: a duplicated occurrenceID, a field index past the columns, a bad date', () => {
    const meta = `<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml"><core encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="http://rs.tdwg.org/dwc/terms/Occurrence"><files><location>occurrence.txt</location></files><id index="0"/>
<field index="0" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/><field index="1" term="http://rs.tdwg.org/dwc/terms/basisOfRecord"/><field index="2" term="http://rs.tdwg.org/dwc/terms/eventDate"/><field index="3" term="http://rs.tdwg.org/dwc/terms/scientificName"/><field index="4" term="http://rs.tdwg.org/dwc/terms/decimalLatitude"/></core></archive>`;
    const core = 'occurrenceID\tbasisOfRecord\teventDate\tscientificName\na\tHumanObservation\t03/07/2021\tX\na\tHumanObservation\t2021-07-03\tX\n';
    const files = readZipArchive(zipArchive([{ name: 'meta.xml', data: Buffer.from(meta) }, { name: 'occurrence.txt', data: Buffer.from(core) }, { name: 'eml.xml', data: Buffer.from('<eml/>') }]));
    const problems = gbifStructureProblems(files);
    expect(problems).toContain('field index 4 (decimalLatitude) is column undefined');
    expect(problems).toContain('row 2: eventDate 03/07/2021 is not ISO 8601');
    expect(problems).toContain('row 3: occurrenceID "a" empty or not unique');
    expect(problems).toContain('eml.xml: no title');
  });
});
