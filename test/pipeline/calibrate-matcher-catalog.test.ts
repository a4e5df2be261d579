/**
 * `whaleid model calibrate --matcher K --catalog`: any matcher calibrated by evaluate-open's
 * protocol on the photos a person identified in a catalog (confirm and new-individual decisions
 * in force: undone ones left out, merged individuals followed, imports only with --with-imports);
 * the threshold fitted there identifies held-out photos through predict, where the untrained
 * default does not.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import { catalogLabels } from '../../src/pipeline/catalog-labels.js';
import { readMatcherCalibration } from '../../src/infer/matchers/matcher-calibration.js';
import { DEFAULT_NEW_WHALE_THRESHOLD } from '../../src/infer/walk.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { runCli } from '../helpers/cli.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';

const MODELS = path.resolve(import.meta.dirname, '../fixtures/embedding-models');
const INDIVIDUALS = 8;

/** The j-th photo of scene k: one scene cut and encoded differently (a random-weight network tells scenes apart). */
async function shot(k: number, j: number): Promise<Buffer> {
  return sharp(await scenePhoto(700 + k, 360, 240)).extract({ left: 7 * j, top: 4 * j, width: 330, height: 215 }).jpeg({ quality: 55 + 10 * j }).toBuffer();
}

/**
 * Fills a catalog the way reviewers do: photos uploaded pending, then decided. Scene k is
 * individual k: its first photo a new individual, the others confirmed; scene 7's photos were
 * first split over two individuals, then merged; a photo of scene 8 was wrongly confirmed as
 * scene 0's individual and the decision undone; scene 9 came in an import with its individual.
 *
 * @returns the individual of each scene (after the merge)
 */
async function review(catalog: Catalog): Promise<Map<number, number>> {
  const by = { by: 'ann' };
  const ids = new Map<number, number>();
  for (let k = 0; k < INDIVIDUALS; k++) {
    for (let j = 0; j < 3; j++) {
      const { photo } = await catalog.addPhoto(await shot(k, j), { originalName: `s${k}-${j}.jpg`, uploadedBy: 'field' });
      if (k === 7 && j === 1) {
        const split = (await catalog.newIndividual(photo.id, 'seven-bis', '', by)).individual.id;
        await catalog.merge(ids.get(7)!, split, by);
      } else if (j === 0) ids.set(k, (await catalog.newIndividual(photo.id, `whale ${k}`, '', by)).individual.id);
      else await catalog.confirm(photo.id, ids.get(k)!, { ...by, score: 0.9 });
    }
  }
  const wrong = await catalog.addPhoto(await shot(8, 0), { originalName: 's8-0.jpg', uploadedBy: 'field' });
  await catalog.confirm(wrong.photo.id, ids.get(0)!, by);
  await catalog.undo(wrong.photo.id, by);
  const imported = await catalog.createIndividual('imported whale', '', 'import');
  for (let j = 0; j < 2; j++) await catalog.addPhoto(await shot(9, j), { originalName: `s9-${j}.jpg`, uploadedBy: 'import', individualId: imported.id });
  return ids;
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('the catalog labels a calibration takes', backend), () => {
    const dir = tmpDir(`whaleid-catalog-labels-${backend.name}-`);
    let catalog: Catalog;
    afterAll(async () => catalog?.close());

    it("takes the photos a person's decision identified, follows merges and undos, and imports only when asked", async () => {
      const where = await backend.location(dir, 'labels');
      catalog = await openCatalog(where.catalog, { photoDir: where.photoDir, create: true });
      const ids = await review(catalog);
      const decided = await catalogLabels(catalog);
      expect(decided.labels).toHaveLength(3 * INDIVIDUALS);
      expect(decided.individuals).toBe(INDIVIDUALS);
      expect(decided.importsLeftOut).toBe(2);
      expect(decided.labels.every((l) => l.by === 'decision')).toBe(true);
      // the merged individual holds its three photos; the undone confirmation left no label
      expect(decided.labels.filter((l) => l.individualId === ids.get(7))).toHaveLength(3);
      expect(decided.labels.filter((l) => l.individualId === ids.get(0))).toHaveLength(3);
      const all = await catalogLabels(catalog, { imports: true });
      expect(all.labels).toHaveLength(3 * INDIVIDUALS + 2);
      expect(all.labels.filter((l) => l.by === 'import')).toHaveLength(2);
    }, 120_000);
  });
}

