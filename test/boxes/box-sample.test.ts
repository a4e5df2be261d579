import { describe, it, expect } from 'vitest';
import type { Box } from '../../src/image/affine.js';
import { cutImage, drawBoxSample, NO_BOX_AUGMENTATION } from '../../src/boxes/box-sample.js';
import { DEFAULT_BOX_MODEL } from '../../src/boxes/box-spec.js';
import { iou } from '../../src/boxes/iou.js';
import { createRng } from '../../src/util/random.js';
import { brightBox, rectanglePhoto } from '../helpers/boxes.js';

const S = DEFAULT_BOX_MODEL.inputSize;
const rect: Box = { x0: 90, y0: 70, x1: 250, y1: 140 };
const img = rectanglePhoto(320, 220, rect, 4);
// The true box of the white pixels in continuous coordinates (pixel i covers [i - 0.5, i + 0.5]).
const truth: Box = { x0: rect.x0 - 0.5, y0: rect.y0 - 0.5, x1: rect.x1 + 0.5, y1: rect.y1 + 0.5 };
const targetBox = (t: number[]): Box => ({ x0: t[0] * S - 0.5, y0: t[1] * S - 0.5, x1: t[2] * S - 0.5, y1: t[3] * S - 0.5 });

describe('drawBoxSample: the box follows the image', () => {
  it('without augmentation, the target is where the rectangle is on the input square', () => {
    const s = drawBoxSample(img, truth, DEFAULT_BOX_MODEL, createRng(1), NO_BOX_AUGMENTATION);
    const seen = brightBox(s.pixels, S);
    const t = targetBox(s.target);
    for (const k of ['x0', 'y0', 'x1', 'y1'] as const) expect(Math.abs(seen[k] - t[k]), k).toBeLessThan(1.2);
    expect(Math.abs(s.pixels.reduce((a, v) => a + v, 0) / s.pixels.length)).toBeLessThan(1e-4); // normalised
  });
  it('under cuts and mirrors (exact transforms) the target matches the rectangle on every draw', () => {
    for (let seed = 0; seed < 25; seed++) {
      const s = drawBoxSample(img, truth, DEFAULT_BOX_MODEL, createRng(seed), { affine: false, cutChance: 1, flipChance: 0.5, gamma: 1 });
      const seen = brightBox(s.pixels, S);
      const t = targetBox(s.target);
      // 1.5 px: the cut window is whole pixels of the reduced copy, the rectangle edge is resampled.
      for (const k of ['x0', 'y0', 'x1', 'y1'] as const) expect(Math.abs(seen[k] - t[k]), `${k} seed ${seed}`).toBeLessThan(1.5);
    }
  });
  it("with the method's augmentation the target stays on the rectangle (midpoint anchors: inside its rotated box)", () => {
    for (let seed = 0; seed < 25; seed++) {
      const s = drawBoxSample(img, truth, DEFAULT_BOX_MODEL, createRng(seed));
      const seen = brightBox(s.pixels, S);
      const t = targetBox(s.target);
      // A rectangle fills its corners, so the side-midpoint box sits inside the rotated rectangle's box.
      expect(t.x0, `seed ${seed}`).toBeGreaterThan(seen.x0 - 1.2);
      expect(t.y0, `seed ${seed}`).toBeGreaterThan(seen.y0 - 1.2);
      expect(t.x1, `seed ${seed}`).toBeLessThan(seen.x1 + 1.2);
      expect(t.y1, `seed ${seed}`).toBeLessThan(seen.y1 + 1.2);
      expect(iou(seen, t), `seed ${seed}`).toBeGreaterThan(0.7);
    }
  });
  it('is deterministic for a generator and varies between generators', () => {
    const a = drawBoxSample(img, truth, DEFAULT_BOX_MODEL, createRng(7));
    const b = drawBoxSample(img, truth, DEFAULT_BOX_MODEL, createRng(7));
    const c = drawBoxSample(img, truth, DEFAULT_BOX_MODEL, createRng(8));
    expect(b.target).toEqual(a.target);
    expect(Buffer.from(b.pixels.buffer).equals(Buffer.from(a.pixels.buffer))).toBe(true);
    expect(c.target).not.toEqual(a.target);
  });
  it('clips the target to a cut that goes through the fluke', () => {
    const s = drawBoxSample(img, truth, DEFAULT_BOX_MODEL, createRng(3), { affine: false, cutChance: 0, flipChance: 0, gamma: 1 });
    s.target.forEach((v) => expect(v >= 0 && v <= 1).toBe(true));
  });
});

describe('cutImage', () => {
  it('keeps original-pixel coordinates consistent through a reduced copy', () => {
    // A 2x reduced copy: reduced pixel r sits at original (r + 0.5) * 2 - 0.5.
    const reduced = { ...rectanglePhoto(160, 110, { x0: 45, y0: 35, x1: 125, y1: 70 }), originalWidth: 320, originalHeight: 220, scale: 0.5 };
    const { image, dx, dy } = cutImage(reduced, 40, 30, 139, 89);
    expect(image.width).toBe(100);
    expect(image.height).toBe(60);
    expect(image.originalWidth).toBe(200);
    expect(image.data[(35 - 30) * 100 + (45 - 40)]).toBe(255);
    expect(image.data[(34 - 30) * 100 + (45 - 40)]).toBe(0);
    expect([dx, dy]).toEqual([80, 60]);
  });
});
