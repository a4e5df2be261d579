import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { cropJpeg } from '../../src/serve/crop-image.js';
import type { PhotoRecord } from '../../src/catalog/catalog-types.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';

// issue 31 item 1: the review crop of an annotation turned by theta shows it along its box
const dir = tmpDir('whaleid-crop-image-');
const CROP = { margin: 0.05, aspect: 2.15 };

/** Grey pixels of a JPEG at a fixed size. */
async function grey(jpg: Buffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(jpg).greyscale().resize(96, 44, { fit: 'fill' }).raw().toBuffer());
}

const meanDiff = (a: Uint8Array, b: Uint8Array): number => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

describe('cropJpeg', () => {
  it('cuts a box turned a quarter (theta pi/2) out of a photo turned a quarter as the upright box of the photo before', async () => {
    const W = 320;
    const H = 200;
    const upright = path.join(dir, 'upright.png');
    writeFileSync(upright, await sharp(await scenePhoto(77, W, H)).png().toBuffer());
    // the same picture turned clockwise: pixel (x, y) goes to (H - y, x), a 200 x 320 photo
    const turnedFile = path.join(dir, 'turned.png');
    writeFileSync(turnedFile, await sharp(upright).rotate(90).png().toBuffer());
    const box = { x0: 100, y0: 70, x1: 220, y1: 130 }; // centre (160, 100), 120 x 60
    const photo = (box: PhotoRecord['box'], width: number, height: number): PhotoRecord => ({ id: 1, width, height, box } as PhotoRecord);
    const want = await grey(await cropJpeg(upright, photo(box, W, H), 192, CROP));
    // in the turned photo the box's centre is (200 - 100, 160) = (100, 160), the box itself turned clockwise
    const turnedBox = { x0: 100 - 60, y0: 160 - 30, x1: 100 + 60, y1: 160 + 30 };
    const got = await grey(await cropJpeg(turnedFile, photo({ ...turnedBox, theta: Math.PI / 2 }, H, W), 192, CROP));
    const unturned = await grey(await cropJpeg(turnedFile, photo(turnedBox, H, W), 192, CROP));
    expect(meanDiff(got, want)).toBeLessThan(4);
    // the same box without its theta shows something else
    expect(meanDiff(unturned, want)).toBeGreaterThan(20);
  });
});
