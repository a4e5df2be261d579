import { describe, it, expect, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openCatalog } from '../../src/catalog/catalog.js';
import { importDataset } from '../../src/catalog/catalog-import.js';
import { MIGRATIONS, POSTGRES_MIGRATIONS, POSTGRES_STATE_TABLE } from '../../src/catalog/catalog-schema.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { BACKENDS, newPostgresDatabase, onBackend, openTestCatalog } from '../helpers/backends.js';
import { decodeLocalFeatures, encodeLocalFeatures } from '../../src/infer/local/local-feature-store.js';
import { DEFAULT_LOCAL, DESCRIPTOR_LENGTH } from '../../src/infer/local/local-features.js';
import { localRecordKey } from '../../src/serve/local-gallery.js';

const dir = tmpDir('whaleid-catalog-');
const data = path.join(dir, 'synth');
beforeAll(async () => {
  await copyFixture('synth-6x3-s8', data);
}, 120_000);

const postgres = BACKENDS.find((b) => b.name === 'postgres')!;

describe('catalog schema on SQLite', () => {
  it('creates the schema by migrations and refuses a newer one', async () => {
    const file = path.join(dir, 'm.db');
    await (await openCatalog(file)).close();
    const db = new Database(file);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => (r as { name: string }).name)).toEqual(['annotation_features', 'annotations', 'decisions', 'encounters', 'features', 'individuals', 'photos', 'user_changes', 'users']);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    await expect(openCatalog(file)).rejects.toThrow(/newer than this whaleid understands/);
  });

  it('upgrades a catalog of schema 1 in place: its decisions kept, undo available', async () => {
    const file = path.join(dir, 'v1.db');
    const db = new Database(file);
    db.exec(MIGRATIONS[0]);
    db.pragma('user_version = 1');
    db.exec(`INSERT INTO individuals (name, created_at) VALUES ('Salt', '2019-07-04');
      INSERT INTO photos (sha256, format, bytes, width, height, uploaded_at, individual_id, status) VALUES ('${'a'.repeat(64)}', 'jpeg', 10, 4, 4, '2019-07-04', NULL, 'pending');
      INSERT INTO decisions (photo_id, action, individual_id, decided_by, decided_at) VALUES (1, 'skip', NULL, 'ann', '2019-07-05');`);
    db.close();
    const cat = await openCatalog(file);
    expect(await cat.decisions({})).toMatchObject([{ id: 1, action: 'skip', decidedBy: 'ann', undoes: null }]);
    expect(await cat.undo(1, { by: 'bob' })).toMatchObject({ action: 'undo', undoes: 1 });
    expect(await cat.photo(1)).toMatchObject({ status: 'pending', individualId: null });
    expect(await cat.integrityCheck()).toBe('ok');
    await cat.close();
  });

  it('backs up database and photos, and never overwrites a backup', async () => {
    const cat = await openCatalog(path.join(dir, 'b.db'));
    const ind = await cat.createIndividual('Salt', '', 'ann');
    const { photo } = await cat.addPhoto(await scenePhoto(1), { originalName: 'a.jpg', individualId: ind.id });
    const dest = path.join(dir, 'backup.db');
    expect(await cat.backup(dest)).toEqual({ photos: 1 });
    await expect(cat.backup(dest)).rejects.toThrow(/exists already/);
    await cat.close();
    const copy = await openCatalog(dest, { readonly: true });
    expect((await copy.photo(photo.id)).sha256).toBe(photo.sha256);
    expect(existsSync(copy.photoFile(await copy.photo(photo.id)))).toBe(true);
    expect((await copy.individual(ind.id)).name).toBe('Salt');
    await expect(copy.createIndividual('X', '', 'ann')).rejects.toThrow(/readonly/);
    await copy.close();
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

describe.skipIf(postgres.skip !== '')(onBackend('catalog schema on PostgreSQL', postgres), () => {
  it('creates the same tables by the same migrations, and refuses a newer schema', async () => {
    const url = await newPostgresDatabase('schema');
    await (await openCatalog(url, { photoDir: path.join(dir, 'pg-schema.photos') })).close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables = (await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")).rows.map((r) => r.table_name);
      expect(tables).toEqual(['annotation_features', 'annotations', 'decisions', 'encounters', 'features', 'individuals', 'photos', 'user_changes', 'users', 'whaleid_state']);
      const columns = async (t: string): Promise<string[]> => (await client.query('SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position', [t])).rows.map((r) => r.column_name);
      // the same columns in the same order as SQLite's schema
      await (await openCatalog(path.join(dir, 'columns.db'))).close();
      const lite = new Database(path.join(dir, 'columns.db'), { readonly: true });
      for (const t of ['annotation_features', 'annotations', 'decisions', 'encounters', 'features', 'individuals', 'photos', 'user_changes', 'users']) expect(await columns(t), t).toEqual((lite.pragma(`table_info(${t})`) as { name: string }[]).map((c) => c.name));
      // and of the same types (the PostgreSQL DDL is translated from SQLite's: toPostgresDdl)
      const pgType: Record<string, string> = { INTEGER: 'bigint', REAL: 'double precision', BLOB: 'bytea', TEXT: 'text' };
      for (const t of ['annotation_features', 'annotations', 'decisions', 'encounters', 'features', 'individuals', 'photos', 'user_changes', 'users']) {
        const types = (await client.query('SELECT data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position', [t])).rows.map((r) => r.data_type);
        expect(types, t).toEqual((lite.pragma(`table_info(${t})`) as { type: string }[]).map((c) => pgType[c.type]));
      }
      // ids are identities: a row inserted without one gets the next
      expect((await client.query("SELECT column_name FROM information_schema.columns WHERE is_identity = 'YES' ORDER BY table_name")).rows.map((r) => r.column_name)).toEqual(['id', 'id', 'id', 'id', 'id', 'id', 'id']);
      lite.close();
      expect((await client.query('SELECT schema_version FROM whaleid_state')).rows[0].schema_version).toBe(POSTGRES_MIGRATIONS.length);
      await client.query('UPDATE whaleid_state SET schema_version = $1', [POSTGRES_MIGRATIONS.length + 1]);
    } finally {
      await client.end();
    }
    await expect(openCatalog(url, { photoDir: path.join(dir, 'pg-schema.photos') })).rejects.toThrow(/newer than this whaleid understands/);
  });

  it('upgrades a catalog of schema 1 in place: its decisions kept, undo available', async () => {
    const url = await newPostgresDatabase('v1');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(POSTGRES_STATE_TABLE);
    await client.query(POSTGRES_MIGRATIONS[0]);
    await client.query(`UPDATE whaleid_state SET schema_version = 1;
      INSERT INTO individuals (name, created_at) VALUES ('Salt', '2019-07-04');
      INSERT INTO photos (sha256, format, bytes, width, height, taken_on, uploaded_at, individual_id, status) VALUES ('${'a'.repeat(64)}', 'jpeg', 10, 4, 4, '2019-07-04', '2019-07-04', NULL, 'pending');
      INSERT INTO decisions (photo_id, action, individual_id, decided_by, decided_at) VALUES (1, 'skip', NULL, 'ann', '2019-07-05');`);
    await client.end();
    const cat = await openCatalog(url, { photoDir: path.join(dir, 'pg-v1.photos') });
    expect(await cat.decisions({})).toMatchObject([{ id: 1, action: 'skip', decidedBy: 'ann', undoes: null }]);
    expect(await cat.undo(1, { by: 'bob' })).toMatchObject({ action: 'undo', undoes: 1 });
    expect(await cat.photo(1)).toMatchObject({ status: 'pending', individualId: null, takenOnSource: 'user', encounterId: null });
    expect(await cat.integrityCheck()).toBe('ok');
    await cat.close();
  });

  it("refuses another program's database and an empty one unless asked to create, and needs a photo folder", async () => {
    const url = await newPostgresDatabase('other');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes VALUES (1, 'keep me')");
    await expect(openCatalog(url, { photoDir: path.join(dir, 'x.photos') })).rejects.toThrow(/a PostgreSQL database but not a whaleid catalog \(its tables: notes\); refusing to change it/);
    expect((await client.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).rows).toEqual([{ table_name: 'notes' }]);
    await client.end();
    const empty = await newPostgresDatabase('empty');
    await expect(openCatalog(empty, { photoDir: path.join(dir, 'x.photos'), create: false })).rejects.toThrow(/an empty database, no catalog yet \(a new one is made only when asked/);
    await expect(openCatalog(empty)).rejects.toThrow(/^postgres:\/\/postgres@localhost:\d+\/t_empty\S+: a PostgreSQL catalog keeps its photos in a folder every service process shares; give it with --photos DIR/);
    await expect(openCatalog(empty.replace(/\/t_empty\w+\?/, '/no_such_db?'), { photoDir: path.join(dir, 'x.photos') })).rejects.toThrow(/no_such_db\?\S*: no such database .*createdb/);
  });
});

for (const b of BACKENDS) {
  describe.skipIf(b.skip !== '')(onBackend('catalog', b), () => {
    const open = (name: string, o: Parameters<typeof openTestCatalog>[3] = {}) => openTestCatalog(b, dir, `${b.name}-${name}`, o);

    it('imports a dataset once: a second import adds nothing, boxes come from the CSV', async () => {
      const cat = await open('import');
      const lines: string[] = [];
      const first = await importDataset(cat, data, { onMessage: (l) => lines.push(l) });
      expect(first.added + first.duplicates).toBeGreaterThan(10);
      expect(first.newIndividuals).toBe((await cat.listIndividuals({})).total);
      const withBox = (await cat.listPhotos({ limit: 1000 })).items.filter((p) => p.boxSource === 'csv');
      expect(withBox.length).toBe(first.added + first.queued);
      // new_whale and test photos wait in the review queue instead of being left out
      const unlabelled = readFileSync(path.join(data, 'train.csv'), 'utf8').split('\n').filter((l) => l.endsWith(',new_whale')).length + readdirSync(path.join(data, 'test')).length;
      expect(unlabelled).toBeGreaterThan(0);
      expect(first.queued).toBe(unlabelled);
      expect((await cat.listPhotos({ status: 'pending', limit: 1000 })).total).toBe(unlabelled);
      const second = await importDataset(cat, data);
      expect(second).toMatchObject({ added: 0, queued: 0, newIndividuals: 0, duplicates: first.added + first.queued + first.duplicates, failed: 0 });
      expect((await cat.decisions({ limit: 1000 })).filter((d) => d.action === 'import')).toHaveLength(first.added);
      expect(await cat.countDecisions('import')).toBe(first.added);
      await cat.close();
    });

    it('reports unreadable photos and imports the rest', async () => {
      const bad = path.join(dir, `bad-${b.name}`);
      await copyFixture('synth-3x2-s3', bad);
      const victim = readdirSync(path.join(bad, 'train'))[0];
      writeFileSync(path.join(bad, 'train', victim), 'garbage');
      const cat = await open('bad');
      const lines: string[] = [];
      const s = await importDataset(cat, bad, { onMessage: (l) => lines.push(l) });
      expect(s.failed).toBe(1);
      expect(lines.some((l) => l.includes(victim) && /not an image/.test(l))).toBe(true);
      expect(s.added).toBeGreaterThan(0);
      await cat.close();
    });

    it('creates an individual only with a readable photo, and files photos of a merged name under the merge', async () => {
      const cat = await open('names');
      await expect(cat.addPhoto(Buffer.from('garbage'), { originalName: 'x.jpg', individualName: 'Ghost' })).rejects.toThrow(/not an image/);
      expect(await cat.individualByName('Ghost')).toBeUndefined();
      const first = await cat.addPhoto(await scenePhoto(11), { originalName: 'a.jpg', individualName: 'Salt', uploadedBy: 'ann' });
      expect(first.newIndividual).toBe(true);
      const salt = (await cat.individualByName('Salt'))!;
      expect(first.photo.individualId).toBe(salt.id);
      expect(first.photo.status).toBe('identified');
      const pepper = await cat.createIndividual('Pepper', '', 'ann');
      await cat.merge(pepper.id, salt.id, { by: 'ann' });
      const second = await cat.addPhoto(await scenePhoto(12), { originalName: 'b.jpg', individualName: 'Salt' });
      expect(second.newIndividual).toBe(false);
      expect(second.photo.individualId).toBe(pepper.id);
      expect((await cat.decisions({ photoId: second.photo.id })).map((d) => d.action)).toEqual(['import']);
      expect(await cat.individual(pepper.id)).toMatchObject({ photoCount: 2, coverPhotoId: first.photo.id, lastSeen: null });
      await cat.close();
    });

    it('rolls back a whole write on failure, and a failed inner write only to its savepoint', async () => {
      const cat = await open('tx');
      const before = await cat.revision();
      // a decision on a photo that does not exist: nothing of it stays, not even the new individual
      await expect(cat.newIndividual(999, 'Nobody', '', { by: 'ann' })).rejects.toThrow(/photo 999 not found/);
      expect(await cat.individualByName('Nobody')).toBeUndefined();
      const a = await cat.createIndividual(null, '', 'ann');
      expect(a.name).toBe('W00001');
      expect(await cat.revision()).not.toBe(before);
      // stored features survive a round trip as bytes
      const { photo } = await cat.addPhoto(await scenePhoto(13), { originalName: 'f.jpg', individualId: a.id });
      const v = Float32Array.from({ length: 16 }, (_, i) => i / 7 - 1);
      await cat.putFeatures('m1', [{ photoId: photo.id, vector: v }]);
      await cat.putFeatures('m1', [{ photoId: photo.id, vector: v.map((x) => x * 2) }]);
      expect([...(await cat.getFeatures('m1', [photo.id, 12345])).get(photo.id)!]).toEqual([...v.map((x) => x * 2)]);
      expect((await cat.getFeatures('m2', [photo.id])).size).toBe(0);
      const all = await cat.getAllFeatures('m1');
      expect([...all.keys()]).toEqual([photo.id]);
      expect([...all.get(photo.id)!]).toEqual([...v.map((x) => x * 2)]);
      expect((await cat.getAllFeatures('m2')).size).toBe(0);
      await cat.setBox(photo.id, { x0: 1, y0: 1, x1: 20, y1: 10 }, 'user');
      expect((await cat.getFeatures('m1', [photo.id])).size).toBe(0);
      expect(await cat.gallery()).toEqual([{ photoId: photo.id, individualId: a.id, boxKey: '1,1,20,10' }]);
      await cat.close();
    });

    it('stores local features (keypoints, descriptors) beside the Siamese ones: bit for bit, per settings key, dropped with a box change', async () => {
      const cat = await open('local-features');
      const w = await cat.createIndividual(null, '', 'ann');
      const { photo } = await cat.addPhoto(await scenePhoto(14), { originalName: 'l.jpg', individualId: w.id });
      // 300 keypoints of KAZE-like floats, with values whose bits must survive (negative zero, tiny, huge)
      const n = 300;
      const xy = Float32Array.from({ length: 2 * n }, (_, i) => (i * 37.25) % 500);
      const descriptors = Float32Array.from({ length: n * DESCRIPTOR_LENGTH }, (_, i) => (i % 97 === 0 ? -0 : Math.sin(i) * 10 ** ((i % 9) - 4)));
      const key = localRecordKey(DEFAULT_LOCAL);
      await cat.putFeatures('m1', [{ photoId: photo.id, vector: Float32Array.of(1, 2, 3) }]);
      await cat.putFeatureRecords(key, [{ photoId: photo.id, bytes: encodeLocalFeatures([{ xy, descriptors }], DEFAULT_LOCAL) }]);
      const back = decodeLocalFeatures((await cat.getFeatureRecords(key, [photo.id, 4242])).get(photo.id)!, DEFAULT_LOCAL, 'catalog');
      const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      expect(bytes(back[0].descriptors).equals(bytes(descriptors))).toBe(true);
      expect(bytes(back[0].xy).equals(bytes(xy))).toBe(true);
      // the Siamese vector of the photo is its own row, untouched; other settings have nothing
      expect([...(await cat.getFeatures('m1', [photo.id])).get(photo.id)!]).toEqual([1, 2, 3]);
      expect((await cat.getFeatureRecords(localRecordKey({ ...DEFAULT_LOCAL, maxKeypoints: 400 }), [photo.id])).size).toBe(0);
      // a new box is a new crop: every kind of feature of the photo goes
      await cat.setBox(photo.id, { x0: 2, y0: 2, x1: 30, y1: 12 }, 'user');
      expect((await cat.getFeatureRecords(key, [photo.id])).size).toBe(0);
      expect((await cat.getFeatures('m1', [photo.id])).size).toBe(0);
      await cat.close();
    });

    it('stays consistent when the writing process is killed mid-import', async () => {
      const where = await b.location(dir, `${b.name}-killed`);
      // a real import in another process, killed with SIGKILL while it writes
      const script = `import { openCatalog } from ${JSON.stringify(path.resolve('src/catalog/catalog.ts'))};
        import { importDataset } from ${JSON.stringify(path.resolve('src/catalog/catalog-import.ts'))};
        const cat = await openCatalog(${JSON.stringify(where.catalog)}, { photoDir: ${JSON.stringify(where.photoDir)} });
        await importDataset(cat, ${JSON.stringify(data)}, { onProgress: (d) => { if (d === 4) process.stdout.write('started\\n'); } });`;
      const scriptFile = path.join(dir, `writer-${b.name}.mts`);
      writeFileSync(scriptFile, script);
      const child = spawn(process.execPath, ['--import', 'tsx', scriptFile], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('started')) resolve(); }));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      const cat = await openCatalog(where.catalog, { photoDir: where.photoDir });
      expect(await cat.integrityCheck()).toBe('ok');
      const photos = (await cat.listPhotos({ limit: 1000 })).items;
      expect(photos.length).toBeGreaterThanOrEqual(4);
      // every photo row has its individual and its file; every imported photo has its decision
      for (const p of photos) {
        expect(existsSync(cat.photoFile(p))).toBe(true);
        if (p.status === 'identified') expect((await cat.individual(p.individualId!)).id).toBe(p.individualId);
        else expect(p).toMatchObject({ status: 'pending', individualId: null });
      }
      expect((await cat.decisions({ limit: 1000 })).length).toBe(photos.filter((p) => p.status === 'identified').length);
      // and the interrupted import simply continues
      const rest = await importDataset(cat, data);
      expect(rest.duplicates).toBe(photos.length);
      await cat.close();
    }, 60_000);

    it('validates text fields with one-line messages naming the field', async () => {
      const cat = await open('v');
      await expect(cat.createIndividual('  ', '', 'ann')).rejects.toThrow(/Expected a non-empty text for name/);
      await expect(cat.createIndividual('x'.repeat(201), '', 'ann')).rejects.toThrow(/Expected at most 200 characters for name but received "201 characters"/);
      await expect(cat.addPhoto(await scenePhoto(2), { originalName: 'a.jpg', takenOn: '2019-02-30' })).rejects.toThrow(/Expected a date YYYY-MM-DD .* for takenOn but received "2019-02-30"/);
      await expect(cat.addPhoto(await scenePhoto(2), { originalName: 'a.jpg', box: { x0: 10, y0: 10, x1: 5, y1: 20 } })).rejects.toThrow(/box .*expected x0 < x1/);
      expect((await cat.listPhotos({})).total).toBe(0);
      await cat.close();
    });
  });
}

