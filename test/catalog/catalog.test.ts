import { describe, it, expect, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openCatalog } from '../../src/catalog/catalog.js';
import { importDataset } from '../../src/catalog/catalog-import.js';
import { MIGRATIONS } from '../../src/catalog/catalog-schema.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';

describe('catalog', () => {
  const dir = tmpDir('whaleid-catalog-');
  const data = path.join(dir, 'synth');
  beforeAll(async () => {
    await generateSynthCatalog({ out: data, individuals: 6, photosPerIndividual: 3, seed: 8 });
  }, 120_000);

  it('creates the schema by migrations and refuses a newer one', () => {
    const file = path.join(dir, 'm.db');
    openCatalog(file).close();
    const db = new Database(file);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => (r as { name: string }).name)).toEqual(['decisions', 'encounters', 'features', 'individuals', 'photos']);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openCatalog(file)).toThrow(/newer than this whaleid understands/);
  });

  it('upgrades a catalog of schema 1 in place: its decisions kept, undo available', () => {
    const file = path.join(dir, 'v1.db');
    const db = new Database(file);
    db.exec(MIGRATIONS[0]);
    db.pragma('user_version = 1');
    db.exec(`INSERT INTO individuals (name, created_at) VALUES ('Salt', '2019-07-04');
      INSERT INTO photos (sha256, format, bytes, width, height, uploaded_at, individual_id, status) VALUES ('${'a'.repeat(64)}', 'jpeg', 10, 4, 4, '2019-07-04', NULL, 'pending');
      INSERT INTO decisions (photo_id, action, individual_id, decided_by, decided_at) VALUES (1, 'skip', NULL, 'ann', '2019-07-05');`);
    db.close();
    const cat = openCatalog(file);
    expect(cat.decisions({})).toMatchObject([{ id: 1, action: 'skip', decidedBy: 'ann', undoes: null }]);
    expect(cat.undo(1, { by: 'bob' })).toMatchObject({ action: 'undo', undoes: 1 });
    expect(cat.photo(1)).toMatchObject({ status: 'pending', individualId: null });
    expect(cat.integrityCheck()).toBe('ok');
    cat.close();
  });

  it('imports a dataset once: a second import adds nothing, boxes come from the CSV', async () => {
    const cat = openCatalog(path.join(dir, 'import.db'));
    const lines: string[] = [];
    const first = await importDataset(cat, data, { onMessage: (l) => lines.push(l) });
    expect(first.added + first.duplicates).toBeGreaterThan(10);
    expect(first.newIndividuals).toBe(cat.listIndividuals({}).total);
    const withBox = cat.listPhotos({ limit: 1000 }).items.filter((p) => p.boxSource === 'csv');
    expect(withBox.length).toBe(first.added + first.queued);
    // new_whale and test photos wait in the review queue instead of being left out
    const unlabelled = readFileSync(path.join(data, 'train.csv'), 'utf8').split('\n').filter((l) => l.endsWith(',new_whale')).length + readdirSync(path.join(data, 'test')).length;
    expect(unlabelled).toBeGreaterThan(0);
    expect(first.queued).toBe(unlabelled);
    expect(cat.listPhotos({ status: 'pending', limit: 1000 }).total).toBe(unlabelled);
    const second = await importDataset(cat, data);
    expect(second).toMatchObject({ added: 0, queued: 0, newIndividuals: 0, duplicates: first.added + first.queued + first.duplicates, failed: 0 });
    expect(cat.decisions({ limit: 1000 }).filter((d) => d.action === 'import')).toHaveLength(first.added);
    cat.close();
  });

  it('reports unreadable photos and imports the rest', async () => {
    const bad = path.join(dir, 'bad');
    await generateSynthCatalog({ out: bad, individuals: 3, photosPerIndividual: 2, seed: 3 });
    const victim = readdirSync(path.join(bad, 'train'))[0];
    writeFileSync(path.join(bad, 'train', victim), 'garbage');
    const cat = openCatalog(path.join(dir, 'bad.db'));
    const lines: string[] = [];
    const s = await importDataset(cat, bad, { onMessage: (l) => lines.push(l) });
    expect(s.failed).toBe(1);
    expect(lines.some((l) => l.includes(victim) && /not an image/.test(l))).toBe(true);
    expect(s.added).toBeGreaterThan(0);
    cat.close();
  });

  it('creates an individual only with a readable photo, and files photos of a merged name under the merge', async () => {
    const cat = openCatalog(path.join(dir, 'names.db'));
    await expect(cat.addPhoto(Buffer.from('garbage'), { originalName: 'x.jpg', individualName: 'Ghost' })).rejects.toThrow(/not an image/);
    expect(cat.individualByName('Ghost')).toBeUndefined();
    const first = await cat.addPhoto(await scenePhoto(11), { originalName: 'a.jpg', individualName: 'Salt', uploadedBy: 'ann' });
    expect(first.newIndividual).toBe(true);
    const salt = cat.individualByName('Salt')!;
    expect(first.photo.individualId).toBe(salt.id);
    expect(first.photo.status).toBe('identified');
    const pepper = cat.createIndividual('Pepper', '', 'ann');
    cat.merge(pepper.id, salt.id, { by: 'ann' });
    const second = await cat.addPhoto(await scenePhoto(12), { originalName: 'b.jpg', individualName: 'Salt' });
    expect(second.newIndividual).toBe(false);
    expect(second.photo.individualId).toBe(pepper.id);
    expect(cat.decisions({ photoId: second.photo.id }).map((d) => d.action)).toEqual(['import']);
    cat.close();
  });

  it('backs up database and photos, and never overwrites a backup', async () => {
    const cat = openCatalog(path.join(dir, 'b.db'));
    const ind = cat.createIndividual('Salt', '', 'ann');
    const { photo } = await cat.addPhoto(await scenePhoto(1), { originalName: 'a.jpg', individualId: ind.id });
    const dest = path.join(dir, 'backup.db');
    expect(await cat.backup(dest)).toEqual({ photos: 1 });
    await expect(cat.backup(dest)).rejects.toThrow(/exists already/);
    cat.close();
    const copy = openCatalog(dest, { readonly: true });
    expect(copy.photo(photo.id).sha256).toBe(photo.sha256);
    expect(existsSync(copy.photoFile(copy.photo(photo.id)))).toBe(true);
    expect(copy.individual(ind.id).name).toBe('Salt');
    expect(() => copy.createIndividual('X', '', 'ann')).toThrow(/readonly/);
    copy.close();
  });

  it('stays consistent when the writing process is killed mid-import', async () => {
    const file = path.join(dir, 'killed.db');
    // a real import in another process, killed with SIGKILL while it writes
    const script = `import { openCatalog } from ${JSON.stringify(path.resolve('src/catalog/catalog.ts'))};
      import { importDataset } from ${JSON.stringify(path.resolve('src/catalog/catalog-import.ts'))};
      const cat = openCatalog(${JSON.stringify(file)});
      await importDataset(cat, ${JSON.stringify(data)}, { onProgress: (d) => { if (d === 4) process.stdout.write('started\\n'); } });`;
    const scriptFile = path.join(dir, 'writer.mts');
    writeFileSync(scriptFile, script);
    const child = spawn(process.execPath, ['--import', 'tsx', scriptFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('started')) resolve(); }));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const cat = openCatalog(file);
    expect(cat.integrityCheck()).toBe('ok');
    const photos = cat.listPhotos({ limit: 1000 }).items;
    expect(photos.length).toBeGreaterThanOrEqual(4);
    // every photo row has its individual and its file; every imported photo has its decision
    for (const p of photos) {
      expect(existsSync(cat.photoFile(p))).toBe(true);
      if (p.status === 'identified') expect(cat.individual(p.individualId!).id).toBe(p.individualId);
      else expect(p).toMatchObject({ status: 'pending', individualId: null });
    }
    expect(cat.decisions({ limit: 1000 }).length).toBe(photos.filter((p) => p.status === 'identified').length);
    // and the interrupted import simply continues
    const rest = await importDataset(cat, data);
    expect(rest.duplicates).toBe(photos.length);
    cat.close();
  }, 60_000);

  it('validates text fields with one-line messages naming the field', async () => {
    const cat = openCatalog(path.join(dir, 'v.db'));
    expect(() => cat.createIndividual('  ', '', 'ann')).toThrow(/Expected a non-empty text for name/);
    expect(() => cat.createIndividual('x'.repeat(201), '', 'ann')).toThrow(/Expected at most 200 characters for name but received "201 characters"/);
    await expect(cat.addPhoto(await scenePhoto(2), { originalName: 'a.jpg', takenOn: '2019-02-30' })).rejects.toThrow(/Expected a date YYYY-MM-DD .* for takenOn but received "2019-02-30"/);
    await expect(cat.addPhoto(await scenePhoto(2), { originalName: 'a.jpg', box: { x0: 10, y0: 10, x1: 5, y1: 20 } })).rejects.toThrow(/box .*expected x0 < x1/);
    expect(cat.listPhotos({}).total).toBe(0);
    cat.close();
  });

  it('imports, exports and backs up through the CLI', async () => {
    const db = path.join(dir, 'cli.db');
    const imp = await runCli('catalog', 'import', '--catalog', db, '--data', data, '--quiet');
    expect(imp.code, imp.err).toBe(0);
    const added = Number(/: (\d+) photos added/.exec(imp.out)![1]) + Number(/; (\d+) photos put in the review queue/.exec(imp.out)![1]);
    const out = path.join(dir, 'cli.csv');
    const exp = await runCli('catalog', 'export', '--catalog', db, '--out', out);
    expect(exp.code, exp.err).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^Image,Id,PhotoId,/);
    expect(lines).toHaveLength(added + 1);
    const labels = new Map(readFileSync(path.join(data, 'train.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',') as [string, string]));
    const row = lines[1].split(',');
    expect(labels.get(row[3])).toBe(row[1]); // OriginalName -> the individual's id
    expect((await runCli('catalog', 'backup', '--catalog', db, '--out', path.join(dir, 'cli-backup.db'))).code).toBe(0);
    const missing = await runCli('catalog', 'export', '--catalog', path.join(dir, 'nope.db'), '--out', path.join(dir, 'cli-missing.csv'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.db: no such catalog/);
  });
});
