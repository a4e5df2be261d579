import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parse } from 'csv-parse/sync';
import { createRng } from '../../src/util/random.js';
import { WhaleidError } from '../../src/util/errors.js';
import {
  drawIndividual,
  drawPhotoScene,
  flukeMaskSvg,
  generateSynthCatalog,
  planCatalog,
  renderPhoto,
  type SynthSummary,
} from '../../src/data/synth/index.js';

const NAME = /^[0-9a-f]{9}\.jpg$/;
const ID = /^w_[0-9a-f]{7}$/;

async function readCsv(file: string): Promise<string[][]> {
  return parse(await fs.readFile(file, 'utf8')) as string[][];
}

async function hashes(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sub of ['', 'train', 'test']) {
    for (const f of await fs.readdir(path.join(dir, sub))) {
      const p = path.join(dir, sub, f);
      if ((await fs.stat(p)).isFile()) out.set(path.join(sub, f), createHash('sha256').update(await fs.readFile(p)).digest('hex'));
    }
  }
  return out;
}

/** The first seed whose 10-whale plan has an exact duplicate, a resized one and an upside-down photo. */
function seedWithEverything(): number {
  for (let seed = 0; seed < 5000; seed++) {
    const photos = planCatalog(10, 3, 0.3, seed).photos;
    if (photos.some((p) => p.resize === 1) && photos.some((p) => p.resize !== undefined && p.resize < 1) && photos.some((p) => p.upsideDown)) return seed;
  }
  throw new Error('no seed found');
}

describe('synth plan (split rule)', () => {
  const plan = planCatalog(3000, 3, 0.3, 11);
  const base = plan.photos.filter((p) => p.duplicateOf === undefined);
  const test = plan.photos.filter((p) => p.set === 'test');
  const trainIds = new Set(plan.photos.filter((p) => p.set === 'train').map((p) => p.label));

  it('splits about a quarter of the photos to test, about 30% of them new whales', () => {
    const baseTest = base.filter((p) => p.set === 'test').length;
    expect(baseTest / base.length).toBeGreaterThan(0.22);
    expect(baseTest / base.length).toBeLessThan(0.28);
    const share = test.filter((p) => p.label === 'new_whale').length / test.length;
    expect(share).toBeGreaterThan(0.26);
    expect(share).toBeLessThan(0.34);
  });

  it('has a skewed photo count per whale with mean near the request', () => {
    const counts = new Map<number, number>();
    for (const p of base) counts.set(p.individual, (counts.get(p.individual) ?? 0) + 1);
    const values = [...counts.values()];
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(mean).toBeGreaterThan(2.7);
    expect(mean).toBeLessThan(3.3);
    expect(values.filter((v) => v <= 3).length / values.length).toBeGreaterThan(0.6);
    expect(Math.max(...values)).toBeGreaterThanOrEqual(12);
  });

  it('labels test photos new_whale exactly when their whale id is not in train', () => {
    for (const p of test) {
      const id = plan.ids[p.individual];
      expect(p.label).toBe(trainIds.has(id) ? id : 'new_whale');
    }
    // Every known test whale keeps at least one identified train photo.
    for (const p of test) if (p.label !== 'new_whale') expect(trainIds.has(p.label)).toBe(true);
  });

  it('has new_whale rows in train, duplicates and upside-down photos at about the requested rates', () => {
    const train = plan.photos.filter((p) => p.set === 'train');
    expect(train.filter((p) => p.label === 'new_whale').length / train.length).toBeGreaterThan(0.05);
    const exact = plan.photos.filter((p) => p.resize === 1).length / base.length;
    const resized = plan.photos.filter((p) => p.resize !== undefined && p.resize < 1).length / base.length;
    const upside = base.filter((p) => p.upsideDown).length / base.length;
    expect(exact).toBeGreaterThan(0.012);
    expect(exact).toBeLessThan(0.028);
    expect(resized).toBeGreaterThan(0.005);
    expect(resized).toBeLessThan(0.016);
    expect(upside).toBeGreaterThan(0.012);
    expect(upside).toBeLessThan(0.028);
  });

  it('gives unique 9-hex names and w_ ids', () => {
    expect(new Set(plan.photos.map((p) => p.name)).size).toBe(plan.photos.length);
    for (const p of plan.photos) expect(p.name).toMatch(NAME);
    for (const id of plan.ids) expect(id).toMatch(ID);
  });
});

