import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service.js';
import { tmpDir } from '../helpers/tmp.js';
import { DEFAULT_VERIFY } from '../../src/infer/local/spatial-verify.js';
import { DEFAULT_LOCAL } from '../../src/infer/local/local-features.js';
import { localRecordKey } from '../../src/infer/local/catalog-local-features.js';

/** Debian's Chromium (installed by .ci/run); the browser test skips with a message where it is missing. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => existsSync(f));
if (!CHROMIUM) console.warn('explained matches: browser test skipped: no /usr/bin/chromium (apt-get install chromium)');
/** Where the screenshot goes (WHALEID_SCREENSHOTS, else a temporary folder); docs/explained-match.png is one. */
const SHOTS = process.env.WHALEID_SCREENSHOTS ?? tmpDir('whaleid-shots-');
/** The page's document, for the predicates below (passed as functions: the CSP forbids evaluating strings). */
declare const document: { querySelector(s: string): any; querySelectorAll(s: string): Iterable<any> & { length: number } }; // eslint-disable-line @typescript-eslint/no-explicit-any

type Point = [number, number];
interface Side { photoId: number; width: number; height: number; region: { x0: number; y0: number; x1: number; y1: number } }
interface Answer { query: Side; candidate: Side; frame: string; count: number; tentative: number; inliers: { query: Point; candidate: Point; weight: number }[] }
interface Candidate { individualId: number; name: string; photos: { photoId: number }[] }

/** Least-squares affine map from `from` to `to`: the largest distance of a mapped point to its match. */
function affineResidual(from: readonly Point[], to: readonly Point[]): number {
  // normal equations of [x y 1] * A = [u v], solved by Gaussian elimination (3x3, two right sides)
  const m = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const r = [[0, 0], [0, 0], [0, 0]];
  from.forEach(([x, y], i) => {
    const row = [x, y, 1];
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) m[a][b] += row[a] * row[b];
      r[a][0] += row[a] * to[i][0];
      r[a][1] += row[a] * to[i][1];
    }
  });
  for (let c = 0; c < 3; c++) {
    for (let k = c + 1; k < 3; k++) {
      const f = m[k][c] / m[c][c];
      for (let b = 0; b < 3; b++) m[k][b] -= f * m[c][b];
      for (let b = 0; b < 2; b++) r[k][b] -= f * r[c][b];
    }
  }
  const a = [[0, 0], [0, 0], [0, 0]];
  for (let c = 2; c >= 0; c--) {
    for (let b = 0; b < 2; b++) {
      let v = r[c][b];
      for (let k = c + 1; k < 3; k++) v -= m[c][k] * a[k][b];
      a[c][b] = v / m[c][c];
    }
  }
  return Math.max(...from.map(([x, y], i) => Math.hypot(a[0][0] * x + a[1][0] * y + a[2][0] - to[i][0], a[0][1] * x + a[1][1] * y + a[2][1] - to[i][1])));
}

