import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service.js';

/** Debian's Chromium (installed by .ci/run); the tests skip with a message where it is missing. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => existsSync(f));
if (!CHROMIUM) console.warn('review page browser tests skipped: no /usr/bin/chromium (apt-get install chromium)');
/** Where screenshots go when a person wants to look at the page (not in CI). */
const SHOTS = process.env.WHALEID_SCREENSHOTS;
const HERVEY_BAY = { latitude: -25.1, longitude: 152.9 };
/**
 * The page's document, for the predicates below: they are passed as functions, as the service's
 * Content-Security-Policy (script-src 'self') forbids the page to evaluate strings.
 */
declare const document: { querySelector(s: string): any; querySelectorAll(s: string): Iterable<any> & { length: number } }; // eslint-disable-line @typescript-eslint/no-explicit-any

const dms = (v: number): string => {
  const a = Math.abs(v);
  const d = Math.floor(a);
  const m = Math.floor((a - d) * 60);
  return `${d}/1 ${m}/1 ${Math.round(((a - d) * 60 - m) * 600000)}/10000`;
};

describe.skipIf(!CHROMIUM)('review page: sightings, maps, boxes, comparison, undo and merges in headless Chromium', () => {
  let svc: TestService;
  let browser: Browser;
  const whales = (): [string, string][] => [...svc.labels.entries()].filter(([, id]) => id !== 'new_whale');

  /** A catalog whale's photo as a field camera writes it: re-encoded, with EXIF date and GPS. */
  async function fieldPhoto(index: number, name: string, takenAt: string, position: { latitude: number; longitude: number }): Promise<string> {
    const [image] = whales()[index];
    const file = path.join(svc.dir, name);
    writeFileSync(file, await sharp(path.join(svc.data, 'train', image)).jpeg({ quality: 85 }).withExif({
      IFD0: { Make: 'whaleid-test' }, IFD2: { DateTimeOriginal: takenAt },
      IFD3: { GPSLatitudeRef: position.latitude < 0 ? 'S' : 'N', GPSLatitude: dms(position.latitude), GPSLongitudeRef: position.longitude < 0 ? 'W' : 'E', GPSLongitude: dms(position.longitude) },
    }).toBuffer());
    return file;
  }

  async function openPage(): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('dialog', (d) => void d.accept());
    await page.goto(svc.url);
    await page.fill('#token', svc.token);
    await page.dispatchEvent('#token', 'change');
    await page.fill('#user', 'tester');
    await page.dispatchEvent('#user', 'change');
    return { page, errors };
  }
  const reviewed = (page: Page): number => Number(/#\/review\/(\d+)/.exec(page.url())![1]);

  beforeAll(async () => {
    svc = await startTestService();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the EXIF date and GPS, groups one upload into a sighting, corrects details and moves a photo to its own sighting', async () => {
    const { page, errors } = await openPage();
    const files = [
      await fieldPhoto(0, 'IMG_1001.jpg', '2022:08:14 09:10:00', HERVEY_BAY),
      await fieldPhoto(4, 'IMG_1002.jpg', '2022:08:14 09:25:00', { latitude: HERVEY_BAY.latitude + 0.01, longitude: HERVEY_BAY.longitude }),
    ];
    await page.setInputFiles('#files', files);
    await page.waitForSelector('[data-testid=photo-details]');
    const first = reviewed(page);
    expect(await page.textContent('[data-testid=taken-on]')).toBe("2022-08-14 09:10 from the camera's EXIF");
    expect(await page.textContent('[data-testid=position]')).toBe("25.1000° S, 152.9000° E from the camera's GPS (EXIF)");
    // plain words: a match score beside its threshold, the box in words
    const scoreText = await page.locator('[data-testid=match-score]').first().textContent();
    expect(scoreText).toMatch(/^match score \d\.\d{3} (above|below) the threshold \d\.\d{3}$/);
    expect(await page.textContent('[data-testid=box-words]')).toMatch(/^Fluke box found automatically|^No fluke box yet: the whole photo is compared/);
    expect(await page.locator('.review').textContent()).not.toMatch(/box: none|\d%/);
    // each candidate's earlier sightings are listed
    expect(await page.locator('[data-testid=candidate-sightings]').count()).toBe(5);
    // the upload is one sighting: the other photo is shown in it
    const second = (await svc.catalog.listPhotos({ search: 'IMG_1002' })).items[0].id;
    await page.waitForSelector(`[data-testid=sighting-photo][href="#/review/${second}"]`);
    const encounter = (await svc.catalog.photo(first)).encounterId;
    expect(encounter).not.toBeNull();
    expect((await svc.catalog.photo(second)).encounterId).toBe(encounter);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'review.png'), fullPage: true });

    // correct the place and position by hand
    await page.click('[data-testid=edit-details]');
    await page.fill('[data-testid=edit-place]', 'Hervey Bay');
    await page.fill('[data-testid=edit-latitude]', '-25.2');
    await page.fill('[data-testid=edit-longitude]', '152.95');
    await page.click('[data-testid=save-details]');
    await page.waitForFunction(() => document.querySelector('[data-testid=position]')?.textContent?.startsWith('25.2000° S'));
    expect(await page.textContent('[data-testid=position]')).toBe('25.2000° S, 152.9500° E entered by hand');
    expect(await svc.catalog.photo(first)).toMatchObject({ location: 'Hervey Bay', latitude: -25.2, longitude: 152.95, positionSource: 'user', takenOnSource: 'exif' });

    // move it to a sighting of its own, then back
    await page.selectOption('[data-testid=move-sighting]', 'new');
    await expect.poll(async () => (await svc.catalog.photo(first)).encounterId).not.toBe(encounter);
    await page.waitForSelector(`[data-testid=sighting]:not([data-encounter="${encounter}"])`);
    await page.selectOption('[data-testid=move-sighting]', String(encounter));
    await expect.poll(async () => (await svc.catalog.photo(first)).encounterId).toBe(encounter);
    expect(errors).toEqual([]);
  });

  it('draws a fluke box on the whole photo, then moves it by dragging', async () => {
    const { page, errors } = await openPage();
    const photo = (await svc.catalog.listPhotos({ search: 'IMG_1002' })).items[0];
    await page.goto(`${svc.url}/#/review/${photo.id}`);
    await page.click('[data-testid=edit-box]');
    await page.waitForFunction(() => document.querySelector('[data-testid=box-stage] img')?.naturalWidth > 0);
    const img = (await page.locator('[data-testid=box-stage] img').boundingBox())!;
    const k = img.width / photo.width;
    // draw from (10%, 20%) to (70%, 80%) of the photo
    await page.mouse.move(img.x + img.width * 0.1, img.y + img.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(img.x + img.width * 0.4, img.y + img.height * 0.5, { steps: 4 });
    await page.mouse.move(img.x + img.width * 0.7, img.y + img.height * 0.8, { steps: 4 });
    await page.mouse.up();
    await page.click('[data-testid=box-save]');
    await expect.poll(async () => (await svc.catalog.photo(photo.id)).boxSource).toBe('user');
    const drawn = (await svc.catalog.photo(photo.id)).box!;
    expect(drawn.x0).toBeCloseTo(photo.width * 0.1, -1);
    expect(drawn.y1).toBeCloseTo(photo.height * 0.8, -1);
    await page.waitForFunction(() => document.querySelector('[data-testid=box-words]')?.textContent?.startsWith('Fluke box drawn by hand'));

    // move it 40 screen pixels right and 10 up, by dragging inside it
    await page.click('[data-testid=edit-box]');
    await page.waitForFunction(() => document.querySelector('[data-testid=box-rect]')?.hidden === false);
    const rect = (await page.locator('[data-testid=box-rect]').boundingBox())!;
    await page.mouse.move(rect.x + rect.width / 2, rect.y + rect.height / 2);
    await page.mouse.down();
    await page.mouse.move(rect.x + rect.width / 2 + 40, rect.y + rect.height / 2 - 10, { steps: 5 });
    await page.mouse.up();
    await page.click('[data-testid=box-save]');
    await expect.poll(async () => (await svc.catalog.photo(photo.id)).box!.x0).not.toBe(drawn.x0);
    const moved = (await svc.catalog.photo(photo.id)).box!;
    expect(moved.x0 - drawn.x0).toBeCloseTo(40 / k, -1);
    expect(moved.y0 - drawn.y0).toBeCloseTo(-10 / k, -1);
    expect(moved.x1 - moved.x0).toBeCloseTo(drawn.x1 - drawn.x0, 0);
    expect(errors).toEqual([]);
  });

  it('compares query and candidate side by side, zooming both together', async () => {
    const { page, errors } = await openPage();
    const photo = (await svc.catalog.listPhotos({ search: 'IMG_1001' })).items[0];
    await page.goto(`${svc.url}/#/review/${photo.id}`);
    await page.locator('[data-testid=compare-open]').first().click();
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=compare] img')].every((i) => i.naturalWidth > 0 && i.dataset.zoom === '1.00'));
    await page.click('[data-testid=zoom-in]');
    const box = (await page.locator('[data-testid=compare-query]').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -200);
    const zooms = (await page.evaluate("[...document.querySelectorAll('[data-testid=compare] img')].map((i) => Number(i.dataset.zoom))")) as number[];
    expect(zooms[0]).toBeGreaterThan(1.5);
    expect(zooms[1]).toBeCloseTo(zooms[0], 2);
    // the whole photos at full resolution
    await page.click('[data-testid=whole-photos]');
    await page.waitForFunction(() => document.querySelector('[data-testid=compare-query] img').src.endsWith('/image'));
    await page.keyboard.press('Escape');
    expect(await page.locator('[data-testid=compare]').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it("confirms, shows the photo's decision history and undoes its last decision", async () => {
    const { page, errors } = await openPage();
    const photo = (await svc.catalog.listPhotos({ search: 'IMG_1001' })).items[0];
    await page.goto(`${svc.url}/#/review/${photo.id}`);
    await page.waitForSelector('[data-testid=candidate]');
    const individualId = Number(await page.locator('[data-testid=candidate]').first().getAttribute('data-individual'));
    await page.keyboard.press('1');
    await expect.poll(async () => (await svc.catalog.photo(photo.id)).status).toBe('identified');
    // the page moves on to the next photo; come back to this one
    await page.waitForURL((url) => !url.hash.endsWith(`/review/${photo.id}`));
    await page.goto(`${svc.url}/#/review/${photo.id}`);
    await page.waitForSelector('[data-testid=history] li[data-action=confirm]');
    expect(await page.textContent('[data-testid=status]')).toMatch(/^Already identified/);
    await page.click('[data-testid=undo-photo]');
    await expect.poll(async () => (await svc.catalog.photo(photo.id))).toMatchObject({ status: 'pending', individualId: null });
    await page.waitForSelector('[data-testid=history] li[data-action=undo]');
    expect(await page.locator('[data-testid=history] li').first().textContent()).toMatch(/undid the decision before · by tester/);
    expect(await page.locator('[data-testid=undo-photo]').count()).toBe(0);
    // decided again, for the next test's map
    await page.keyboard.press('1');
    await expect.poll(async () => (await svc.catalog.photo(photo.id)).individualId).toBe(individualId);
    expect(errors).toEqual([]);
  });

  it("lists individuals with thumbnails, last seen and export; draws an individual's sightings on a map; merges another picked by name", async () => {
    const { page, errors } = await openPage();
    const photo = (await svc.catalog.listPhotos({ search: 'IMG_1001' })).items[0];
    const ind = (await svc.catalog.individual(photo.individualId!));
    await page.goto(`${svc.url}/#/individuals`);
    await page.waitForSelector('[data-testid=individual-row]');
    const row = page.locator('[data-testid=individual-row]', { hasText: ind.name });
    expect(await row.locator('[data-testid=last-seen]').textContent()).toBe('2022-08-14');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=thumbnail]')].every((i) => i.complete && i.naturalWidth > 0));
    expect(await page.locator('[data-testid=thumbnail]').count()).toBe((await svc.catalog.listIndividuals({ limit: 1000 })).items.filter((i) => i.coverPhotoId).length);
    expect(await page.getAttribute('[data-testid=export]', 'href')).toBe('/api/export.csv');

    await row.locator('a').last().click();
    await page.waitForSelector('[data-testid=map]');
    await page.waitForFunction(() => document.querySelector('[data-testid=map]').naturalWidth > 0);
    const svg = await (await fetch(`${svc.url}/api/individuals/${ind.id}/map.svg`)).text();
    expect(svg.match(/<g class="sighting"/g)).toHaveLength(1);
    expect(await page.locator('[data-testid=sighting]').first().textContent()).toMatch(/2022-08-14 09:10.*Hervey Bay.*25\.2000° S, 152\.9500° E/);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'individual.png'), fullPage: true });

    // merge another individual, picked by its name from the list
    const other = (await svc.catalog.listIndividuals({ limit: 1000 })).items.find((i) => i.id !== ind.id && i.photoCount)!;
    await page.fill('[data-testid=merge-name]', other.name.slice(0, 5));
    await page.dispatchEvent('[data-testid=merge-name]', 'input');
    await page.locator('[data-testid=merge-match]', { hasText: other.name }).click();
    expect(await page.textContent('[data-testid=merge]')).toBe(`Merge ${other.name} into ${ind.name}`);
    await page.click('[data-testid=merge]');
    await expect.poll(async () => (await svc.catalog.individual(other.id)).mergedInto).toBe(ind.id);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=individual-photo]').length === n, ind.photoCount! + other.photoCount!);
    // a name no other individual has offers nothing to merge
    await page.fill('[data-testid=merge-name]', 'Nobody');
    await page.dispatchEvent('[data-testid=merge-name]', 'input');
    await page.waitForFunction(() => document.querySelector('[data-testid=merge-matches]')?.textContent === 'no other individual has that name');
    expect(await page.isDisabled('[data-testid=merge]')).toBe(true);
    if (SHOTS) {
      // the other photo of that sighting, whose first candidate now has a dated, placed sighting
      const other = (await svc.catalog.listPhotos({ search: 'IMG_1002' })).items[0];
      await page.goto(`${svc.url}/#/review/${other.id}`);
      await page.waitForSelector('[data-testid=candidate-sightings] li');
      await page.screenshot({ path: path.join(SHOTS, 'review-with-sightings.png'), fullPage: true });
    }
    expect(errors).toEqual([]);
  });
});
