import { describe, it, expect, beforeAll } from 'vitest';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { scenePhoto } from '../../helpers/photos.js';
import { tmpDir } from '../../helpers/tmp.js';
import { randomArray } from '../../helpers/numeric.js';
import { createImageCache } from '../../../src/image/image-cache.js';
import { DEFAULT_LOCAL, DESCRIPTOR_LENGTH, keypointCount, type LocalFeatures } from '../../../src/infer/local/local-features.js';
import { decodeLocalFeatures, describePhotos, encodeLocalFeatures } from '../../../src/infer/local/local-feature-store.js';
import { buildDescriptorIndex } from '../../../src/infer/local/descriptor-index.js';
import { createLocalMatcher, localMatcherOver, localRanking, localScores } from '../../../src/infer/local/local-matcher.js';
import { loadOpenCv } from '../../../src/infer/local/opencv.js';

const settings = { ...DEFAULT_LOCAL, maxKeypoints: 200 };

describe('buildDescriptorIndex', () => {
  it('finds the exact nearest descriptors of a small catalog and honours skipped photos', () => {
    const features: LocalFeatures[] = [0, 1, 2].map((p) => ({ xy: new Float32Array(2 * 30), descriptors: randomArray(30 * DESCRIPTOR_LENGTH, `photo${p}`) }));
    const index = buildDescriptorIndex(features, { ef: 200 });
    expect(index.size).toBe(90);
    expect(Array.from(index.photoOf.subarray(28, 32))).toEqual([0, 0, 1, 1]);
    const all = features.flatMap((f) => Array.from({ length: 30 }, (_, k) => f.descriptors.subarray(k * DESCRIPTOR_LENGTH, (k + 1) * DESCRIPTOR_LENGTH)));
    const q = randomArray(DESCRIPTOR_LENGTH, 'query');
    const dist = all.map((d) => Math.sqrt(d.reduce((s, x, i) => s + (x - q[i]) ** 2, 0)));
    const brute = dist.map((d, l) => ({ d, l })).sort((a, b) => a.d - b.d);
    const r = index.search(q, 5);
    expect(r.labels).toEqual(brute.slice(0, 5).map((b) => b.l));
    r.distances.forEach((d, i) => expect(d).toBeCloseTo(brute[i].d, 4));
    const skipped = index.search(q, 5, (p) => p === 1);
    expect(skipped.labels).toEqual(brute.filter((b) => index.photoOf[b.l] !== 1).slice(0, 5).map((b) => b.l));
  });

  it('grows photo by photo (resizing past its first capacity) into the same index as one built at once', () => {
    const features: LocalFeatures[] = [0, 1, 2, 3].map((p) => ({ xy: new Float32Array(2 * 40), descriptors: randomArray(40 * DESCRIPTOR_LENGTH, `grow${p}`) }));
    const whole = buildDescriptorIndex(features);
    const grown = buildDescriptorIndex(features.slice(0, 1));
    expect(grown.add(features.slice(1, 2))).toBe(1);
    expect(grown.add(features.slice(2))).toBe(2);
    expect([grown.photos, grown.size]).toEqual([4, 160]);
    expect(Array.from(grown.photoOf)).toEqual(Array.from(whole.photoOf));
    expect(Array.from(grown.keypointOf)).toEqual(Array.from(whole.keypointOf));
    for (let i = 0; i < 10; i++) {
      const q = randomArray(DESCRIPTOR_LENGTH, `grow-query${i}`);
      expect(grown.search(q, 5, (p) => p === 2)).toEqual(whole.search(q, 5, (p) => p === 2));
    }
  });
});

