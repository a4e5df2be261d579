import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service.js';
import { tmpDir } from '../helpers/tmp.js';
import { readBoxes } from '../../src/image/boxes.js';
import { FUSION_FEATURES } from '../../src/infer/fusion/fusion-model.js';
import { decodeLocalFeatures } from '../../src/infer/local/local-feature-store.js';
import { DEFAULT_LOCAL, keypointCount } from '../../src/infer/local/local-features.js';
import { readMatcherCalibration } from '../../src/infer/matchers/matcher-calibration.js';
import { createIdentifier } from '../../src/serve/identifier.js';
import { localRecordKey } from '../../src/serve/local-gallery.js';
import { runCli } from '../helpers/cli.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => existsSync(f));
if (!CHROMIUM) console.warn('review page matcher scores: browser part skipped: no /usr/bin/chromium (apt-get install chromium)');

interface Candidate { individualId: number; name: string; score: number; siamese: number; local?: number; inliers?: number; fused?: number; photos: { photoId: number; score: number }[] }
interface Identification { matcher: string; threshold: number; suggestion: string; compared: number; candidates: Candidate[] }

/**
 * A calibration as `evaluate-open --matcher fused` writes it, written by hand: a fusion that
 * trusts both scores and both ranks (what fits on real validation queries look like), and a
 * threshold on the fused score.
 */
const FUSED = { matcher: 'fused', threshold: 0.5, fusion: { version: 1, features: [...FUSION_FEATURES], weights: [0.5, 1.5, 1, 2], bias: -5, fittedOn: { queries: 40, samples: 400, positives: 40, logLoss: 0.1 } } };

