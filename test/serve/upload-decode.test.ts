import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { startTestService, type TestService } from '../helpers/service.js';
import { decodeCount } from '../../src/image/decode.js';
import { createImageCache } from '../../src/image/image-cache.js';
import { decodeSideFor } from '../../src/image/crop.js';
import { loadRunModel, type RunModel } from '../../src/predict/run-model.js';
import { openBoxDetector, type BoxDetector } from '../../src/boxes/box-predict.js';
import { shippedBoxModelDir } from '../../src/boxes/box-spec.js';
import { clipBox, orderedBox } from '../../src/boxes/box-transform.js';

// Issue 34 item 2: an upload decoded its photo three times (the catalog's integrity check, the
// fluke detector, the features). Now one decode serves the check and the features, and the box
// too when the detector reduces photos as the run does.
let svc: TestService;
let run: RunModel;
let detector: BoxDetector;
let withBoxes = '';

/** A catalog photo re-encoded larger (other bytes, so a new photo; large enough that every decode reduces it). */
async function newPhoto(index: number): Promise<Buffer> {
  const image = [...svc.labels.keys()][index];
  return sharp(readFileSync(path.join(svc.data, 'train', image))).resize({ width: 900 }).jpeg({ quality: 80 }).toBuffer();
}

async function upload(url: string, bytes: Buffer, name: string): Promise<{ photo: { id: number; box: unknown }; identification: { compared: number } | null; error?: string }> {
  const form = new FormData();
  form.append('photo', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), name);
  const res = await fetch(`${url}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${svc.token}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: [never] }).results[0];
}

/** The features of a catalog photo computed from its file, as the gallery's are (decodeGrey at the run's reduction). */
async function featuresFromFile(photoId: number): Promise<Float32Array> {
  const photo = await svc.catalog.photo(photoId);
  const cache = createImageCache({ maxSide: decodeSideFor(run.crop.size) });
  return run.inference.features(cache, [{ file: svc.catalog.photoFile(photo), box: photo.box ?? undefined }], run.crop);
}

describe('an uploaded photo is decoded once', () => {
  beforeAll(async () => {
    svc = await startTestService();
    run = await loadRunModel(svc.run, { threads: 1 });
    detector = await openBoxDetector(shippedBoxModelDir());
    withBoxes = await svc.another({ boxDetector: detector });
  }, 240_000);
  afterAll(async () => {
    await run?.inference.dispose();
    await detector?.dispose();
  });

  it('without a box model: one decode checks it and gives its features, equal to those computed from its file', async () => {
    const before = decodeCount();
    const item = await upload(svc.url, await newPhoto(1), 'one.jpg');
    // was 2: the catalog's integrity check and the features each decoded the photo
    expect(decodeCount() - before).toBe(1);
    expect(item.identification!.compared).toBeGreaterThan(0);
    const stored = (await svc.catalog.getFeatures(svc.identifier.modelVersion, [item.photo.id])).get(item.photo.id)!;
    expect(Array.from(stored)).toEqual(Array.from(await featuresFromFile(item.photo.id)));
  }, 60_000);

  it('with the fluke detector: its box and features as computed from the file; a second decode only at the detector\'s other reduction', async () => {
    const before = decodeCount();
    const item = await upload(withBoxes, await newPhoto(2), 'boxed.jpg');
    const sides = [decodeSideFor(run.crop.size), decodeSideFor(detector.spec.inputSize)];
    // was 3; one decode per reduction the photo's pixels are needed at
    expect(decodeCount() - before).toBe(new Set(sides).size);
    const photo = await svc.catalog.photo(item.photo.id);
    expect(photo.boxSource).toBe('model');
    const [box] = await detector.detect([await createImageCache({ maxSide: sides[1] }).load(svc.catalog.photoFile(photo))]);
    expect(photo.box).toEqual(clipBox(orderedBox(box), 0, 0, photo.width, photo.height));
    const stored = (await svc.catalog.getFeatures(svc.identifier.modelVersion, [photo.id])).get(photo.id)!;
    expect(Array.from(stored)).toEqual(Array.from(await featuresFromFile(photo.id)));
  }, 60_000);
});
