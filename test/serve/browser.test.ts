import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service.js';

/** Debian's Chromium (installed by .ci/run); the test skips with a message where it is missing. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => existsSync(f));
if (!CHROMIUM) console.warn('browser tests skipped: no /usr/bin/chromium (apt-get install chromium)');

describe.skipIf(!CHROMIUM)('review page in headless Chromium', () => {
  let svc: TestService;
  let browser: Browser;
  beforeAll(async () => {
    svc = await startTestService();
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('uploads a photo, shows candidates, confirms a match by keyboard and finds it on the individual page', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // the photo: a catalog whale's fluke, cut to its box and re-encoded, as a field photo would be
    const [image, whale] = [...svc.labels.entries()].filter(([, id]) => id !== 'new_whale')[2];
    const box = readFileSync(path.join(svc.data, 'bounding_boxes.csv'), 'utf8').split('\n').find((l) => l.startsWith(`${image},`))!.split(',').slice(1).map(Number);
    const file = path.join(svc.dir, 'field-photo.jpg');
    writeFileSync(file, await sharp(path.join(svc.data, 'train', image)).extract({ left: box[0], top: box[1], width: box[2] - box[0], height: box[3] - box[1] }).jpeg({ quality: 80 }).toBuffer());

    await page.goto(svc.url);
    await page.fill('#token', svc.token);
    await page.dispatchEvent('#token', 'change');
    await page.fill('#user', 'tester');
    await page.dispatchEvent('#user', 'change');
    await page.setInputFiles('#files', file);
    // the upload opens the review screen of the new photo
    await page.waitForSelector('[data-testid=candidate]');
    const candidates = page.locator('[data-testid=candidate]');
    expect(await candidates.count()).toBe(5);
    const names = await candidates.locator('h3 a').allTextContents();
    const rank = names.indexOf(whale);
    expect(rank, `${whale} among ${names.join(', ')}`).toBeGreaterThanOrEqual(0);
    const individualId = Number(await candidates.nth(rank).getAttribute('data-individual'));
    const photoId = Number(/#\/review\/(\d+)/.exec(page.url())![1]);
    await page.screenshot({ path: path.join(svc.dir, 'review.png') });
    // keyboard review: the candidate's number confirms it
    await page.keyboard.press(String(rank + 1));
    await page.waitForFunction((id) => !(globalThis as unknown as { location: { hash: string } }).location.hash.endsWith(`/review/${id}`), photoId);
    expect(await svc.catalog.photo(photoId)).toMatchObject({ status: 'identified', individualId });
    expect((await svc.catalog.decisions({ photoId }))[0]).toMatchObject({ action: 'confirm', decidedBy: 'tester' });

    await page.goto(`${svc.url}/#/individual/${individualId}`);
    await page.waitForSelector(`[data-testid=individual-photo][data-photo="${photoId}"]`);
    expect(await page.textContent('[data-testid=individual-name]')).toBe(whale);
    expect(errors).toEqual([]);
  });

  it('declares a new individual with the button and skips with the key', async () => {
    const page = await browser.newPage();
    page.on('dialog', (d) => void d.accept('Nova'));
    await page.goto(svc.url);
    await page.fill('#token', svc.token);
    await page.dispatchEvent('#token', 'change');
    const files = [path.join(svc.dir, 'n1.png'), path.join(svc.dir, 'n2.png')];
    for (const [i, f] of files.entries()) writeFileSync(f, await sharp({ create: { width: 300 + i, height: 140, channels: 3, background: i ? '#135' : '#531' } }).png().toBuffer());
    await page.setInputFiles('#files', files);
    await page.waitForSelector('[data-testid=new-individual]');
    const first = Number(/#\/review\/(\d+)/.exec(page.url())![1]);
    await page.click('[data-testid=new-individual]');
    await page.waitForFunction((id) => !(globalThis as unknown as { location: { hash: string } }).location.hash.endsWith(`/review/${id}`), first);
    expect(await svc.catalog.individualByName('Nova')).toBeDefined();
    expect((await svc.catalog.photo(first)).individualId).toBe((await svc.catalog.individualByName('Nova'))!.id);
    const second = Number(/#\/review\/(\d+)/.exec(page.url())![1]);
    await page.waitForSelector('[data-testid=skip]');
    await page.keyboard.press('s');
    await expect.poll(async () => (await svc.catalog.photo(second)).status).toBe('skipped');
  });

  it('undoes the last decision with the key: the photo is back in review', async () => {
    const page = await browser.newPage();
    await page.goto(svc.url);
    await page.fill('#token', svc.token);
    await page.dispatchEvent('#token', 'change');
    const file = path.join(svc.dir, 'u1.png');
    writeFileSync(file, await sharp({ create: { width: 310, height: 150, channels: 3, background: '#246' } }).png().toBuffer());
    await page.setInputFiles('#files', file);
    await page.waitForSelector('[data-testid=skip]');
    const photoId = Number(/#\/review\/(\d+)/.exec(page.url())![1]);
    await page.keyboard.press('s');
    await expect.poll(async () => (await svc.catalog.photo(photoId)).status).toBe('skipped');
    await page.waitForSelector('[data-testid=undo]:not([disabled])');
    await page.keyboard.press('u');
    await expect.poll(async () => (await svc.catalog.photo(photoId)).status).toBe('pending');
    await page.waitForFunction((id) => (globalThis as unknown as { location: { hash: string } }).location.hash.endsWith(`/review/${id}`), photoId);
    expect((await svc.catalog.decisions({ photoId }))[0]).toMatchObject({ action: 'undo' });
  });
});