describe('photo-ID service with --matcher fused and local: descriptors in the catalog, three scores per candidate', () => {
  let svc: TestService;
  let calibrationFile: string;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${svc.token}` });
  const whales = (): [string, string][] => [...svc.labels.entries()].filter(([, id]) => id !== 'new_whale');

  /** A catalog photo re-encoded (other bytes, same picture: a duplicate-like sibling), uploaded with its box. */
  async function uploadSibling(index: number, quality: number): Promise<{ whale: string; image: string; photoId: number; identification: Identification }> {
    const [image, whale] = whales()[index];
    const bytes = await sharp(readFileSync(path.join(svc.data, 'train', image))).jpeg({ quality }).toBuffer();
    const form = new FormData();
    form.append('photo', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), `sibling-${index}-${quality}.jpg`);
    const res = await fetch(`${svc.url}/api/photos`, { method: 'POST', body: form, headers: auth() });
    expect(res.status).toBe(200);
    const item = ((await res.json()) as { results: { ok: boolean; photo: { id: number } }[] }).results[0];
    expect(item.ok).toBe(true);
    // its box as the catalog photo's (the candidates follow the new crop)
    const box = (await readBoxes(path.join(svc.data, 'bounding_boxes.csv'))).get(image)!;
    const put = await fetch(`${svc.url}/api/photos/${item.photo.id}/box`, { method: 'PUT', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify(box) });
    expect(put.status).toBe(200);
    const ident = (await (await fetch(`${svc.url}/api/photos/${item.photo.id}/candidates`)).json()) as Identification;
    return { whale, image, photoId: item.photo.id, identification: ident };
  }

  beforeAll(async () => {
    calibrationFile = path.join(tmpDir('whaleid-matcher-'), 'open.csv.matcher.json');
    writeFileSync(calibrationFile, JSON.stringify(FUSED));
    svc = await startTestService({}, undefined, { matcher: 'fused', calibration: await readMatcherCalibration(calibrationFile, 'fused') });
  }, 240_000);

  it('stores every gallery photo\'s keypoints and descriptors in the catalog beside its Siamese features', async () => {
    const gallery = await svc.catalog.gallery();
    const ids = gallery.map((r) => r.photoId);
    const records = await svc.catalog.getFeatureRecords(localRecordKey(DEFAULT_LOCAL), ids);
    expect(records.size).toBe(ids.length);
    const f = decodeLocalFeatures(records.get(ids[0])!, DEFAULT_LOCAL, 'record');
    expect(keypointCount(f[0])).toBeGreaterThan(20);
    expect((await svc.catalog.getFeatures(svc.identifier.modelVersion, ids)).size).toBe(ids.length);
  });

  it('ranks by the fused score and returns the Siamese, local (with inliers) and fused scores; the true whale first for a re-encoded sibling', async () => {
    const { whale, image, identification: ident } = await uploadSibling(2, 60);
    expect(ident.matcher).toBe('fused');
    expect(ident.threshold).toBe(0.5);
    expect(ident.candidates.length).toBe(5);
    const [first] = ident.candidates;
    expect(first.name).toBe(whale);
    for (const c of ident.candidates) {
      expect(c.score).toBe(c.fused);
      expect(c.fused).toBeGreaterThan(0);
      expect(c.fused).toBeLessThan(1);
      expect(c.siamese).toBeGreaterThanOrEqual(0);
      expect(c.siamese).toBeLessThanOrEqual(1);
      expect(c.local).toBeGreaterThanOrEqual(0);
      expect(Number.isInteger(c.inliers)).toBe(true);
    }
    // the sibling's keypoints agree with its original: verified, and far above every other whale
    expect(first.inliers).toBeGreaterThanOrEqual(10);
    expect(first.local).toBeGreaterThan(3 * Math.max(...ident.candidates.slice(1).map((c) => c.local!)));
    // the best verified photo comes first: the original
    const original = (await svc.catalog.listPhotos({ search: image })).items.find((p) => p.originalName === image)!;
    expect(first.photos[0].photoId).toBe(original.id);
    expect(ident.suggestion).toBe('match');
    // the documentation says what each score is
    const doc = (await (await fetch(`${svc.url}/api/openapi.json`)).json()) as { paths: Record<string, { get: { responses: { 200: { content: { 'application/json': { schema: { properties: { candidates: { items: { properties: Record<string, unknown> } } } } } } } } } }> };
    const props = doc.paths['/api/photos/{id}/candidates'].get.responses[200].content['application/json'].schema.properties.candidates.items.properties;
    for (const k of ['score', 'siamese', 'local', 'inliers', 'fused']) expect(props).toHaveProperty(k);
  });

  it('the local matcher over the same catalog reads the stored descriptors back, finds the true whale first, and its index grows with confirmed photos', async () => {
    const local = await createIdentifier(svc.catalog, svc.run, { cacheDir: path.join(svc.dir, 'cache'), threads: 1, matcher: 'local', calibration: { matcher: 'local', threshold: 2 } });
    try {
      expect(await local.sync()).toBe(0); // Siamese features and descriptors: all in the catalog already
      const { whale, photoId } = await uploadSibling(5, 55);
      const a = await local.identify(photoId);
      expect(a.matcher).toBe('local');
      expect(a.candidates[0].name).toBe(whale);
      // the local ranking score: the verified score, ties broken by the LNBNN score 1e-9 below it (as predict ranks)
      expect(a.candidates[0].score).toBeCloseTo(a.candidates[0].local!, 6);
      expect(a.candidates[0].fused).toBeUndefined();
      expect(a.candidates[0].inliers).toBeGreaterThanOrEqual(10);
      // confirmed, the sibling joins the gallery (and the index); a second sibling now finds it or its original
      const confirmed = await fetch(`${svc.url}/api/photos/${photoId}/confirm`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ individualId: a.candidates[0].individualId }) });
      expect(confirmed.status).toBe(200);
      const second = await uploadSibling(5, 40);
      const b = await local.identify(second.photoId);
      expect(b.compared).toBe(a.compared + 1);
      expect(b.candidates[0].name).toBe(whale);
      expect(b.candidates[0].local).toBeGreaterThan(a.candidates[0].local! * 0.5);
    } finally {
      await local.close();
    }
  });

  it('refuses --matcher local|fused without a calibration, and a calibration of another matcher', async () => {
    const missing = await runCli('serve', '--catalog', svc.catalog.file, '--model', svc.run, '--matcher', 'fused');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--matcher fused: needs --matcher-calibration FILE, the \.matcher\.json that evaluate-open --matcher fused writes/);
    const other = await runCli('serve', '--catalog', svc.catalog.file, '--model', svc.run, '--matcher', 'local', '--matcher-calibration', calibrationFile);
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/field matcher: expected "local"/);
  });

  describe.skipIf(!CHROMIUM)('review page', () => {
    let browser: Browser;
    afterAll(async () => {
      await browser?.close();
    });

    it('shows each candidate\'s Siamese, local and fused scores, the fused one marked as what the service ranks by', async () => {
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      const { photoId, identification } = await uploadSibling(7, 65);
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${svc.url}/#/review/${photoId}`);
      await page.waitForSelector('[data-testid=candidate-scores]');
      const rows = page.locator('[data-testid=candidate]');
      expect(await rows.count()).toBe(5);
      const first = rows.first();
      const c = identification.candidates[0];
      expect(await first.locator('[data-testid=score-siamese]').textContent()).toBe(`Siamese ${c.siamese.toFixed(3)}`);
      expect(await first.locator('[data-testid=score-local]').textContent()).toBe(`local ${c.local!.toFixed(2)} · ${c.inliers} verified keypoints`);
      expect(await first.locator('[data-testid=score-fused]').textContent()).toBe(`fused ${c.fused!.toFixed(3)} (ranked by)`);
      expect(await page.locator('[data-testid=candidate-scores] .ranked').count()).toBe(5);
      expect(await page.locator('[data-testid=score-fused].ranked').count()).toBe(5);
      expect(errors).toEqual([]);
    });
  });
});
