import { describe, it, expect } from 'vitest';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../../src/data/dataset.js';
import { formatIssue } from '../../src/data/issues.js';
import { readCsvFile, decodeCsvText, writeCsvFile } from '../../src/data/csv-file.js';
import { readLabels, writeLabels } from '../../src/data/labels.js';
import { readSubmission, writeSubmission } from '../../src/data/submission.js';
import { tmpDir, SHARED_DATASETS } from '../helpers/tmp.js';

const PNG_1PX = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010800000000376ef9240000000a49444154789c63600000000200015d0a2db40000000049454e44ae426082', 'hex');

function kaggleFixture(root: string, trainCsv: string | Buffer, trainPhotos: string[], testPhotos: string[] = []): string {
  mkdirSync(path.join(root, 'train'), { recursive: true });
  mkdirSync(path.join(root, 'test'), { recursive: true });
  writeFileSync(path.join(root, 'train.csv'), trainCsv);
  for (const p of trainPhotos) writeFileSync(path.join(root, 'train', p), PNG_1PX);
  for (const p of testPhotos) writeFileSync(path.join(root, 'test', p), PNG_1PX);
  return root;
}

describe('loadDataset, Kaggle layout', () => {
  const base = tmpDir();
  it('reads a clean dataset with no issues', async () => {
    const root = kaggleFixture(path.join(base, 'clean'), 'Image,Id\na.png,w_1\nb.png,new_whale\n', ['a.png', 'b.png'], ['t.png']);
    const ds = await loadDataset(root);
    expect(ds.layout).toBe('kaggle');
    expect(ds.issues).toEqual([]);
    expect(ds.train.map((p) => [p.image, p.id])).toEqual([['a.png', 'w_1'], ['b.png', 'new_whale']]);
    expect(ds.test.map((p) => p.image)).toEqual(['t.png']);
  });

  it('reports every problem at once with file and line, and keeps the good rows', async () => {
    const csv = 'Image,Id\na.png,w_1\nmissing.png,w_2\nc.png,\na.png,w_1\nd.png,w_3\nd.png,w_4\ne.png,w 5\n../x.png,w_6\n';
    const root = kaggleFixture(path.join(base, 'bad'), csv, ['a.png', 'c.png', 'd.png', 'e.png', 'orphan.png'], []);
    writeFileSync(path.join(root, 'train', 'notes.txt'), 'x');
    const ds = await loadDataset(root);
    const lines = ds.issues.map(formatIssue);
    expect(lines).toEqual(expect.arrayContaining([
      'error: train.csv:3: Image: photo train/missing.png not found',
      'error: train.csv:4: Id: empty id',
      'error: train.csv:5: Image: duplicate row for a.png (first on line 2)',
      'error: train.csv:7: Image: conflicting label for d.png: "w_4" here, "w_3" on line 6 (kept)',
      expect.stringMatching(/^error: train\.csv:8: Id: id "w 5" contains whitespace/),
      expect.stringMatching(/^error: train\.csv:9: Image: image name "\.\.\/x\.png" must be a plain file name/),
      'warning: train/orphan.png: photo has no row in train.csv; ignored',
      'warning: train/notes.txt: not a photo (unknown extension); ignored',
    ]));
    expect(ds.issues).toHaveLength(8);
    expect(ds.train.map((p) => p.image)).toEqual(['a.png', 'd.png']);
  });

  it('reports a bad header as fatal', async () => {
    const root = kaggleFixture(path.join(base, 'header'), 'image,id\na.png,w_1\n', ['a.png']);
    const ds = await loadDataset(root);
    expect(ds.issues.map(formatIssue)).toEqual(['fatal: train.csv:1: bad header: expected "Image,Id" but found "image,id"']);
  });

  it('reports unreadable encodings with the line', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Image,Id\n', 'utf16le')]);
    const ds = await loadDataset(kaggleFixture(path.join(base, 'u16'), utf16, []));
    expect(ds.issues.map(formatIssue)).toEqual([expect.stringMatching(/^fatal: train\.csv: unreadable encoding: UTF-16/)]);
    const latin1 = Buffer.from('Image,Id\na.png,w_1\nb.png,caf\xe9\n', 'latin1');
    const ds2 = await loadDataset(kaggleFixture(path.join(base, 'latin1'), latin1, ['a.png', 'b.png']));
    expect(ds2.issues.map(formatIssue)).toContainEqual(expect.stringMatching(/^fatal: train\.csv:3: unreadable encoding: invalid UTF-8 byte 0xe9/));
  });

  it('accepts a UTF-8 byte-order mark and Windows line ends', async () => {
    const csv = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Image,Id\r\na.png,w_1\r\n')]);
    const ds = await loadDataset(kaggleFixture(path.join(base, 'bom'), csv, ['a.png']));
    expect(ds.issues).toEqual([]);
    expect(ds.train[0].id).toBe('w_1');
  });

  it('checks sample_submission.csv against test/', async () => {
    const root = kaggleFixture(path.join(base, 'sample'), 'Image,Id\na.png,w_1\n', ['a.png'], ['t1.png', 't2.png']);
    writeFileSync(path.join(root, 'sample_submission.csv'), 'Image,Id\nt1.png,new_whale\ngone.png,new_whale\n');
    const ds = await loadDataset(root);
    expect(ds.issues.map(formatIssue)).toEqual([
      'warning: sample_submission.csv:3: Image: photo test/gone.png not found',
      'warning: test/t2.png: photo has no row in sample_submission.csv',
    ]);
  });

  it('refuses a folder that does not exist', async () => {
    await expect(loadDataset(path.join(base, 'nope'))).rejects.toThrow(/nope: no such folder/);
  });
});