describe('local matcher on crafted photos', () => {
  const dir = tmpDir('whaleid-local-');
  const files: string[] = [];
  let features: LocalFeatures[] = [];
  const cache = createImageCache({ maxSide: 1024 });
  beforeAll(async () => {
    for (let s = 0; s < 6; s++) {
      files.push(path.join(dir, `s${s}.jpg`));
      writeFileSync(files[s], await scenePhoto(100 + s, 640, 300));
    }
    // another photo of scene 3: turned 6 degrees, shifted and recompressed
    files.push(path.join(dir, 'query.jpg'));
    writeFileSync(files[6], await sharp(await scenePhoto(103, 640, 300)).rotate(6, { background: '#567' }).extract({ left: 30, top: 20, width: 620, height: 300 }).jpeg({ quality: 85 }).toBuffer());
    features = await describePhotos(cache, files.map((file) => ({ file })), settings, { cacheDir: path.join(dir, 'cache') });
  });

  it('ranks the turned, shifted copy of a photo first among distractors, with many inliers', async () => {
    const ids = ['s0', 's1', 's2', 's3', 's4', 's5'];
    const m = createLocalMatcher(await loadOpenCv(), features.slice(0, 6), ids);
    const r = m.match(features[6]);
    const order = localRanking(r);
    expect(m.individuals[order[0]]).toBe('s3');
    expect(r.bestPhoto[order[0]]).toBe(3);
    expect(r.inliers[order[0]]).toBeGreaterThanOrEqual(30);
    const others = Array.from(r.verified).filter((_, i) => i !== order[0]);
    expect(r.verified[order[0]]).toBeGreaterThan(5 * Math.max(...others));
    expect(localScores(r)[order[0]]).toBe(Math.max(...localScores(r)));
  });

  it('matches the same photo seen through an augmented crop (same box/affine path as the network)', async () => {
    const cv = await loadOpenCv();
    const m = createLocalMatcher(cv, features.slice(0, 6), ['s0', 's1', 's2', 's3', 's4', 's5']);
    const [aug] = await describePhotos(cache, [{ file: files[4], augmentation: { rotation: 4, shear: 2, zoomX: 0.9, zoomY: 0.95, shiftX: 0.03, shiftY: -0.02 } }], settings);
    const r = m.match(aug);
    expect(m.individuals[localRanking(r)[0]]).toBe('s4');
    expect(r.inliers[4]).toBeGreaterThanOrEqual(30);
  });

  it('leaves skipped photos out: a query never finds its own photo', async () => {
    const m = createLocalMatcher(await loadOpenCv(), features, ['s0', 's1', 's2', 's3', 's4', 's5', 's3']);
    const self = m.match(features[6], (p) => p === 6);
    expect(self.bestPhoto[3]).toBe(3); // the other photo of s3, not itself
    const alone = m.match(features[2], (p) => p === 2);
    expect(alone.raw[2]).toBe(0);
    expect(alone.verified[2]).toBe(0);
  });

  it('over a grown index, leaves out photos without an individual (left the gallery, or described again)', async () => {
    const cv = await loadOpenCv();
    const index = buildDescriptorIndex(features.slice(0, 3));
    index.add(features.slice(3, 6));
    // photo 3 (scene 3) left the gallery: the turned copy of scene 3 must not find it
    const m = localMatcherOver(cv, index, features.slice(0, 6), Int32Array.of(0, 1, 2, -1, 3, 4), ['s0', 's1', 's2', 's4', 's5']);
    const r = m.match(features[6]);
    expect(Math.max(...r.inliers)).toBeLessThan(10);
    const back = localMatcherOver(cv, index, features.slice(0, 6), Int32Array.of(0, 1, 2, 3, 4, 5), ['s0', 's1', 's2', 's3', 's4', 's5']).match(features[6]);
    expect(localRanking(back)[0]).toBe(3);
    expect(back.bestPhoto[3]).toBe(3);
    expect(back.inliers[3]).toBeGreaterThanOrEqual(30);
  });

  it('caches descriptions by photo content, crop and settings', async () => {
    const cacheDir = path.join(dir, 'cache');
    const entries = readdirSync(cacheDir, { recursive: true }).filter((f) => String(f).endsWith('.lkf'));
    expect(entries).toHaveLength(7);
    const again = await describePhotos(cache, files.map((file) => ({ file })), settings, { cacheDir });
    expect(again.map((f) => Array.from(f.descriptors.subarray(0, 8)))).toEqual(features.map((f) => Array.from(f.descriptors.subarray(0, 8))));
    await describePhotos(cache, [{ file: files[0] }], { ...settings, maxKeypoints: 50 }, { cacheDir });
    expect(readdirSync(cacheDir, { recursive: true }).filter((f) => String(f).endsWith('.lkf'))).toHaveLength(8);
  });

  it('stores features in one file and refuses other settings or a truncated file', () => {
    const buf = encodeLocalFeatures(features, settings);
    const back = decodeLocalFeatures(buf, settings, 'f.bin');
    expect(back.map(keypointCount)).toEqual(features.map(keypointCount));
    expect(Array.from(back[3].xy)).toEqual(Array.from(features[3].xy));
    expect(Array.from(back[6].descriptors)).toEqual(Array.from(features[6].descriptors));
    expect(() => decodeLocalFeatures(buf, { ...settings, height: 128 }, 'f.bin')).toThrow(/f\.bin: computed with other settings/);
    expect(() => decodeLocalFeatures(buf.subarray(0, buf.length - 10), settings, 'f.bin')).toThrow(/f\.bin: truncated at photo 7 of 7/);
    expect(() => decodeLocalFeatures(Buffer.from('hello world, not features'), settings, 'f.bin')).toThrow(/f\.bin: not a local-feature file/);
  });
});
