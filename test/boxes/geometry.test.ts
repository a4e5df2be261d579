import { describe, it, expect } from 'vitest';
import { cropMatrix, invert, scaling, translation, compose, type Box, type Matrix3 } from '../../src/image/affine.js';
import { sampleCrop } from '../../src/image/sample.js';
import { clipBox, enclosingBox, orderedBox, transformBox } from '../../src/boxes/box-transform.js';
import { formatIou, iou, summariseIou } from '../../src/boxes/iou.js';
import { rectanglePhoto, brightBox } from '../helpers/boxes.js';
import { boxInputMatrix, boxToTarget, outputToBox, DEFAULT_BOX_MODEL } from '../../src/boxes/box-spec.js';

describe('iou', () => {
  const a: Box = { x0: 0, y0: 0, x1: 2, y1: 2 };
  it('is 1 for the same box, 0 for disjoint or empty ones, and symmetric', () => {
    expect(iou(a, a)).toBe(1);
    expect(iou(a, { x0: 5, y0: 5, x1: 6, y1: 6 })).toBe(0);
    expect(iou({ x0: 1, y0: 1, x1: 1, y1: 1 }, { x0: 1, y0: 1, x1: 1, y1: 1 })).toBe(0);
    const b: Box = { x0: 1, y0: 0.5, x1: 4, y1: 3 };
    expect(iou(a, b)).toBeCloseTo(iou(b, a), 12);
  });
  it('computes intersection over union', () => {
    expect(iou(a, { x0: 1, y0: 0, x1: 3, y1: 2 })).toBeCloseTo(2 / 6, 12);
    expect(iou(a, { x0: 0, y0: 0, x1: 1, y1: 1 })).toBeCloseTo(1 / 4, 12);
  });
  it('summarises per photo, counts missing predictions and formats a line', () => {
    const truth = new Map<string, Box>([['p', a], ['q', a], ['r', a]]);
    const pred = new Map<string, Box>([['p', a], ['q', { x0: 1, y0: 0, x1: 3, y1: 2 }], ['extra', a]]);
    const s = summariseIou(pred, truth);
    expect(s.count).toBe(2);
    expect(s.missing).toBe(1);
    expect(s.mean).toBeCloseTo((1 + 1 / 3) / 2, 12);
    expect(s.median).toBeCloseTo((1 + 1 / 3) / 2, 12);
    expect(s.atLeast50).toBe(0.5);
    expect(s.perPhoto.get('q')).toBeCloseTo(1 / 3, 12);
    expect(formatIou(s)).toMatch(/^mean IoU 0\.667 .*2 photos, 1 without a prediction\)$/);
    expect(Number.isNaN(summariseIou(new Map(), truth).mean)).toBe(true);
  });
});

