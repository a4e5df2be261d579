import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import path from 'node:path';
import sharp from 'sharp';
import { openCatalog, type Catalog } from '../../../src/catalog/catalog.js';
import { annotationGalleryId } from '../../../src/catalog/gallery-ids.js';
import { createImageCache } from '../../../src/image/image-cache.js';
import { DEFAULT_LOCAL, keypointCount, loadLocalCrop, localCropWidth, type LocalFeatures } from '../../../src/infer/local/local-features.js';
import { createCatalogLocalFeatures } from '../../../src/infer/local/catalog-local-features.js';
import { createLocalGallery } from '../../../src/serve/local-gallery.js';
import { scenePhoto } from '../../helpers/photos.js';
import { tmpDir } from '../../helpers/tmp.js';

// issue 31 item 1: the local matcher crops an annotation's turned box (its theta) as the network's
// crop does (test/image/rotated-crop.test.ts): a photo turned a quarter about the box centre with
// its box turned back gives the upright photo's keypoints and descriptors
const S = 400; // square: a quarter turn about the centre maps the photo onto itself, pixel for pixel
const C = (S - 1) / 2;
const BOX = { x: 119.5, y: 159.5, w: 160, h: 80 }; // centred on (C, C)

/** PNG (lossless) of raw RGB pixels. */
const png = (data: Buffer): Promise<Buffer> => sharp(data, { raw: { width: S, height: S, channels: 3 } }).png().toBuffer();

/** The nearest keypoint of `b` to each of `a`'s, as the share of `a`'s within `tol` pixels whose descriptors agree within `dtol` (L2). */
function agreement(a: LocalFeatures, b: LocalFeatures, tol: number, dtol: number): number {
  const n = keypointCount(a);
  const m = keypointCount(b);
  const D = a.descriptors.length / Math.max(1, n);
  let good = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let j = 0; j < m; j++) {
      const d = Math.hypot(a.xy[2 * i] - b.xy[2 * j], a.xy[2 * i + 1] - b.xy[2 * j + 1]);
      if (d < bestD) [best, bestD] = [j, d];
    }
    if (best < 0 || bestD > tol) continue;
    let s = 0;
    for (let k = 0; k < D; k++) s += (a.descriptors[i * D + k] - b.descriptors[best * D + k]) ** 2;
    if (Math.sqrt(s) <= dtol) good++;
  }
  return good / Math.max(1, n);
}

describe('the local matcher\'s crop of a turned box', () => {
  const dir = tmpDir('whaleid-rotated-local-');
  let catalog: Catalog;
  let upright = 0;
  let turnedPhoto = 0;
  let galleryId = 0;

  beforeAll(async () => {
    const { data: t } = await sharp(await scenePhoto(631, S, S)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    // the upright photo U(p) = T(c + R(pi/2)(p - c)): T's pixels moved, none resampled
    const u = Buffer.alloc(t.length);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const [sx, sy] = [C - (y - C), C + (x - C)];
        t.copy(u, 3 * (y * S + x), 3 * (sy * S + sx), 3 * (sy * S + sx) + 3);
      }
    }
    catalog = await openCatalog(path.join(dir, 'c.db'), { photoDir: path.join(dir, 'photos') });
    upright = (await catalog.addPhoto(await png(u), { originalName: 'upright.png', box: { x0: BOX.x, y0: BOX.y, x1: BOX.x + BOX.w, y1: BOX.y + BOX.h } })).photo.id;
    // the turned photo: its first whale elsewhere, its second the upright photo's whale, turned
    turnedPhoto = (await catalog.addPhoto(await png(t), {
      originalName: 'turned.png', annotations: [{ box: { x: 10, y: 10, w: 60, h: 40 }, individualName: 'Other' }, { box: BOX, theta: Math.PI / 2, individualName: 'Salt' }],
    })).photo.id;
    galleryId = annotationGalleryId((await catalog.annotations(turnedPhoto))[1].id);
  }, 60_000);
  afterAll(async () => {
    await catalog?.close();
  });

  it('crops the turned box as the upright photo\'s box, pixel for pixel within rounding', async () => {
    const cache = createImageCache({ maxSide: 2 * localCropWidth(DEFAULT_LOCAL), maxPixels: catalog.maxPixels });
    const row = await catalog.galleryPhoto(galleryId);
    expect(row.box).toEqual({ x0: BOX.x, y0: BOX.y, x1: BOX.x + BOX.w, y1: BOX.y + BOX.h, theta: Math.PI / 2 });
    const want = await loadLocalCrop(cache, { file: catalog.photoFile(await catalog.photo(upright)), box: (await catalog.photo(upright)).box! }, DEFAULT_LOCAL);
    const got = await loadLocalCrop(cache, { file: catalog.photoFile(row), box: row.box! }, DEFAULT_LOCAL);
    let worst = 0;
    for (let i = 0; i < want.pixels.length; i++) worst = Math.max(worst, Math.abs(want.pixels[i] - got.pixels[i]));
    expect(worst).toBeLessThanOrEqual(1);
    // the same box upright in the turned photo is another picture: the turn did something
    const plain = await loadLocalCrop(cache, { file: catalog.photoFile(row), box: { ...row.box!, theta: 0 } }, DEFAULT_LOCAL);
    expect(plain.pixels.filter((v, i) => Math.abs(v - want.pixels[i]) > 8).length).toBeGreaterThan(want.pixels.length / 10);
  });

  it('stores and reads back the turned annotation\'s keypoints and descriptors as the upright photo\'s (catalog and service gallery)', async () => {
    const local = createCatalogLocalFeatures(catalog, { settings: DEFAULT_LOCAL });
    const [want, got] = await local.load([await catalog.photo(upright), await catalog.galleryPhoto(galleryId)]);
    // the turned photo's box upright: described in memory only (it is no box of the catalog's)
    const [plain] = await local.peek([{ ...await catalog.photo(turnedPhoto), box: { x0: BOX.x, y0: BOX.y, x1: BOX.x + BOX.w, y1: BOX.y + BOX.h } }]);
    expect(keypointCount(want)).toBeGreaterThan(20);
    expect(Math.abs(keypointCount(got) - keypointCount(want))).toBeLessThanOrEqual(Math.ceil(0.05 * keypointCount(want)));
    // each keypoint at the same crop position (within half a pixel) with nearly the same descriptor
    expect(agreement(want, got, 0.5, 0.05)).toBeGreaterThan(0.9);
    expect(agreement(want, plain, 0.5, 0.05)).toBeLessThan(0.5);
    // the service's local gallery: the gallery row under its id, read back as stored
    const gallery = createLocalGallery(catalog);
    const [served] = await gallery.featuresOf([await catalog.galleryPhoto(galleryId)]);
    expect(gallery.described).toBe(0);
    expect([...served.xy]).toEqual([...got.xy]);
  });
});
