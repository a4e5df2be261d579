import { describe, it, expect } from 'vitest';
import {
  applyToPoint, augmentationMatrix, compose, cropMatrix, IDENTITY_AUGMENTATION, invert, multiply, paddedBox,
  randomAugmentation, scaling, translation, METHOD_AUGMENTATION_RANGES, type Matrix3,
} from '../../src/image/affine.js';
import { createRng } from '../../src/util/random.js';

const close = (m: Matrix3, e: number[], tol = 1e-12): void => m.forEach((v, i) => expect(v).toBeCloseTo(e[i], -Math.log10(tol)));
const pt = (p: [number, number], e: [number, number], digits = 9): void => {
  expect(p[0]).toBeCloseTo(e[0], digits);
  expect(p[1]).toBeCloseTo(e[1], digits);
};

describe('matrix algebra', () => {
  it('multiplies in the documented order (right applied first)', () => {
    close(multiply(translation(1, 2), scaling(3, 4)), [3, 0, 1, 0, 4, 2, 0, 0, 1]);
    close(multiply(scaling(3, 4), translation(1, 2)), [3, 0, 3, 0, 4, 8, 0, 0, 1]);
    pt(applyToPoint(compose(translation(1, 2), scaling(3, 4)), 1, 1), [4, 6]);
  });
  it('inverts', () => {
    const m = compose(translation(5, -3), augmentationMatrix({ rotation: 17, shear: 4, zoomX: 0.9, zoomY: 0.85, shiftX: 2, shiftY: -1 }));
    close(multiply(m, invert(m)), [1, 0, 0, 0, 1, 0, 0, 0, 1], 1e-9);
  });
});

describe('augmentationMatrix (the kernel build_transform, in x/y order)', () => {
  it('rotates counter-clockwise in image coordinates', () => {
    const m = augmentationMatrix({ ...IDENTITY_AUGMENTATION, rotation: 90 });
    close(m, [0, -1, 0, 1, 0, 0, 0, 0, 1]);
  });
  it('shears rows: y += sin(s) x, x *= cos(s)', () => {
    const s = (10 * Math.PI) / 180;
    close(augmentationMatrix({ ...IDENTITY_AUGMENTATION, shear: 10 }), [Math.cos(s), 0, 0, Math.sin(s), 1, 0, 0, 0, 1]);
  });
  it('divides by zoom and subtracts the shift', () => {
    close(augmentationMatrix({ ...IDENTITY_AUGMENTATION, zoomX: 0.8, zoomY: 0.5, shiftX: 4, shiftY: -2 }), [1.25, 0, -5, 0, 2, 4, 0, 0, 1]);
  });
  it('composes rotation · shear · zoom · shift', () => {
    const a = { rotation: 3, shear: -2, zoomX: 0.9, zoomY: 0.95, shiftX: 1.5, shiftY: -0.5 };
    const r = (3 * Math.PI) / 180;
    const s = (-2 * Math.PI) / 180;
    const expected = compose(
      [Math.cos(r), -Math.sin(r), 0, Math.sin(r), Math.cos(r), 0, 0, 0, 1],
      [Math.cos(s), 0, 0, Math.sin(s), 1, 0, 0, 0, 1],
      scaling(1 / 0.9, 1 / 0.95),
      translation(-1.5, 0.5),
    );
    close(augmentationMatrix(a), [...expected]);
  });
});

describe('paddedBox', () => {
  it('pads the height of a wide box to the aspect', () => {
    expect(paddedBox({ x0: 100, y0: 100, x1: 315, y1: 150 }, 1000, 1000, 0, 2.15)).toEqual({ x0: 100, y0: 75, x1: 315, y1: 175 });
  });
  it('pads the width of a tall box to the aspect', () => {
    const b = paddedBox({ x0: 100, y0: 100, x1: 200, y1: 200 }, 1000, 1000, 0, 2.15);
    expect(b.x0).toBeCloseTo(100 - 57.5, 9);
    expect(b.x1).toBeCloseTo(200 + 57.5, 9);
    expect(b.y0).toBe(100);
  });
  it('adds the margin, clips to the photo, then pads', () => {
    // 5% of 200 = 10 on each side; x clipped at 0; y: 40 -> 35..85 (no clipping)
    const b = paddedBox({ x0: 5, y0: 40, x1: 205, y1: 80 }, 1000, 1000, 0.05, 2.15);
    expect(b.x0).toBe(0);
    expect(b.x1).toBe(215);
    expect((b.x1 - b.x0) / (b.y1 - b.y0)).toBeCloseTo(2.15, 9);
  });
});