describe('model calibrate --matcher --catalog (SQLite)', () => {
  const dir = tmpDir('whaleid-calibrate-matcher-');
  const db = path.join(dir, 'reviewed.db');
  const resnet = path.join(dir, 'resnet');
  const effnet = path.join(dir, 'effnet');

  beforeAll(async () => {
    const catalog = await openCatalog(db, { create: true });
    await review(catalog);
    await catalog.close();
    for (const [name, out] of [['resnet', resnet], ['effnet', effnet]]) {
      const r = await runCli('model', 'import', '--onnx', path.join(MODELS, `${name}.onnx`), '--out', out, '--resize', 'crop', '--threads', '1');
      expect(r.code, r.err).toBe(0);
    }
    // the imported model's own cosine curve first, fitted on the same decisions (the photos
    // imported with their individual left out)
    const cosine = await runCli('model', 'calibrate', '--model', resnet, '--catalog', db, '--threads', '1', '--quiet');
    expect(cosine.code, cosine.err).toBe(0);
    expect(cosine.out).toMatch(/24 photos of 8 individuals/);
  }, 120_000);

  it('fits the learned score\'s threshold on the decisions; predict identifies held-out photos with it, and not with the untrained default', async () => {
    const out = path.join(dir, 'siamese.matcher.json');
    const r = await runCli('model', 'calibrate', '--model', resnet, '--matcher', 'siamese', '--catalog', db, '--out', out, '--split-seed', '3', '--threads', '1', '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/siamese\.matcher\.json: --matcher siamese threshold [\d.]+ \(calibration part: \d+ queries.*; 24 photos, 8 individuals with 2\+ photos split$/);
    const cal = await readMatcherCalibration(out, 'siamese');
    expect(cal.threshold).not.toBeCloseTo(DEFAULT_NEW_WHALE_THRESHOLD, 3);

    // held out: a fourth photo of each reviewed individual, and two scenes the catalog never saw
    const data = path.join(dir, 'held-out');
    mkdirSync(path.join(data, 'train'), { recursive: true });
    mkdirSync(path.join(data, 'test'), { recursive: true });
    const rows = ['Image,Id'];
    for (let k = 0; k < INDIVIDUALS; k++) {
      for (let j = 0; j < 3; j++) {
        writeFileSync(path.join(data, 'train', `s${k}-${j}.jpg`), await shot(k, j));
        rows.push(`s${k}-${j}.jpg,w${k}`);
      }
      writeFileSync(path.join(data, 'test', `q${k}.jpg`), await shot(k, 3));
    }
    for (const k of [20, 21]) writeFileSync(path.join(data, 'test', `new${k}.jpg`), await shot(k, 0));
    writeFileSync(path.join(data, 'train.csv'), `${rows.join('\n')}\n`);
    const firstOf = async (name: string, args: string[]): Promise<Map<string, string>> => {
      const sub = path.join(dir, `${name}.csv`);
      const p = await runCli('predict', '--model', resnet, '--data', data, '--out', sub, '--box-model', 'none', '--quiet', ...args);
      expect(p.code, p.err).toBe(0);
      return new Map(readFileSync(sub, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')).map(([image, ids]) => [image, ids.split(' ')[0]]));
    };
    const calibrated = await firstOf('calibrated', ['--matcher-calibration', out]);
    for (let k = 0; k < INDIVIDUALS; k++) expect(calibrated.get(`q${k}.jpg`), `q${k}`).toBe(`w${k}`);
    // a random-weight network scores scene 21 against scene 1 at 0.72, above what 8 individuals
    // fit (about 0.5 here): that one stays a miss; scene 20 is told new
    expect(calibrated.get('new20.jpg')).toBe('new_whale');
    // the untrained default threshold (0.99) sends held-out photos of known individuals to new_whale
    const untrained = await firstOf('untrained', ['--threshold', String(DEFAULT_NEW_WHALE_THRESHOLD)]);
    const known = (m: Map<string, string>): number => [...m].filter(([image, id]) => image.startsWith('q') && id === `w${image.slice(1, -4)}`).length;
    expect(known(calibrated)).toBe(INDIVIDUALS);
    expect(known(untrained)).toBeLessThan(INDIVIDUALS);
    // the same calibration on a labelled dataset (the held-out folder's labelled photos)
    const byData = await runCli('model', 'calibrate', '--model', resnet, '--matcher', 'siamese', '--data', data, '--out', path.join(dir, 'by-data.matcher.json'), '--threads', '1', '--quiet');
    expect(byData.code, byData.err).toBe(0);
    expect(byData.out).toMatch(/by-data\.matcher\.json: --matcher siamese threshold .*; 24 photos, 8 individuals with 2\+ photos split$/);
  }, 300_000);

  it('fits the fusion of several learned models (fused-learned) and of one with local (fused)', async () => {
    const fl = await runCli('model', 'calibrate', '--model', resnet, '--model', effnet, '--matcher', 'fused-learned', '--catalog', db, '--threads', '1', '--quiet');
    expect(fl.code, fl.err).toBe(0);
    const learned = await readMatcherCalibration(path.join(resnet, 'fused-learned.matcher.json'), 'fused-learned');
    expect(learned.fusion).toBeDefined();
    const fused = await runCli('model', 'calibrate', '--model', resnet, '--matcher', 'fused', '--catalog', db, '--with-imports', '--threads', '1', '--quiet');
    expect(fused.code, fused.err).toBe(0);
    expect(fused.out).toMatch(/; 26 photos, 9 individuals with 2\+ photos split$/);
    expect((await readMatcherCalibration(path.join(resnet, 'fused.matcher.json'), 'fused')).fusion).toBeDefined();
  }, 300_000);

  it('refuses an existing file without --force, a model count the matcher does not take, and too few identified individuals, each in one line', async () => {
    const again = await runCli('model', 'calibrate', '--model', resnet, '--matcher', 'fused-learned', '--model', effnet, '--catalog', db, '--quiet');
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/fused-learned\.matcher\.json.*--force/);
    const one = await runCli('model', 'calibrate', '--model', resnet, '--matcher', 'fused-learned', '--catalog', db, '--out', path.join(dir, 'x.json'), '--quiet');
    expect(one.code).toBe(2);
    expect(one.err).toMatch(/--matcher fused-learned takes 2 or more --model, got 1/);

    const small = path.join(dir, 'small.db');
    const c = await openCatalog(small, { create: true });
    const first = await c.addPhoto(await shot(0, 0), { originalName: 'a.jpg', uploadedBy: 'field' });
    const ind = (await c.newIndividual(first.photo.id, 'only', '', { by: 'ann' })).individual.id;
    const second = await c.addPhoto(await shot(0, 1), { originalName: 'b.jpg', uploadedBy: 'field' });
    await c.confirm(second.photo.id, ind, { by: 'ann' });
    await c.close();
    const few = await runCli('model', 'calibrate', '--model', resnet, '--matcher', 'siamese', '--catalog', small, '--out', path.join(dir, 'few.json'), '--quiet');
    expect(few.code).toBe(2);
    expect(few.err.trim().split('\n')).toHaveLength(1);
    expect(few.err).toMatch(/small\.db: 2 photos of 1 individuals identified by a person's decision \(1 with 2 photos or more\); calibrating --matcher siamese needs individuals with 2 photos or more in both its calibration and its test part/);
    expect(existsSync(path.join(dir, 'few.json'))).toBe(false);
  }, 120_000);
});
