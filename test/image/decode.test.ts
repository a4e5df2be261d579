import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { decodeGrey } from '../../src/image/decode.js';
import { tmpDir } from '../helpers/tmp.js';
import { scenePhoto } from '../helpers/photos.js';

describe('decodeGrey', () => {
  const dir = tmpDir();
  it('decodes JPEG, PNG, WebP and TIFF to the same greyscale picture', async () => {
    const ref = await decodeGrey(await scenePhoto(1, 64, 40, 'png'));
    expect([ref.width, ref.height, ref.scale]).toEqual([64, 40, 1]);
    for (const f of ['jpeg', 'webp', 'tiff'] as const) {
      const img = await decodeGrey(await scenePhoto(1, 64, 40, f));
      let diff = 0;
      for (let i = 0; i < img.data.length; i++) diff += Math.abs(img.data[i] - ref.data[i]);
      expect(diff / img.data.length, f).toBeLessThan(6);
    }
  });
  it('honours EXIF orientation', async () => {
    const raw = Buffer.alloc(8 * 6, 0);
    raw[0] = 255; // top-left pixel white
    const jpg = await sharp(raw, { raw: { width: 8, height: 6, channels: 1 } }).png().toBuffer();
    const rotated = await sharp(jpg).withMetadata({ orientation: 6 }).png().toBuffer();
    const img = await decodeGrey(rotated);
    expect([img.width, img.height, img.originalWidth, img.originalHeight]).toEqual([6, 8, 6, 8]);
    // orientation 6 = rotate 90 clockwise to display: the top-left pixel goes to the top-right
    expect(img.data[5]).toBeGreaterThan(200);
    expect(img.data[0]).toBeLessThan(50);
  });
  it('reads 16-bit, greyscale and RGBA photos', async () => {
    const raw = Buffer.from(Array.from({ length: 48 }, (_, i) => i * 5));
    const g16 = await sharp(raw, { raw: { width: 8, height: 6, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    const img16 = await decodeGrey(g16);
    expect(img16.data[47]).toBe(235);
    expect(img16.data[1]).toBe(5);
    const rgba = await sharp({ create: { width: 4, height: 4, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 0.5 } } }).png().toBuffer();
    const imgA = await decodeGrey(rgba);
    expect(imgA.sourceChannels).toBe(4);
    expect(imgA.data[0]).toBe(255);
  });
  it('reduces large photos to maxSide, keeping the scale', async () => {
    const img = await decodeGrey(await scenePhoto(2, 400, 250), { maxSide: 100 });
    expect([img.width, img.height, img.originalWidth]).toEqual([100, 63, 400]);
    expect(img.scale).toBeCloseTo(0.25, 9);
  });
  it('names the file in every bad-input error', async () => {
    const good = await scenePhoto(3, 200, 120);
    const cases: [string, Buffer, RegExp][] = [
      ['empty.jpg', Buffer.alloc(0), /empty\.jpg: empty file \(0 bytes\)/],
      ['text.jpg', Buffer.from('this is not an image at all'), /text\.jpg: not an image \(unsupported format\)/],
      ['cut.jpg', good.subarray(0, Math.floor(good.length / 2)), /cut\.jpg: truncated or corrupt image/],
    ];
    for (const [name, bytes, re] of cases) {
      const f = path.join(dir, name);
      writeFileSync(f, bytes);
      await expect(decodeGrey(f)).rejects.toThrow(re);
    }
    await expect(decodeGrey(path.join(dir, 'absent.jpg'))).rejects.toThrow(/absent\.jpg: no such file/);
    const big = path.join(dir, 'bomb.png');
    writeFileSync(big, await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#000' } }).png().toBuffer());
    await expect(decodeGrey(big, { maxPixels: 1_000_000 })).rejects.toThrow(/bomb\.png: image exceeds the pixel limit/);
    expect((await decodeGrey(big, { maxPixels: 5_000_000 })).width).toBe(2000);
  });
});
