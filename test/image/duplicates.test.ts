import { describe, it, expect } from 'vitest';
import { writeFileSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { findDuplicates, pixelMse } from '../../src/image/duplicates.js';
import { createImageCache } from '../../src/image/image-cache.js';
import { hashFromPixels32, hammingDistance, hashToHex, perceptualHash } from '../../src/image/phash.js';
import { decodeGrey } from '../../src/image/decode.js';
import { tmpDir, SHARED_DATASETS } from '../helpers/tmp.js';
import { sharedFixture } from '../helpers/fixtures.js';
import { createRng } from '../../src/util/random.js';
import { scenePhoto, sceneSvg } from '../helpers/photos.js';
import { runCli } from '../helpers/cli.js';

describe('perceptual hash', () => {
  it('matches a direct evaluation of the 2-D DCT-II and the median rule', () => {
    const rng = createRng(9);
    const px = Array.from({ length: 1024 }, () => rng.int(256));
    const dct = (k: number, l: number): number => {
      let s = 0;
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) s += px[y * 32 + x] * Math.cos((Math.PI * k * (2 * y + 1)) / 64) * Math.cos((Math.PI * l * (2 * x + 1)) / 64);
      return s;
    };
    const d = Array.from({ length: 64 }, (_, i) => dct(Math.floor(i / 8), i % 8));
    const sorted = [...d].sort((a, b) => a - b);
    const med = (sorted[31] + sorted[32]) / 2;
    const bits = d.map((v) => (v > med ? '1' : '0')).join('');
    const h = hashFromPixels32(px);
    expect(hashToHex(h)).toBe(BigInt('0b' + bits).toString(16).padStart(16, '0'));
    expect(bits.split('').filter((b) => b === '1').length).toBe(32);
  });
  it('counts differing bits', () => {
    expect(hammingDistance({ hi: 0, lo: 0 }, { hi: 0xffffffff, lo: 1 })).toBe(33);
    expect(hammingDistance({ hi: 0x0f0f0f0f, lo: 3 }, { hi: 0x0f0f0f0f, lo: 3 })).toBe(0);
  });
});

describe('findDuplicates', () => {
  const dir = tmpDir();
  it('finds exact, resized and re-encoded copies, not another view of the same scene, and goes on past bad photos', async () => {
    const svg = sceneSvg(11, 480, 300);
    const original = await sharp(Buffer.from(svg)).jpeg({ quality: 92 }).toBuffer();
    const files: Record<string, Buffer> = {
      'a.jpg': original,
      'a-resized.jpg': await sharp(original).resize(240, 150).jpeg({ quality: 92 }).toBuffer(),
      'a-reencoded.jpg': await sharp(original).jpeg({ quality: 60 }).toBuffer(),
      // the same scene seen a moment later: turned 4 degrees and shifted (a new photo, not a copy)
      'a-other-view.jpg': await sharp(Buffer.from(svg)).rotate(4, { background: '#345' }).extract({ left: 20, top: 14, width: 480, height: 300 }).jpeg({ quality: 92 }).toBuffer(),
      'b.jpg': await scenePhoto(12, 480, 300),
      'broken.jpg': Buffer.from('not a photo'),
    };
    for (const [n, b] of Object.entries(files)) writeFileSync(path.join(dir, n), b);
    copyFileSync(path.join(dir, 'a.jpg'), path.join(dir, 'a-copy.jpg'));
    const photos = [...Object.keys(files), 'a-copy.jpg'].map((k) => ({ key: k, file: path.join(dir, k) }));
    const res = await findDuplicates(photos, createImageCache({ maxSide: 512 }));
    expect(res.groups).toEqual([{ preferred: 'a.jpg', members: ['a.jpg', 'a-reencoded.jpg', 'a-copy.jpg', 'a-resized.jpg'] }]);
    expect(res.failures).toEqual([{ key: 'broken.jpg', message: expect.stringMatching(/broken\.jpg: not an image/) }]);
    expect(res.fingerprints).toHaveLength(6);
  });
  it('prefers the highest resolution photo of a group', async () => {
    const big = await scenePhoto(21, 400, 250);
    writeFileSync(path.join(dir, 'small.jpg'), await sharp(big).resize(200, 125).jpeg().toBuffer());
    writeFileSync(path.join(dir, 'big.jpg'), big);
    const res = await findDuplicates(['small.jpg', 'big.jpg'].map((k) => ({ key: k, file: path.join(dir, k) })), createImageCache({ maxSide: 512 }));
    expect(res.groups[0]?.preferred).toBe('big.jpg');
  });
  it('pixelMse is 0 for the same pixels and large for unrelated ones', async () => {
    const a = await decodeGrey(await scenePhoto(5, 100, 60, 'png'));
    const b = await decodeGrey(await scenePhoto(6, 100, 60, 'png'));
    expect(pixelMse(a, a)).toBeCloseTo(0, 9);
    expect(pixelMse(a, b)).toBeGreaterThan(0.5);
  });
  const pairDir = path.join(SHARED_DATASETS, 'humpback-kaggle/kaggle2019/sample_flukes');
  it.skipIf(!existsSync(pairDir))('does not merge two real photos of the same whale (w_ac2c28e)', async () => {
    const photos = ['0e6abdd05.jpg', 'd6dce5f26.jpg'].map((k) => ({ key: k, file: path.join(pairDir, k) }));
    const res = await findDuplicates(photos, createImageCache({ maxSide: 512 }));
    expect(res.groups).toEqual([]);
    const [h1, h2] = await Promise.all(photos.map(async (p) => perceptualHash(await decodeGrey(p.file, { maxSide: 512 }))));
    expect(hammingDistance(h1, h2)).toBeGreaterThan(6);
  });
});