describe('explained matches: the keypoint correspondences one affine map verifies, through the API and on the review page', () => {
  let svc: TestService;
  /** The catalog's whale photos: id, whale, size. */
  let photos: { id: number; whale: string; width: number; height: number }[];
  const get = async (url: string): Promise<{ status: number; body: Answer & { error?: string } }> => {
    const res = await fetch(`${svc.url}${url}`);
    return { status: res.status, body: (await res.json()) as Answer & { error?: string } };
  };
  const pair = async (q: number, c: number): Promise<Answer> => {
    const { status, body } = await get(`/api/photos/${q}/correspondences?candidate=${c}`);
    expect(status, body.error).toBe(200);
    return body;
  };

  beforeAll(async () => {
    svc = await startTestService();
    const listed = (await svc.catalog.listPhotos({ limit: 1000 })).items;
    photos = listed.filter((p) => svc.labels.has(p.originalName) && svc.labels.get(p.originalName) !== 'new_whale')
      .map((p) => ({ id: p.id, whale: svc.labels.get(p.originalName)!, width: p.width, height: p.height }));
  }, 240_000);

  it('returns the verified pairs of two photos of one whale in each photo\'s pixels, agreeing on one affine map, the same every time', async () => {
    const [a, b] = photos.filter((p) => p.whale === photos[0].whale);
    const r = await pair(a.id, b.id);
    expect(r.frame).toBe('photo');
    expect(r.count).toBe(r.inliers.length);
    expect(r.count).toBeGreaterThanOrEqual(DEFAULT_VERIFY.minInliers);
    expect(r.tentative).toBeGreaterThanOrEqual(r.count);
    expect([r.query.photoId, r.candidate.photoId]).toEqual([a.id, b.id]);
    for (const m of r.inliers) {
      // inside each photo (its own size), and inside the region its review crop shows
      for (const [p, side] of [[m.query, r.query], [m.candidate, r.candidate]] as const) {
        expect(p[0]).toBeGreaterThanOrEqual(Math.max(0, side.region.x0) - 1);
        expect(p[0]).toBeLessThanOrEqual(Math.min(side.width, side.region.x1) + 1);
        expect(p[1]).toBeGreaterThanOrEqual(Math.max(0, side.region.y0) - 1);
        expect(p[1]).toBeLessThanOrEqual(Math.min(side.height, side.region.y1) + 1);
      }
      expect(m.weight).toBeGreaterThan(0);
    }
    // crop -> photo is affine on both sides, so the photo-pixel pairs still agree on one map:
    // within RANSAC's 12 crop pixels, scaled to the candidate's photo pixels
    const scale = (r.candidate.region.y1 - r.candidate.region.y0) / 256;
    expect(affineResidual(r.inliers.map((m) => m.query), r.inliers.map((m) => m.candidate))).toBeLessThan(2 * DEFAULT_VERIFY.reprojThreshold * scale);
    expect(await pair(a.id, b.id)).toEqual(r);
    // a read: the keypoints it described (this siamese service stores none) were not written
    expect((await svc.catalog.getFeatureRecords(localRecordKey(DEFAULT_LOCAL), [a.id, b.id])).size).toBe(0);
  });

  it('finds more correspondences between photos of one whale than between photos of two', async () => {
    const whales = [...new Set(photos.map((p) => p.whale))].slice(0, 3);
    const first = whales.map((w) => photos.filter((p) => p.whale === w).slice(0, 3));
    const same: number[] = [];
    const other: number[] = [];
    for (const [i, mine] of first.entries()) {
      for (let j = 1; j < mine.length; j++) same.push((await pair(mine[0].id, mine[j].id)).count);
      for (const [k, theirs] of first.entries()) if (k !== i) other.push((await pair(mine[0].id, theirs[1].id)).count);
    }
    const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean(same)).toBeGreaterThan(2 * mean(other) + 4);
  });

  it('refuses bad ids with 400 naming the field and unknown photos with 404; needs no token', async () => {
    const [a, b] = photos;
    const missing = await get(`/api/photos/${a.id}/correspondences`);
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('querystring/candidate: required');
    const word = await get(`/api/photos/${a.id}/correspondences?candidate=abc`);
    expect(word.status).toBe(400);
    expect(word.body.error).toMatch(/^querystring\/candidate must be integer \(received "abc"\)$/);
    const self = await get(`/api/photos/${a.id}/correspondences?candidate=${a.id}`);
    expect(self.status).toBe(400);
    expect(self.body.error).toBe('candidate: another photo than the query expected');
    expect((await get(`/api/photos/0/correspondences?candidate=${b.id}`)).status).toBe(400);
    for (const url of [`/api/photos/99999/correspondences?candidate=${b.id}`, `/api/photos/${a.id}/correspondences?candidate=99999`]) {
      const unknown = await get(url);
      expect(unknown.status).toBe(404);
      expect(unknown.body.error).toBe('photo 99999 not found');
    }
  });

  describe.skipIf(!CHROMIUM)('in headless Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      mkdirSync(SHOTS, { recursive: true });
    }, 120_000);
    afterAll(async () => {
      await browser?.close();
    });

    it('K draws a line per verified keypoint between the query crop and the highlighted candidate\'s photo, and K again hides them', async () => {
      // a photo whose candidates include its own whale with a verified best photo
      let shown: { query: number; index: number; answer: Answer } | null = null;
      for (const p of photos) {
        const { candidates } = (await (await fetch(`${svc.url}/api/photos/${p.id}/candidates?k=5`)).json()) as { candidates: Candidate[] };
        const index = candidates.findIndex((c) => c.name === p.whale && c.photos.length > 0);
        if (index < 0) continue;
        const answer = await pair(p.id, candidates[index].photos[0].photoId);
        if (answer.count >= DEFAULT_VERIFY.minInliers) {
          shown = { query: p.id, index, answer };
          break;
        }
      }
      expect(shown, 'no photo with its own whale among its candidates').not.toBeNull();
      const { query, index, answer } = shown!;
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${svc.url}/#/review/${query}`);
      await page.waitForSelector('[data-testid=candidate]');
      expect(await page.textContent('[data-testid=keys]')).toContain('K shows or hides the keypoints');
      for (let i = 0; i < index; i++) await page.keyboard.press('ArrowDown');
      await page.keyboard.press('k');
      await page.waitForSelector('[data-testid=correspondences][data-state=drawn]');
      const lines = (): Promise<number> => page.evaluate(() => document.querySelectorAll('[data-testid=correspondences] line').length);
      expect(await lines()).toBe(answer.count);
      // drawn under the highlighted candidate, from the left crop to the right one
      expect(await page.locator('.candidate.focus [data-testid=correspondences]').count()).toBe(1);
      const ends = await page.evaluate(() => [...document.querySelectorAll('[data-testid=correspondences] line')].map((l) => [Number(l.getAttribute('x1')), Number(l.getAttribute('x2'))]));
      expect(ends.every(([x1, x2]) => x1 >= -1 && x1 <= 481 && x2 >= 495 && x2 <= 977)).toBe(true);
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=correspondences] image')].every((i) => i.getBBox().width > 0));
      const shot = path.join(SHOTS, 'explained-match.png');
      await page.locator('.candidate.focus').screenshot({ path: shot });
      expect(statSync(shot).size).toBeGreaterThan(1000);
      await page.keyboard.press('k');
      await page.waitForFunction(() => !document.querySelector('[data-testid=correspondences]'));
      expect(await lines()).toBe(0);
      // the button does what K does
      await page.locator('.candidate.focus [data-testid=explain]').click();
      await page.waitForSelector('[data-testid=correspondences][data-state=drawn]');
      expect(await lines()).toBe(answer.count);
      expect(errors).toEqual([]);
      await page.close();
    }, 120_000);
  });
});