describe('loadDataset, folder-per-individual layout', () => {
  const base = tmpDir();
  it('names individuals by their folder path, nested or not', async () => {
    const root = path.join(base, 'omni');
    for (const d of ['Greek/character01', 'Greek/character02', 'Latin/character01']) {
      mkdirSync(path.join(root, d), { recursive: true });
      writeFileSync(path.join(root, d, '1.png'), PNG_1PX);
      writeFileSync(path.join(root, d, '2.png'), PNG_1PX);
    }
    writeFileSync(path.join(root, 'stray.png'), PNG_1PX);
    const ds = await loadDataset(root);
    expect(ds.layout).toBe('folders');
    expect(new Set(ds.train.map((p) => p.id))).toEqual(new Set(['Greek/character01', 'Greek/character02', 'Latin/character01']));
    expect(ds.train).toHaveLength(6);
    expect(ds.issues).toEqual([]);
    expect(ds.test.map((p) => p.image)).toEqual(['stray.png']);
  });
  it('reads a root holding only train/ from train/ (nyala-train style)', async () => {
    const root = path.join(base, 'nyala');
    mkdirSync(path.join(root, 'train', '101'), { recursive: true });
    writeFileSync(path.join(root, 'train', '101', 'x.jpg'), PNG_1PX);
    const ds = await loadDataset(root);
    expect(ds.train.map((p) => [p.image, p.id])).toEqual([['101/x.jpg', '101']]);
  });
  const nyala = path.join(SHARED_DATASETS, 'nyala-train');
  it.skipIf(!existsSync(nyala))('loads the real nyala set: 179 individuals, 1213 photos', async () => {
    const ds = await loadDataset(nyala);
    expect(new Set(ds.train.map((p) => p.id)).size).toBe(179);
    expect(ds.train).toHaveLength(1213);
  });
});

describe('CSV files', () => {
  const base = tmpDir();
  it('round-trips labels, including quoting of awkward names', async () => {
    const rows = [{ image: 'a.jpg', id: 'w_1' }, { image: 'b,c.jpg', id: 'new_whale' }, { image: 'd"e.jpg', id: 'w_2' }];
    const f = path.join(base, 'labels.csv');
    await writeLabels(f, rows);
    expect((await readLabels(f)).map(({ image, id }) => ({ image, id }))).toEqual(rows);
  });
  it('round-trips submissions and keeps 5 ids', async () => {
    const f = path.join(base, 'sub.csv');
    await writeSubmission(f, [{ image: 'a.jpg', ids: ['new_whale', 'w_1', 'w_2', 'w_3', 'w_4', 'w_5'] }, { image: 'b.jpg', ids: ['w_9'] }]);
    expect(await readSubmission(f)).toEqual([{ image: 'a.jpg', ids: ['new_whale', 'w_1', 'w_2', 'w_3', 'w_4'] }, { image: 'b.jpg', ids: ['w_9'] }]);
  });
  it('lists every bad submission row', async () => {
    const f = path.join(base, 'badsub.csv');
    writeFileSync(f, 'Image,Id\na.jpg,\nb.jpg,1 2 3 4 5 6\na.jpg,w_1\n');
    await expect(readSubmission(f)).rejects.toThrow(/badsub\.csv:2: Id: no prediction.*badsub\.csv:3: Id: 6 predictions; expected at most 5.*badsub\.csv:4: Image: a\.jpg appears twice/);
  });
  it('reports malformed CSV with the line', async () => {
    const f = path.join(base, 'quote.csv');
    writeFileSync(f, 'Image,Id\na.jpg,w_1\n"b.jpg,w_2\n');
    await expect(readCsvFile(f)).rejects.toThrow(/quote\.csv:\d+: malformed CSV/);
  });
  it('writes atomically: no temp files left, target replaced', async () => {
    const f = path.join(base, 'atomic.csv');
    await writeCsvFile(f, ['A'], [['1']]);
    await writeCsvFile(f, ['A'], [['2']]);
    expect((await readCsvFile(f)).rows[0].fields).toEqual(['2']);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(base).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
  it('decodes plain UTF-8 ids', () => {
    expect(decodeCsvText(Buffer.from('Image,Id\na,wé\n'), 'x.csv')).toBe('Image,Id\na,wé\n');
  });
});
