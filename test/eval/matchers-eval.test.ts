import { describe, it, expect, beforeAll } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { createImageCache } from '../../src/image/image-cache.js';
import { DEFAULT_LOCAL } from '../../src/infer/local/local-features.js';
import { evaluateClosedSet } from '../../src/eval/closed-set.js';
import { evaluateOpenSetMatchers } from '../../src/eval/matched-open-set.js';
import type { LocalSide } from '../../src/infer/fusion/gallery-scores.js';

// 8 "individuals", each a scene photographed twice (the second turned, shifted, recompressed),
// named like nyala flanks so the view pattern has something to split on
const dir = tmpDir('whaleid-matchers-');
const photos: { image: string; id: string; file: string }[] = [];
let local: LocalSide;

beforeAll(async () => {
  for (let s = 0; s < 8; s++) {
    const scene = await scenePhoto(300 + s, 560, 280);
    for (const [k, buf] of [scene, await sharp(scene).rotate(5, { background: '#456' }).extract({ left: 20, top: 15, width: 540, height: 270 }).jpeg({ quality: 85 }).toBuffer()].entries()) {
      const image = `w${s}/${10 * s + k}_leftphoto.jpg`;
      const file = path.join(dir, `${s}-${k}.jpg`);
      writeFileSync(file, buf);
      photos.push({ image, id: `w${s}`, file });
    }
  }
  local = { cache: createImageCache({ maxSide: 1024 }), settings: { ...DEFAULT_LOCAL, maxKeypoints: 150 }, cacheDir: path.join(dir, 'local') };
});

/** A Siamese stand-in that knows nothing: every pair scores 0.5 (the fusion must lean on local). */
const blind = async (q: readonly unknown[], g: readonly unknown[]): Promise<Float32Array> => new Float32Array(q.length * g.length).fill(0.5);

describe('closed-set and open-set protocols with the local and fused matchers', () => {
  it('closed set, leave one out: the local matcher finds every pair; the blind Siamese is at chance; fused follows local', async () => {
    const requests = photos.map((p) => ({ file: p.file }));
    const r = await evaluateClosedSet(photos, requests, ['siamese', 'local', 'fused'], { siamese: blind, local }, { view: /left|right/, seed: 1 });
    expect(r.figures.local!.top1).toBe(1);
    expect(r.figures.fused!.top1).toBe(1);
    expect(r.figures.siamese!.top1).toBeLessThan(0.5);
    expect(r.figures.local!.queries + r.calibrationQueries).toBe(16);
    expect(r.fusion!.weights[1] + r.fusion!.weights[3]).toBeGreaterThan(0);
  });

  it('open set: the threshold calibrated on local scores sends the new individuals\' queries to new_whale', async () => {
    const requests = photos.map((p) => ({ file: p.file }));
    const r = await evaluateOpenSetMatchers(photos, requests, ['local'], { local }, { seed: 2, newShare: 0.4, calibrationShare: 0.4 });
    const res = r.results.local!;
    expect(res.test.map5).toBe(1);
    expect(res.newWhale.recall).toBe(1);
  });

  it('refuses matchers whose side is missing', async () => {
    await expect(evaluateClosedSet(photos, [], ['fused'], { local })).rejects.toThrow(/need a trained run/);
    await expect(evaluateOpenSetMatchers(photos, [], ['local'], {})).rejects.toThrow(/need the local side/);
  });
});
