import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { checkPhotoFile, checkPhotoHeader } from '../../src/image/photo-policy.js';
import { decodeGrey } from '../../src/image/decode.js';
import { tmpDir } from '../helpers/tmp.js';
import { scenePhoto } from '../helpers/photos.js';

/** A PNG whose header claims width x height (no pixel data needed for a header check). */
function pngHeader(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(2))), chunk('IEND', Buffer.alloc(0))]);
}

describe('photo input policy', () => {
  const dir = tmpDir();

  it('refuses, naming the file, each kind of bad photo the issue lists; accepts good ones', async () => {
    const jpeg = await scenePhoto(4, 64, 48);
    const cases: [string, Buffer, RegExp][] = [
      ['zero.jpg', Buffer.alloc(0), /zero\.jpg: empty file \(0 bytes\)/],
      ['cut.jpg', (await scenePhoto(5, 400, 300)).subarray(0, 6000), /cut\.jpg: truncated or corrupt image \(the jpeg file ends before its end marker\)/],
      ['text.jpg', Buffer.from('just some text\n'), /text\.jpg: not an image \(unsupported format\)/],
      ['huge.png', pngHeader(30000, 30000), /huge\.png: image exceeds the pixel limit \(30000x30000/],
      ['drawing.jpg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><rect width="40" height="30"/></svg>'), /drawing\.jpg: an SVG drawing is not accepted/],
    ];
    for (const [name, bytes, re] of cases) {
      const f = path.join(dir, name);
      writeFileSync(f, bytes);
      await expect(checkPhotoFile(f), name).rejects.toThrow(re);
      // decoding (train, dedup, predict) applies the same policy
      await expect(decodeGrey(f), name).rejects.toThrow(re);
    }
    expect(await checkPhotoHeader(jpeg, 'ok.jpg')).toEqual({ format: 'jpeg', width: 64, height: 48, channels: 3 });
    expect((await checkPhotoHeader(pngHeader(300, 200), 'small.png')).width).toBe(300);
    // trailing zero padding after the end marker is common from some cameras: still whole
    expect((await checkPhotoHeader(Buffer.concat([jpeg, Buffer.alloc(16)]), 'padded.jpg')).format).toBe('jpeg');
  });
});