describe('synth photo scenes', () => {
  it('puts the box tightly around the visible fluke (checked against a rendered mask)', async () => {
    for (let i = 0; i < 8; i++) {
      const scene = drawPhotoScene(drawIndividual(`box-${i}`, 'w_0000001'), createRng(5).fork(`scene:${i}`));
      const { data, info } = await sharp(Buffer.from(flukeMaskSvg(scene))).greyscale().raw().toBuffer({ resolveWithObject: true });
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -1;
      let y1 = -1;
      for (let y = 0; y < info.height; y++) {
        for (let x = 0; x < info.width; x++) {
          if (data[(y * info.width + x) * info.channels] > 127) {
            x0 = Math.min(x0, x);
            x1 = Math.max(x1, x);
            y0 = Math.min(y0, y);
            y1 = Math.max(y1, y);
          }
        }
      }
      const [bx0, by0, bx1, by1] = scene.box;
      expect(bx0).toBeGreaterThanOrEqual(0);
      expect(by0).toBeGreaterThanOrEqual(0);
      expect(bx1).toBeLessThan(scene.width);
      expect(by1).toBeLessThan(scene.height);
      for (const [a, b] of [[bx0, x0], [by0, y0], [bx1, x1], [by1, y1]]) expect(Math.abs(a - b)).toBeLessThanOrEqual(2);
      // The visible fluke spans 30-80% of the frame width (less only when the height limits it).
      expect((bx1 - bx0) / scene.width).toBeLessThanOrEqual(0.81);
    }
  });

  it('turns the box with an upside-down photo', async () => {
    const scene = drawPhotoScene(drawIndividual('rot', 'w_0000002'), createRng(3).fork('scene'));
    const up = await renderPhoto(scene);
    const down = await renderPhoto(scene, { upsideDown: true });
    const [x0, y0, x1, y1] = up.box;
    expect(down.box).toEqual([scene.width - 1 - x1, scene.height - 1 - y1, scene.width - 1 - x0, scene.height - 1 - y0]);
    // Same picture up to JPEG and noise: compare 16x16 block means of the photo and of the turned
    // photo read backwards (pixel (x, y) of one is pixel (w-1-x, h-1-y) of the other).
    const a = await sharp(up.jpeg).greyscale().raw().toBuffer();
    const b = await sharp(down.jpeg).greyscale().raw().toBuffer();
    const blockDiff = (turned: boolean): number => {
      let total = 0;
      let blocks = 0;
      for (let by = 0; by + 16 <= scene.height; by += 16) {
        for (let bx = 0; bx + 16 <= scene.width; bx += 16) {
          let d = 0;
          for (let y = by; y < by + 16; y++) for (let x = bx; x < bx + 16; x++) {
            const i = y * scene.width + x;
            d += a[i] - b[turned ? a.length - 1 - i : i];
          }
          total += Math.abs(d / 256);
          blocks++;
        }
      }
      return total / blocks;
    };
    expect(blockDiff(true)).toBeLessThan(0.5);
    expect(blockDiff(false)).toBeGreaterThan(5);
  });

  it('draws about 15% greyscale photos and keeps sizes in range', () => {
    const whale = drawIndividual('grey', 'w_0000003');
    let grey = 0;
    const n = 300;
    for (let i = 0; i < n; i++) {
      const s = drawPhotoScene(whale, createRng(8).fork(i));
      if (s.effects.greyscale) grey++;
      expect(s.width).toBeGreaterThanOrEqual(500);
      expect(s.width).toBeLessThanOrEqual(900);
      expect(s.effects.quality).toBeGreaterThanOrEqual(60);
      expect(s.effects.quality).toBeLessThanOrEqual(95);
    }
    expect(grey / n).toBeGreaterThan(0.1);
    expect(grey / n).toBeLessThan(0.2);
  });

  it('saves greyscale photos as one-channel JPEGs and colour photos as three', async () => {
    const whale = drawIndividual('channels', 'w_0000004');
    const scenes = Array.from({ length: 40 }, (_, i) => drawPhotoScene(whale, createRng(2).fork(i)));
    for (const scene of [scenes.find((s) => s.effects.greyscale), scenes.find((s) => !s.effects.greyscale)]) {
      expect(scene).toBeDefined();
      const photo = await renderPhoto(scene!);
      const meta = await sharp(photo.jpeg).metadata();
      expect(meta.channels).toBe(scene!.effects.greyscale ? 1 : 3);
      expect([meta.width, meta.height]).toEqual([scene!.width, scene!.height]);
    }
  });
});

