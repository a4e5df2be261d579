import { describe, it, expect } from 'vitest';
import { sampleCrop, sampleCropRect } from '../../src/image/sample.js';
import { translation, scaling, compose, type Matrix3 } from '../../src/image/affine.js';
import type { GreyImage } from '../../src/image/decode.js';

function image(w: number, h: number, f: (x: number, y: number) => number, scale = 1): GreyImage {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = f(x, y);
  return { width: w, height: h, data, originalWidth: Math.round(w / scale), originalHeight: Math.round(h / scale), scale, sourceChannels: 1 };
}

describe('sampleCrop', () => {
  const img = image(8, 8, (x, y) => 10 * x + y);
  it('reproduces pixels through an integer translation', () => {
    const out = sampleCrop(img, translation(2, 3) as Matrix3, 4, false);
    expect(Array.from(out.subarray(0, 4))).toEqual([23, 33, 43, 53]);
    expect(out[4]).toBe(24);
  });
  it('samples a width x height rectangle row by row', () => {
    const out = sampleCropRect(img, translation(1, 2) as Matrix3, 3, 2, false);
    expect(Array.from(out)).toEqual([12, 22, 32, 13, 23, 33]);
  });
  it('interpolates bilinearly between pixels', () => {
    const out = sampleCrop(img, translation(2.5, 3.25) as Matrix3, 2, false);
    expect(out[0]).toBeCloseTo(10 * 2.5 + 3.25, 5);
  });
  it('fills points outside the photo with the photo mean', () => {
    const mean = Array.from(img.data).reduce((a, b) => a + b, 0) / 64;
    const out = sampleCrop(img, translation(-5, -5) as Matrix3, 2, false);
    expect(out[0]).toBeCloseTo(mean, 5);
  });
  it('normalises to mean 0 and std 1', () => {
    const out = sampleCrop(img, compose(scaling(0.5, 0.5)) as Matrix3, 16);
    const m = out.reduce((a, b) => a + b, 0) / out.length;
    const v = out.reduce((a, b) => a + (b - m) ** 2, 0) / out.length;
    expect(m).toBeCloseTo(0, 5);
    expect(Math.sqrt(v)).toBeCloseTo(1, 4);
  });
  it('maps original coordinates onto a reduced copy', () => {
    // a ramp v = 2x in original coordinates, stored at half size: pixel i averages 4i and 4i + 2
    const small = image(50, 4, (x) => 4 * x + 1, 0.5);
    const out = sampleCrop(small, translation(40, 2) as Matrix3, 1, false);
    expect(out[0]).toBeCloseTo(80, 5);
  });
});