describe('cropMatrix', () => {
  it('identity augmentation: the box exactly fills the output with the padded aspect', () => {
    const box = { x0: 100, y0: 200, x1: 530, y1: 400 }; // 430 x 200 = aspect 2.15
    const m = cropMatrix({ width: 1000, height: 800, box, margin: 0, aspect: 2.15, outputSize: 64 });
    pt(applyToPoint(m, 0, 0), [100, 200]);
    pt(applyToPoint(m, 64, 64), [530, 400]);
    pt(applyToPoint(m, 32, 32), [315, 300]);
    close(m, [430 / 64, 0, 100, 0, 200 / 64, 200, 0, 0, 1], 1e-9);
  });
  it('maps the padded box corner to the output corner (with the default margin)', () => {
    const box = { x0: 300, y0: 300, x1: 500, y1: 350 };
    const p = paddedBox(box, 1000, 1000, 0.05, 2.15);
    const inv = invert(cropMatrix({ width: 1000, height: 1000, box, outputSize: 384 }));
    pt(applyToPoint(inv, p.x0, p.y0), [0, 0]);
    pt(applyToPoint(inv, p.x1, p.y1), [384, 384]);
  });
  it('uses the whole photo when there is no box', () => {
    const m = cropMatrix({ width: 215, height: 100, margin: 0, aspect: 2.15, outputSize: 10 });
    pt(applyToPoint(m, 0, 0), [0, 0]);
    pt(applyToPoint(m, 10, 10), [215, 100]);
  });
  it('augments around the box centre: the centre stays put under rotation and zoom', () => {
    const box = { x0: 100, y0: 200, x1: 530, y1: 400 };
    const m = cropMatrix({ width: 1000, height: 800, box, margin: 0, outputSize: 64, augmentation: { ...IDENTITY_AUGMENTATION, rotation: 4, zoomX: 0.8, zoomY: 0.9 } });
    pt(applyToPoint(m, 32, 32), [315, 300]);
    // a shift of 5% of the box moves the centre by -5% of the box size (kernel's sign)
    const s = cropMatrix({ width: 1000, height: 800, box, margin: 0, outputSize: 64, augmentation: { ...IDENTITY_AUGMENTATION, shiftX: 0.05, shiftY: -0.05 } });
    pt(applyToPoint(s, 32, 32), [315 - 0.05 * 430, 300 + 0.05 * 200]);
  });
  it('turns upside-down photos: output corner (0,0) comes from the far corner of the box', () => {
    const box = { x0: 100, y0: 200, x1: 530, y1: 400 };
    const m = cropMatrix({ width: 1000, height: 800, box, margin: 0, outputSize: 64, rotate180: true });
    pt(applyToPoint(m, 0, 0), [530, 400]);
    pt(applyToPoint(m, 64, 64), [100, 200]);
  });
  it('refuses empty boxes', () => {
    expect(() => cropMatrix({ width: 10, height: 10, box: { x0: 5, y0: 1, x1: 5, y1: 4 }, outputSize: 8 })).toThrow(/Expected x1 > x0 and y1 > y0 for box/);
  });
});

describe('randomAugmentation', () => {
  it('draws within the method ranges and is deterministic for a seed', () => {
    const a = Array.from({ length: 200 }, ((rng) => () => randomAugmentation(rng))(createRng(3)));
    const b = Array.from({ length: 200 }, ((rng) => () => randomAugmentation(rng))(createRng(3)));
    expect(a).toEqual(b);
    const r = METHOD_AUGMENTATION_RANGES;
    for (const x of a) {
      expect(Math.abs(x.rotation)).toBeLessThanOrEqual(r.rotation);
      expect(Math.abs(x.shear)).toBeLessThanOrEqual(r.shear);
      expect(x.zoomX).toBeGreaterThanOrEqual(0.8);
      expect(x.zoomY).toBeLessThanOrEqual(1);
      expect(Math.abs(x.shiftX)).toBeLessThanOrEqual(0.05);
    }
    expect(randomAugmentation(createRng(4))).not.toEqual(a[0]);
  });
});
