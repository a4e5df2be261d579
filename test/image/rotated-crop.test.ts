import { describe, it, expect } from 'vitest';
import { sampleCrop } from '../../src/image/sample.js';
import { applyToPoint, cropMatrix, rotationAbout } from '../../src/image/affine.js';
import { boxKey } from '../../src/catalog/box-key.js';
import type { GreyImage } from '../../src/image/decode.js';

// issue 31 item 1: an annotation's box turned by theta (Wildbook's rotation about the box centre)
function image(w: number, h: number, f: (x: number, y: number) => number): GreyImage {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = f(x, y);
  return { width: w, height: h, data, originalWidth: w, originalHeight: h, scale: 1, sourceChannels: 1 };
}

/** A pattern with no symmetry a wrong turn could hide behind. */
const pattern = (x: number, y: number): number => (x * 7 + y * 13 + ((x * y) % 17) * 5) % 256;
const W = 200;
const H = 160;

describe('a turned box crops along the box', () => {
  const photo = image(W, H, pattern);
  const box = { x0: 70, y0: 60, x1: 130, y1: 100 }; // centre (100, 80)
  const crop = (b: typeof box & { theta?: number }, img = photo): Float32Array => sampleCrop(img, cropMatrix({ width: W, height: H, box: b, outputSize: 48 }), 48, false);

  it('turned a quarter: the crop of the upright box in the photo turned the other way (pixels moved exactly, no resampling)', () => {
    // reference photo J(p) = I(c + R(pi/2)(p - c)): the photo turned about the box centre, by integer pixel moves
    const turned = image(W, H, (u, v) => {
      const x = 100 - (v - 80);
      const y = 80 + (u - 100);
      return x >= 0 && x < W && y >= 0 && y < H ? pattern(x, y) : 0;
    });
    const want = crop(box, turned);
    const got = crop({ ...box, theta: Math.PI / 2 });
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    expect(worst).toBeLessThan(1e-3);
    // and not the upright crop: the turn did something
    const upright = crop(box);
    expect(upright.some((v, i) => Math.abs(v - got[i]) > 1)).toBe(true);
  });

  it('turns clockwise on screen for a positive theta (y down), about the box centre; 0 is upright', () => {
    const [x, y] = applyToPoint(rotationAbout(Math.PI / 2, 100, 80), 110, 80);
    expect([x, y].map((v) => Math.round(v * 1e9) / 1e9)).toEqual([100, 90]);
    expect(crop({ ...box, theta: 0 })).toEqual(crop(box));
  });

  it('keys a turned box apart from the upright one, and the upright one as before', () => {
    expect(boxKey(box)).toBe('70,60,130,100');
    expect(boxKey({ ...box, theta: 0 })).toBe('70,60,130,100');
    expect(boxKey({ ...box, theta: 0.5 })).toBe('70,60,130,100,0.5');
  });
});
