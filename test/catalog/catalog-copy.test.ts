import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import { backupCatalog, copyCatalog } from '../../src/catalog/catalog-copy.js';
import { importDataset } from '../../src/catalog/catalog-import.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { exifPhoto, scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import { BACKENDS, newPostgresDatabase, onBackend } from '../helpers/backends.js';

// issue 21: a catalog moves from SQLite to PostgreSQL and back (`whaleid catalog copy`), losing nothing
const dir = tmpDir('whaleid-copy-');
const postgres = BACKENDS.find((b) => b.name === 'postgres')!;
const TABLES = ['individuals', 'encounters', 'photos', 'annotations', 'features', 'annotation_features', 'decisions', 'users', 'user_changes'];

/** Every row of every table of a SQLite catalog, as stored. */
function tablesOf(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    return Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY ${t === 'features' ? 'photo_id, model_version' : t === 'annotation_features' ? 'annotation_id, model_version' : 'id'}`).all()]));
  } finally {
    db.close();
  }
}

/** A catalog with every kind of row: imports, uploads with dates and places, sightings, decisions of each kind (a merge into a later individual, an undo), features. */
async function richCatalog(file: string): Promise<void> {
  const data = path.join(dir, 'synth');
  await generateSynthCatalog({ out: data, individuals: 4, photosPerIndividual: 2, seed: 12 });
  const cat = await openCatalog(file);
  await importDataset(cat, data);
  const early = await cat.createIndividual('Early', 'merged into a later one', 'ann');
  const a = (await cat.addPhoto(await exifPhoto(40, { takenAt: '2021:07:03 09:00:00', latitude: -25.1, longitude: 152.9 }), { originalName: "o'brien.jpg", location: 'Hervey Bay', uploadedBy: 'ann' })).photo;
  const b = (await cat.addPhoto(await scenePhoto(41), { originalName: 'b.jpg', box: { x0: 10, y0: 10.5, x1: 200, y1: 150 } })).photo;
  await cat.groupIntoEncounters([a.id, b.id], { by: 'ann', sameUpload: true });
  // a second animal in a photo, with what only annotations hold (issue 31)
  await cat.addAnnotation(b.id, { box: { x: 100.5, y: 20, w: 60, h: 40 }, theta: 0.25, species: 'Megaptera novaeangliae', viewpoint: 'left', individualName: 'Second', individualUuid: 'u-second', uuid: 'a-second' }, 'ann');
  const late = await cat.newIndividual(a.id, 'Late', 'a note; with "quotes"', { by: 'bob', score: 0.25, modelVersion: 'm@1' });
  await cat.confirm(b.id, early.id, { by: 'cy', score: 0.9 });
  await cat.undo(b.id, { by: 'cy' });
  await cat.skip(b.id, { by: 'cy' });
  await cat.merge(late.individual.id, early.id, { by: 'ann' });
  await cat.putFeatures('m@1', [{ photoId: a.id, vector: Float32Array.from([0.1, -2.5, 3e-8, Math.PI]) }, { photoId: b.id, vector: new Float32Array(8).fill(1 / 3) }]);
  // accounts (issue 31 item 5): a valid and a revoked user travel with the catalog, and who changed them
  await cat.addUser('rita', 'read-only', 'ann');
  await cat.addUser('rev', 'reviewer', 'ann');
  await cat.revokeUser('rev', 'ann');
  await cat.close();
}

describe.skipIf(postgres.skip !== '')(onBackend('catalog copy between SQLite and PostgreSQL', postgres), () => {
  const source = path.join(dir, 'source.db');
  let url: string;
  beforeAll(async () => {
    await richCatalog(source);
    url = await newPostgresDatabase('copy');
  }, 120_000);

  it('moves a catalog to PostgreSQL and back losing nothing: every row, id and byte, every photo file', async () => {
    const pgPhotos = path.join(dir, 'pg-photos');
    const there = await copyCatalog(source, url, { toPhotos: pgPhotos });
    const before = tablesOf(source);
    expect(there.rows).toEqual(Object.fromEntries(TABLES.map((t) => [t, before[t].length])));
    expect(there.photosCopied).toBe(before.photos.length);
    // the PostgreSQL catalog works as the SQLite one did, and its ids continue after the copied ones
    const cat: Catalog = await openCatalog(url, { photoDir: pgPhotos });
    const merged = (await cat.listIndividuals({ search: 'Early' })).total;
    expect(merged).toBe(0); // merged: not listed
    expect((await cat.individualByName('Early'))!.mergedInto).toBe((await cat.individualByName('Late'))!.id);
    expect((await cat.decisions({ limit: 1000 })).map((d) => d.action).slice(0, 4)).toEqual(['merge', 'skip', 'undo', 'confirm']);
    const next = await cat.createIndividual(null, '', 'dan');
    expect(next.id).toBe(Math.max(...before.individuals.map((r) => (r as { id: number }).id)) + 1);
    for (const p of (await cat.listPhotos({ limit: 1000 })).items) expect(existsSync(cat.photoFile(p))).toBe(true);
    await cat.close();

    // and back into a new SQLite file: the same rows as the original, plus the one made there
    const back = path.join(dir, 'back.db');
    const home = await copyCatalog(url, back, { fromPhotos: pgPhotos });
    expect(home.photosCopied).toBe(before.photos.length);
    const after = tablesOf(back);
    expect({ ...after, individuals: after.individuals.slice(0, -1) }).toEqual(before);
    expect(after.individuals.at(-1)).toMatchObject({ id: next.id, name: next.name });
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('refuses a target that holds a catalog unless --force, and one that is the source', async () => {
    const target = await newPostgresDatabase('copy_again');
    const photos = path.join(dir, 'pg-photos-2');
    await copyCatalog(source, target, { toPhotos: photos });
    await expect(copyCatalog(source, target, { toPhotos: photos })).rejects.toThrow(/holds a catalog already \(\d+ rows\); a copy never mixes two catalogs: give an empty target, or --force/);
    const forced = await copyCatalog(source, target, { toPhotos: photos, force: true });
    expect(forced.photosCopied).toBe(0);
    await expect(copyCatalog(source, path.join(dir, '.', 'source.db'))).rejects.toThrow(/the same catalog as --from/);
  });

  it('copies nothing when a photo file is missing or damaged, and says which', async () => {
    const broken = path.join(dir, 'broken.db');
    const cat = await openCatalog(broken);
    const { photo } = await cat.addPhoto(await scenePhoto(50), { originalName: 'gone.jpg' });
    const file = cat.photoFile(photo);
    await cat.close();
    rmSync(file);
    const target = await newPostgresDatabase('copy_broken');
    await expect(copyCatalog(broken, target, { toPhotos: path.join(dir, 'pg-photos-3') })).rejects.toThrow(new RegExp(`${photo.sha256}\\.jpg: photo file missing .*nothing was copied`));
    const empty = await openCatalog(target, { photoDir: path.join(dir, 'pg-photos-3') });
    expect((await empty.listPhotos({})).total).toBe(0);
    await empty.close();
    // to SQLite: no file is left behind
    await expect(copyCatalog(broken, path.join(dir, 'never.db'))).rejects.toThrow(/photo file missing/);
    expect(existsSync(path.join(dir, 'never.db'))).toBe(false);
    expect(existsSync(path.join(dir, 'never.db.partial'))).toBe(false);
  });

  it('backs a PostgreSQL catalog up into a new SQLite file with its photos, through the CLI too, never over a file', async () => {
    const target = await newPostgresDatabase('backup');
    const photos = path.join(dir, 'pg-photos-backup');
    await copyCatalog(source, target, { toPhotos: photos });
    const dest = path.join(dir, 'pg-backup.db');
    const { photos: copied } = await backupCatalog(target, dest, { photos });
    const before = tablesOf(source);
    expect(copied).toBe(before.photos.length);
    expect(tablesOf(dest)).toEqual(before);
    const restored = await openCatalog(dest, { readonly: true });
    for (const p of (await restored.listPhotos({ limit: 1000 })).items) expect(existsSync(restored.photoFile(p))).toBe(true);
    await restored.close();
    await expect(backupCatalog(target, dest, { photos })).rejects.toThrow(/pg-backup\.db exists already: a backup never overwrites a file/);
    await expect(backupCatalog(target, path.join(dir, 'x.db'))).rejects.toThrow(/give it with --photos DIR/);
    const viaCli = path.join(dir, 'pg-backup-cli.db');
    const r = await runCli('catalog', 'backup', '--catalog', target, '--photos', photos, '--out', viaCli);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^backed up postgres:\/\/\S+ to .*pg-backup-cli\.db \(\d+ photos copied to .*pg-backup-cli\.db\.photos\)/);
    expect(tablesOf(viaCli)).toEqual(before);
  });

  it('copies through the CLI, and serves, imports and exports a PostgreSQL catalog named by URL', async () => {
    const target = await newPostgresDatabase('copy_cli');
    const photos = path.join(dir, 'pg-photos-cli');
    const r = await runCli('catalog', 'copy', '--from', source, '--to', target, '--to-photos', photos, '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^copied .*source\.db to postgres:\/\/.*: \d+ individuals, \d+ encounters, \d+ photos, \d+ annotations, 2 features, 0 annotation_features, \d+ decisions, 2 users, 3 user_changes; \d+ photo files copied, \d+ checked \(SHA-256\); row counts and contents checked/);
    const again = await runCli('catalog', 'copy', '--from', source, '--to', target, '--to-photos', photos);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/^whaleid: postgres:\/\/\S+: holds a catalog already/);
    const csv = path.join(dir, 'pg.csv');
    const exp = await runCli('catalog', 'export', '--catalog', target, '--photos', photos, '--out', csv);
    expect(exp.code, exp.err).toBe(0);
    const lite = path.join(dir, 'lite.csv');
    expect((await runCli('catalog', 'export', '--catalog', source, '--out', lite)).code).toBe(0);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(csv, 'utf8')).toBe(readFileSync(lite, 'utf8'));
    const noPhotos = await runCli('catalog', 'export', '--catalog', target, '--out', path.join(dir, 'x.csv'));
    expect(noPhotos.code).toBe(2);
    expect(noPhotos.err).toMatch(/a PostgreSQL catalog keeps its photos in a folder every service process shares; give it with --photos DIR/);
    // the catalog and its photo folder from the environment, as service processes are configured
    process.env.WHALEID_DATABASE_URL = target;
    process.env.WHALEID_PHOTOS = photos;
    try {
      const fromEnv = await runCli('catalog', 'export', '--out', path.join(dir, 'env.csv'));
      expect(fromEnv.code, fromEnv.err).toBe(0);
      expect(readFileSync(path.join(dir, 'env.csv'), 'utf8')).toBe(readFileSync(lite, 'utf8'));
    } finally {
      delete process.env.WHALEID_DATABASE_URL;
      delete process.env.WHALEID_PHOTOS;
    }
  });
});