describe('image cache', () => {
  const dir = tmpDir();
  it('decodes once, then hits; a changed photo is decoded again; a torn entry is ignored', async () => {
    const f = path.join(dir, 'p.jpg');
    writeFileSync(f, await scenePhoto(31, 300, 200));
    const cacheDir = path.join(dir, 'cache');
    const c1 = createImageCache({ dir: cacheDir, maxSide: 128 });
    const first = await c1.load(f);
    const again = await c1.load(f);
    expect(c1.stats()).toEqual({ hits: 1, misses: 1 });
    expect(Buffer.from(again.data).equals(Buffer.from(first.data))).toBe(true);
    expect([again.width, again.originalWidth, again.sourceChannels]).toEqual([128, 300, first.sourceChannels]);
    // a second process sharing the folder sees the entry
    const c2 = createImageCache({ dir: cacheDir, maxSide: 128 });
    await c2.load(f);
    expect(c2.stats().hits).toBe(1);
    // other settings are another entry
    const c3 = createImageCache({ dir: cacheDir, maxSide: 64 });
    expect((await c3.load(f)).width).toBe(64);
    // the photo changes under the same name
    writeFileSync(f, await scenePhoto(32, 300, 200));
    const changed = await c1.load(f);
    expect(c1.stats().misses).toBe(2);
    expect(Buffer.from(changed.data).equals(Buffer.from(first.data))).toBe(false);
    // tear every entry: they are re-decoded, not trusted
    const { readdirSync, truncateSync } = await import('node:fs');
    for (const sub of readdirSync(cacheDir)) for (const e of readdirSync(path.join(cacheDir, sub))) truncateSync(path.join(cacheDir, sub, e), 40);
    const c4 = createImageCache({ dir: cacheDir, maxSide: 128 });
    expect((await c4.load(f)).width).toBe(128);
    expect(c4.stats()).toEqual({ hits: 0, misses: 1 });
  });
  it('is safe under concurrent loads of the same photo', async () => {
    const f = path.join(dir, 'q.jpg');
    writeFileSync(f, await scenePhoto(33, 300, 200));
    const cacheDir = path.join(dir, 'cache2');
    const loads = await Promise.all(Array.from({ length: 8 }, () => createImageCache({ dir: cacheDir, maxSide: 100 }).load(f)));
    for (const l of loads) expect(Buffer.from(l.data).equals(Buffer.from(loads[0].data))).toBe(true);
    const { readdirSync } = await import('node:fs');
    const entries = readdirSync(cacheDir).flatMap((s) => readdirSync(path.join(cacheDir, s)));
    expect(entries.filter((e) => e.endsWith('.grey'))).toHaveLength(1);
    expect(entries.filter((e) => e.endsWith('.tmp'))).toHaveLength(0);
  });
});

// Issue 33 item 9: dedup missed one of synth's planted pairs: a copy at 0.89 of the size whose
// re-encoding moved 12 of the 64 hash bits, past the 6-bit rule (found in synth --individuals 100
// --seed 2, whose 10 pairs cost 17 CPU-s to draw). The shared catalogs other test files use hold
// the same case drawn already: synth-6x3-s8's pair is a copy at 0.86 of the size whose hash moved
// 14 bits (checked below, from dedup's own hashes), and synth-16x4-s9 plants two same-size copies.
describe('dedup finds every duplicate synth planted', () => {
  const dir = tmpDir();
  const hashFromHex = (hex: string): { hi: number; lo: number } => ({ hi: parseInt(hex.slice(0, 8), 16), lo: parseInt(hex.slice(8, 16), 16) });
  it('including resized copies whose hash moved more than 6 bits (shared synth catalogs 6x3 seed 8 and 16x4 seed 9: 3 pairs, one resized 14 bits away)', async () => {
    let resizedFar = 0;
    for (const name of ['synth-6x3-s8', 'synth-16x4-s9'] as const) {
      const ds = await sharedFixture(name);
      const planted = readFileSync(path.join(ds, 'duplicates.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
      expect(planted.length, name).toBeGreaterThan(0);
      const out = path.join(dir, name);
      const r = await runCli('dedup', '--data', ds, '--out', out, '--quiet');
      expect(r.code, r.err).toBe(0);
      // Group,Image,Width,Height,Hash,Preferred
      const rows = readFileSync(path.join(out, 'duplicates.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
      const byImage = new Map(rows.map((c) => [path.basename(c[1]), c]));
      for (const [image, of] of planted) {
        expect(byImage.get(image)?.[0], `${image} duplicates ${of}`).toBeDefined();
        expect(byImage.get(image)?.[0], `${image} duplicates ${of}`).toBe(byImage.get(of)?.[0]);
        const [a, b] = [byImage.get(image)!, byImage.get(of)!];
        const bits = hammingDistance(hashFromHex(a[4]), hashFromHex(b[4]));
        if (a[2] !== b[2] && bits > 6) resizedFar++;
      }
    }
    // the case of issue 33 item 9 is among them: a resized copy past the 6-bit rule
    expect(resizedFar).toBeGreaterThan(0);
  }, 180_000);
});
