import { describe, it, expect } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { decodeCount, decodeGrey, decodePhoto } from '../../src/image/decode.js';
import { createImageCache } from '../../src/image/image-cache.js';
import { inspectPhoto } from '../../src/catalog/photo-files.js';
import { tmpDir } from '../helpers/tmp.js';
import { scenePhoto } from '../helpers/photos.js';

/** Photos of every accepted kind, large enough that each reduction below shrinks them. */
async function photos(): Promise<{ name: string; bytes: Buffer }[]> {
  const jpeg = await scenePhoto(3, 1400, 900, 'jpeg');
  const raw = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  const rgb = (): ReturnType<typeof sharp> => sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: raw.info.channels } });
  return [
    { name: 'a.jpg', bytes: jpeg },
    // EXIF orientation 6: the reduction follows the rotated photo
    { name: 'rotated.jpg', bytes: await rgb().jpeg({ quality: 85 }).withMetadata({ orientation: 6 }).toBuffer() },
    { name: 'a.png', bytes: await scenePhoto(3, 1400, 900, 'png') },
    { name: 'a.webp', bytes: await scenePhoto(3, 1400, 900, 'webp') },
    { name: 'a.tif', bytes: await scenePhoto(3, 1400, 900, 'tiff') },
    { name: '16-bit.png', bytes: await rgb().toColourspace('rgb16').png().toBuffer() },
    { name: 'alpha.png', bytes: await rgb().ensureAlpha(0.5).png().toBuffer() },
  ];
}

describe('a photo decoded once', () => {
  it('gives the pixels decodeGrey gives at the same reduction, bit for bit, for every format', async () => {
    for (const { name, bytes } of await photos()) {
      for (const side of [undefined, 256, 672, 5000]) {
        const want = await decodeGrey(bytes, { maxSide: side });
        const got = await decodePhoto(bytes, name, { maxSide: side });
        expect({ ...got.grey, data: null }, `${name} at ${side}`).toEqual({ ...want, data: null });
        expect(Buffer.from(got.grey.data).equals(Buffer.from(want.data)), `${name} at ${side}: pixels`).toBe(true);
        expect([got.width, got.height], name).toEqual([want.originalWidth, want.originalHeight]);
      }
    }
  }, 120_000);

  it('counts full decodes: one per decodePhoto or decodeGrey, none for an inspection given the decoded photo', async () => {
    const bytes = await scenePhoto(5, 800, 500);
    const start = decodeCount();
    const decoded = await decodePhoto(bytes, 'a.jpg', { maxSide: 256 });
    expect(decodeCount() - start).toBe(1);
    const facts = await inspectPhoto(bytes, 'a.jpg', undefined, decoded);
    expect(decodeCount() - start).toBe(1);
    // without it the catalog's inspection decodes (the integrity check), with the same facts
    expect(await inspectPhoto(bytes, 'a.jpg')).toEqual(facts);
    expect(decodeCount() - start).toBe(2);
    await decodeGrey(bytes, { maxSide: 256 });
    expect(decodeCount() - start).toBe(3);
  });

  it('refuses corrupt pixel data with the catalog\'s message, reduced or not', async () => {
    const bytes = Buffer.from(await scenePhoto(5, 800, 500, 'png'));
    const mid = Math.floor(bytes.length / 2);
    for (let i = mid; i < mid + 200; i++) bytes[i] = (i * 37) & 0xff;
    for (const maxSide of [undefined, 256]) await expect(decodePhoto(bytes, 'bad.png', { maxSide })).rejects.toThrow(/^bad\.png: corrupt or truncated png \(/);
  });

  it('an image cache serves a decoded photo for its file at its own reduction only, and decodes the others', async () => {
    const dir = tmpDir('whaleid-decode-once-');
    const [a, b] = [path.join(dir, 'a.jpg'), path.join(dir, 'b.jpg')];
    writeFileSync(a, await scenePhoto(6, 900, 600));
    writeFileSync(b, await scenePhoto(7, 900, 600));
    const cache = createImageCache({ maxSide: 300 });
    const served = cache.withDecoded(a, await decodePhoto(readFileSync(a), 'a.jpg', { maxSide: 300 }));
    const start = decodeCount();
    const img = await served.load(a);
    expect(decodeCount() - start).toBe(0);
    const fromFile = await cache.load(a);
    expect(Buffer.from(img.data).equals(Buffer.from(fromFile.data))).toBe(true);
    expect({ ...img, data: null }).toEqual({ ...fromFile, data: null });
    const before = decodeCount();
    await served.load(b);
    // decoded at another reduction: its pixels would differ, so the file is decoded
    await cache.withDecoded(a, await decodePhoto(readFileSync(a), 'a.jpg', { maxSide: 256 })).load(a);
    expect(decodeCount() - before).toBe(3);
  });
});