describe('transformBox', () => {
  const box: Box = { x0: 10, y0: 20, x1: 50, y1: 40 };
  it('is exact for scalings and translations, whatever the anchors', () => {
    const m = compose(translation(3, -2), scaling(2, 0.5));
    const want = { x0: 23, y0: 8, x1: 103, y1: 18 };
    expect(transformBox(box, m)).toEqual(want);
    expect(transformBox(box, m, 'midpoints')).toEqual(want);
  });
  it('orders the corners of a mirrored box', () => {
    const flip: Matrix3 = [-1, 0, 99, 0, 1, 0, 0, 0, 1];
    expect(transformBox(box, flip)).toEqual({ x0: 49, y0: 20, x1: 89, y1: 40 });
  });
  it('keeps the midpoint box inside the corner box under rotation, equal in the middle', () => {
    const m = cropMatrix({ width: 100, height: 60, outputSize: 64, augmentation: { rotation: 5, shear: -4, zoomX: 0.9, zoomY: 0.85, shiftX: 0.02, shiftY: -0.03 } });
    const c = transformBox(box, invert(m));
    const mid = transformBox(box, invert(m), 'midpoints');
    expect(mid.x0).toBeGreaterThanOrEqual(c.x0);
    expect(mid.y0).toBeGreaterThanOrEqual(c.y0);
    expect(mid.x1).toBeLessThanOrEqual(c.x1);
    expect(mid.y1).toBeLessThanOrEqual(c.y1);
    expect(mid.y1 - mid.y0).toBeLessThan(c.y1 - c.y0 - 0.3);
    expect((mid.x0 + mid.x1) / 2).toBeCloseTo((c.x0 + c.x1) / 2, 9);
  });
  it("follows the image: a rectangle's corners land where the resampled image shows them", () => {
    const r: Box = { x0: 60, y0: 50, x1: 180, y1: 95 };
    const img = rectanglePhoto(240, 160, r);
    for (const augmentation of [undefined, { rotation: 5, shear: 5, zoomX: 0.8, zoomY: 1, shiftX: 0.05, shiftY: -0.05 }, { rotation: -4, shear: -2, zoomX: 0.9, zoomY: 0.85, shiftX: -0.03, shiftY: 0.04 }]) {
      const m = cropMatrix({ width: 240, height: 160, box: r, margin: 0.3, outputSize: 96, augmentation });
      const seen = brightBox(sampleCrop(img, m, 96, false), 96);
      // The white pixels span [x0 - 0.5, x1 + 0.5] in continuous coordinates.
      const want = transformBox({ x0: r.x0 - 0.5, y0: r.y0 - 0.5, x1: r.x1 + 0.5, y1: r.y1 + 0.5 }, invert(m));
      for (const k of ['x0', 'y0', 'x1', 'y1'] as const) expect(Math.abs(seen[k] - want[k]), `${k} ${JSON.stringify(augmentation)}`).toBeLessThan(1.2);
    }
  });
});

describe('box helpers', () => {
  it('clips, orders and encloses', () => {
    expect(clipBox({ x0: -5, y0: 2, x1: 50, y1: 8 }, 0, 0, 40, 30)).toEqual({ x0: 0, y0: 2, x1: 40, y1: 8 });
    expect(orderedBox({ x0: 5, y0: 9, x1: 1, y1: 2 })).toEqual({ x0: 1, y0: 2, x1: 5, y1: 9 });
    expect(enclosingBox([[1, 5], [3, 2]])).toEqual({ x0: 1, y0: 2, x1: 3, y1: 5 });
    expect(() => enclosingBox([])).toThrow();
  });
  it('maps a photo box to targets and back (boxToTarget / outputToBox round trip)', () => {
    for (const [w, h] of [[1050, 700], [2528, 382], [300, 900]]) {
      const m = boxInputMatrix(w, h, DEFAULT_BOX_MODEL);
      const box: Box = { x0: 0.2 * w, y0: 0.3 * h, x1: 0.7 * w, y1: 0.8 * h };
      const t = boxToTarget(transformBox(box, invert(m)), DEFAULT_BOX_MODEL.inputSize);
      t.forEach((v) => expect(v > 0 && v < 1).toBe(true));
      const back = outputToBox(t, m, DEFAULT_BOX_MODEL.inputSize, w, h);
      for (const k of ['x0', 'y0', 'x1', 'y1'] as const) expect(back[k]).toBeCloseTo(box[k], 6);
    }
  });
  it('turns any output into a usable box inside the photo', () => {
    const m = boxInputMatrix(400, 300, DEFAULT_BOX_MODEL);
    for (const out of [[0.5, 0.5, 0.5, 0.5], [-3, -3, -2, -2], [0.9, 0.8, 0.1, 0.2], [2, 2, 3, 3]]) {
      const b = outputToBox(out, m, 128, 400, 300);
      expect(b.x1 - b.x0).toBeGreaterThanOrEqual(1);
      expect(b.y1 - b.y0).toBeGreaterThanOrEqual(1);
      expect(b.x0).toBeGreaterThanOrEqual(0);
      expect(b.y1).toBeLessThanOrEqual(299);
    }
  });
});
