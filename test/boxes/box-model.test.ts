import { describe, it, expect, beforeAll } from 'vitest';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { createBoxModel } from '../../src/boxes/box-model.js';
import { boxInputMatrix, outputToBox, resolveBoxModelSpec, DEFAULT_BOX_MODEL } from '../../src/boxes/box-spec.js';
import { openBoxDetector } from '../../src/boxes/box-predict.js';
import { boxInputs } from '../../src/boxes/box-train.js';
import { exportLayersModelOnnx } from '../../src/model/onnx/onnx-export.js';
import { writeFileAtomic } from '../../src/util/atomic-file.js';
import { rectanglePhoto } from '../helpers/boxes.js';
import { tmpDir } from '../helpers/tmp.js';

beforeAll(async () => {
  await initEngine();
});

describe('createBoxModel', () => {
  it("builds the method's model: 128 px greyscale in, 4 numbers out, 64-filter convs", () => {
    const m = createBoxModel();
    expect(m.inputs[0].shape).toEqual([null, 128, 128, 1]);
    expect(m.outputs[0].shape).toEqual([null, 4]);
    const convs = m.layers.filter((l) => l.getClassName() === 'Conv2D').map((c) => (c.getConfig() as { filters: number }).filters);
    expect(convs).toEqual([64, 64, 64, 1, 1, 1, 1]); // the stack, then one logit map per edge
    expect(m.countParams()).toBe(81732);
    m.dispose();
  });
  it('reads each edge as an expected position: a uniform softmax gives the centre, a peaked one its cell', () => {
    const m = createBoxModel({ inputSize: 64, filters: 4 }, 1);
    const pos = m.getLayer('x0_position');
    expect(pos.trainable).toBe(false);
    const w = Array.from(pos.getWeights()[0].dataSync());
    expect(w).toHaveLength(8);
    expect(w[0]).toBeCloseTo(1 / 16, 9);
    expect(w[7]).toBeCloseTo(15 / 16, 9);
    expect(w.reduce((a, b) => a + b, 0) / 8).toBeCloseTo(0.5, 9);
    m.dispose();
  });
  it('is the same model for the same seed', () => {
    const a = createBoxModel({ inputSize: 32, filters: 4 }, 5);
    const b = createBoxModel({ inputSize: 32, filters: 4 }, 5);
    const c = createBoxModel({ inputSize: 32, filters: 4 }, 6);
    const w = (m: tf.LayersModel) => m.getWeights().map((t) => Array.from(t.dataSync()));
    expect(w(b)).toEqual(w(a));
    expect(w(c)).not.toEqual(w(a));
    [a, b, c].forEach((m) => m.dispose());
  });
  it('refuses specs it cannot build', () => {
    expect(() => resolveBoxModelSpec({ inputSize: 12 })).toThrow(/at least 16/);
    expect(() => resolveBoxModelSpec({ filters: 0 })).toThrow(/filters/);
  });
});

describe('ONNX export of the box model', () => {
  const dir = tmpDir();
  it('gives the boxes tfjs gives, through the detector', async () => {
    const spec = { ...DEFAULT_BOX_MODEL, inputSize: 64, filters: 8 };
    const model = createBoxModel(spec, 3);
    // Non-trivial BatchNorm statistics, so that inference-mode BN is exercised.
    model.compile({ optimizer: tf.train.adam(1e-2), loss: 'meanSquaredError' });
    const photos = [rectanglePhoto(300, 200, { x0: 50, y0: 60, x1: 200, y1: 120 }), rectanglePhoto(500, 180, { x0: 10, y0: 10, x1: 490, y1: 170 })];
    const x = tf.tensor4d(boxInputs(photos.map((img) => ({ img })), spec), [2, 64, 64, 1]);
    await model.fit(x, tf.tensor2d([[0.2, 0.3, 0.6, 0.6], [0.1, 0.2, 0.9, 0.8]]), { epochs: 3, batchSize: 2, verbose: 0 });
    const y = (model.predict(x) as tf.Tensor).dataSync();
    const want = photos.map((img, k) => outputToBox(y, boxInputMatrix(img.originalWidth, img.originalHeight, spec), 64, img.originalWidth, img.originalHeight, 4 * k));
    const bytes = exportLayersModelOnnx(model, { inputNames: ['image'], outputNames: ['box'], metadata: { 'whaleid.kind': 'fluke-boxes', 'whaleid.aspect': String(spec.aspect) } });
    await writeFileAtomic(path.join(dir, 'model.onnx'), bytes);
    const detector = await openBoxDetector(dir, { threads: 1 });
    expect(detector.spec).toEqual({ inputSize: 64, aspect: 2.15 });
    const got = await detector.detect(photos);
    got.forEach((b, k) => (['x0', 'y0', 'x1', 'y1'] as const).forEach((key) => expect(b[key]).toBeCloseTo(want[k][key], 2)));
    await detector.dispose();
    model.dispose();
  });
  it('refuses an ONNX file that is not a box model', async () => {
    await writeFileAtomic(path.join(dir, 'other.onnx'), exportLayersModelOnnx(createBoxModel({ inputSize: 32, filters: 2 }), { inputNames: ['image'], outputNames: ['box'] }));
    await expect(openBoxDetector(path.join(dir, 'other.onnx'))).rejects.toThrow(/not a whaleid box model/);
    await expect(openBoxDetector(path.join(dir, 'missing'))).rejects.toThrow(/Cannot read box model .*model\.onnx: ENOENT/);
  });
});