describe('generateSynthCatalog', () => {
  let tmp = '';
  let seed = 0;
  let summary: SynthSummary;
  const out = (): string => path.join(tmp, 'a');

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'whaleid-synth-'));
    seed = seedWithEverything();
    summary = await generateSynthCatalog({ out: out(), individuals: 10, seed });
  });
  afterAll(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('writes the Kaggle layout with CSVs that match the files on disk', async () => {
    const trainFiles = (await fs.readdir(path.join(out(), 'train'))).sort();
    const testFiles = (await fs.readdir(path.join(out(), 'test'))).sort();
    const train = await readCsv(path.join(out(), 'train.csv'));
    const truth = await readCsv(path.join(out(), 'test_truth.csv'));
    const sample = await readCsv(path.join(out(), 'sample_submission.csv'));
    const boxes = await readCsv(path.join(out(), 'bounding_boxes.csv'));
    expect(train[0]).toEqual(['Image', 'Id']);
    expect(truth[0]).toEqual(['Image', 'Id']);
    expect(sample[0]).toEqual(['Image', 'Id']);
    expect(boxes[0]).toEqual(['Image', 'x0', 'y0', 'x1', 'y1']);
    expect(train.slice(1).map((r) => r[0])).toEqual(trainFiles);
    expect(truth.slice(1).map((r) => r[0])).toEqual(testFiles);
    expect(sample.slice(1).map((r) => r[0])).toEqual(testFiles);
    expect(boxes.slice(1).map((r) => r[0]).sort()).toEqual([...trainFiles, ...testFiles].sort());
    expect(summary.trainPhotos).toBe(trainFiles.length);
    expect(summary.testPhotos).toBe(testFiles.length);
    expect(summary.individuals).toBe(10);
    for (const f of [...trainFiles, ...testFiles]) expect(f).toMatch(NAME);
    for (const [, id] of [...train.slice(1), ...truth.slice(1)]) expect(id === 'new_whale' || ID.test(id)).toBe(true);
    const trainIds = new Set(train.slice(1).map((r) => r[1]));
    for (const [, id] of truth.slice(1)) if (id !== 'new_whale') expect(trainIds.has(id)).toBe(true);
    for (const [, pred] of sample.slice(1)) {
      const parts = pred.split(' ');
      expect(parts[0]).toBe('new_whale');
      expect(parts.length).toBeLessThanOrEqual(5);
      for (const p of parts.slice(1)) expect(trainIds.has(p)).toBe(true);
    }
    const share = truth.slice(1).filter((r) => r[1] === 'new_whale').length / (truth.length - 1);
    expect(summary.newWhaleTestShare).toBeCloseTo(share, 10);
  });

  it('writes boxes inside each photo', async () => {
    const boxes = await readCsv(path.join(out(), 'bounding_boxes.csv'));
    const sets = new Map<string, string>();
    for (const f of await fs.readdir(path.join(out(), 'train'))) sets.set(f, 'train');
    for (const f of await fs.readdir(path.join(out(), 'test'))) sets.set(f, 'test');
    for (const [name, ...coords] of boxes.slice(1)) {
      const [x0, y0, x1, y1] = coords.map(Number);
      const meta = await sharp(path.join(out(), sets.get(name) as string, name)).metadata();
      for (const v of [x0, y0, x1, y1]) expect(Number.isInteger(v)).toBe(true);
      expect(x0).toBeGreaterThanOrEqual(0);
      expect(y0).toBeGreaterThanOrEqual(0);
      expect(x1).toBeLessThan(meta.width as number);
      expect(y1).toBeLessThan(meta.height as number);
      expect(x1 - x0).toBeGreaterThan(0.2 * (meta.width as number));
      expect(y1 - y0).toBeGreaterThan(10);
    }
  });

  it('lists duplicates with the same Id and rotated photos that exist', async () => {
    const dups = await readCsv(path.join(out(), 'duplicates.csv'));
    expect(dups[0]).toEqual(['Image', 'DuplicateOf']);
    expect(dups.length).toBeGreaterThan(2);
    const labels = new Map<string, string>();
    const where = new Map<string, string>();
    for (const set of ['train', 'test']) {
      const rows = await readCsv(path.join(out(), set === 'train' ? 'train.csv' : 'test_truth.csv'));
      for (const [img, id] of rows.slice(1)) {
        labels.set(img, id);
        where.set(img, path.join(out(), set, img));
      }
    }
    let exact = 0;
    for (const [img, of] of dups.slice(1)) {
      expect(labels.get(img)).toBe(labels.get(of));
      const a = await fs.readFile(where.get(img) as string);
      const b = await fs.readFile(where.get(of) as string);
      if (a.equals(b)) exact++;
      else expect((await sharp(a).metadata()).width).toBeLessThan((await sharp(b).metadata()).width as number);
    }
    expect(exact).toBeGreaterThan(0);
    const rotated = (await fs.readFile(path.join(out(), 'rotate.txt'), 'utf8')).split('\n').filter(Boolean);
    expect(rotated.length).toBeGreaterThan(0);
    for (const r of rotated) expect(where.has(r)).toBe(true);
  });

  it('is byte-identical for the same seed and differs for another seed', async () => {
    const again = path.join(tmp, 'b');
    const other = path.join(tmp, 'c');
    await generateSynthCatalog({ out: again, individuals: 10, seed, concurrency: 3 });
    await generateSynthCatalog({ out: other, individuals: 10, seed: seed + 1 });
    const h1 = await hashes(out());
    const h2 = await hashes(again);
    expect([...h2.entries()]).toEqual([...h1.entries()]);
    const h3 = await hashes(other);
    expect(h3.get('train.csv')).not.toBe(h1.get('train.csv'));
    const jpegs = (h: Map<string, string>): string[] => [...h.entries()].filter(([f]) => f.endsWith('.jpg')).map(([, v]) => v);
    const shared = jpegs(h1).filter((v) => jpegs(h3).includes(v));
    expect(shared.length).toBe(0);
    // A rerun into an earlier synth folder replaces it completely (no stale photos left).
    await generateSynthCatalog({ out: again, individuals: 10, seed: seed + 1 });
    expect([...(await hashes(again)).entries()]).toEqual([...h3.entries()]);
  });

  it('refuses bad options and a foreign non-empty folder with one-line WhaleidErrors', async () => {
    const bad: Array<Record<string, unknown>> = [
      { out: '', individuals: 3 },
      { out: path.join(tmp, 'x'), individuals: 0 },
      { out: path.join(tmp, 'x'), individuals: 2.5 },
      { out: path.join(tmp, 'x'), individuals: '3' },
      { out: path.join(tmp, 'x'), individuals: 3, photosPerIndividual: 0.5 },
      { out: path.join(tmp, 'x'), individuals: 3, newShare: 1.5 },
      { out: path.join(tmp, 'x'), individuals: 3, seed: -1 },
      { out: path.join(tmp, 'x'), individuals: 3, concurrency: 0 },
    ];
    for (const options of bad) {
      const err = await generateSynthCatalog(options as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WhaleidError);
      expect((err as Error).message).not.toContain('\n');
    }
    await expect(fs.access(path.join(tmp, 'x'))).rejects.toThrow();
    // A folder with other content (a real dataset, say) is never touched.
    const foreign = path.join(tmp, 'foreign');
    await fs.mkdir(path.join(foreign, 'train'), { recursive: true });
    await fs.writeFile(path.join(foreign, 'train.csv'), 'Image,Id\n');
    const err = await generateSynthCatalog({ out: foreign, individuals: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WhaleidError);
    expect((err as Error).message).toMatch(/not empty/);
    expect(await fs.readFile(path.join(foreign, 'train.csv'), 'utf8')).toBe('Image,Id\n');
  });
});
