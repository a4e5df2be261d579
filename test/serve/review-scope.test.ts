import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startTestService, type TestService } from '../helpers/service.js';
import { addScopedGallery } from '../helpers/scoped-gallery.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => existsSync(f));
if (!CHROMIUM) console.warn('review page scope: browser test skipped: no /usr/bin/chromium (apt-get install chromium)');
const SHOTS = process.env.WHALEID_SCREENSHOTS;
/** The page's document, for predicates passed as functions (the CSP forbids evaluating strings). */
declare const document: { querySelectorAll(s: string): Iterable<any> & { length: number } }; // eslint-disable-line @typescript-eslint/no-explicit-any

describe.skipIf(!CHROMIUM)('review page: the scope of the candidates, shown and changed, in headless Chromium', () => {
  let svc: TestService;
  let browser: Browser;
  let query = 0;

  beforeAll(async () => {
    svc = await startTestService();
    ({ query } = await addScopedGallery(svc));
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** The candidates' names once the page shows exactly `count` of them. */
  const candidates = async (page: Page, count: number): Promise<string[]> => {
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=candidate]').length === n, count);
    return (await page.locator('[data-testid=candidate] h3 a').allTextContents()).sort();
  };

  it('shows the species and viewpoint applied, and the candidates follow a changed scope', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${svc.url}/#/review/${query}`);
    await page.waitForSelector('[data-testid=scope]');
    expect(await page.textContent('[data-testid=scope-species]')).toBe('megaptera novaeangliae');
    expect(await page.textContent('[data-testid=scope-viewpoint]')).toBe('compatible with left');
    expect(await page.textContent('[data-testid=scope-radius]')).toBe('any');
    expect(await candidates(page, 4)).toEqual(['S-backleft', 'S-far', 'S-fjord', 'S-old']);
    expect(await page.textContent('[data-testid=suggestion]')).toContain('Compared with 4 catalog photos in scope');
    // every viewpoint: the right flank joins (never the orca)
    await page.selectOption('[data-testid=scope-viewpoint-input]', 'any');
    await page.click('[data-testid=scope-apply]');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=scope-viewpoint]')].some((e) => e.textContent === 'any'));
    expect(await candidates(page, 5)).toEqual(['S-backleft', 'S-far', 'S-fjord', 'S-old', 'S-right']);
    // within 50 km and 30 days: the far and the old photos leave
    await page.fill('[data-testid=scope-km-input]', '50');
    await page.fill('[data-testid=scope-days-input]', '30');
    await page.press('[data-testid=scope-days-input]', 'Enter');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=scope-radius]')].some((e) => e.textContent.startsWith('50 km around 64.0000° N, 22.0000° W')));
    expect(await page.textContent('[data-testid=scope-dates]')).toBe('2019-06-04 to 2019-08-03');
    expect(await candidates(page, 3)).toEqual(['S-backleft', 'S-fjord', 'S-right']);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'review-scope.png'), fullPage: true });
    // a bad value: the service's one line is shown, the form stays to correct it
    await page.fill('[data-testid=scope-from-input]', '2019-08-01');
    await page.fill('[data-testid=scope-days-input]', '');
    await page.fill('[data-testid=scope-to-input]', '2019-07-01');
    await page.click('[data-testid=scope-apply]');
    await page.waitForSelector('[data-testid=candidates-error]');
    expect(await page.textContent('[data-testid=candidates-error]')).toBe('scope from (2019-08-01) is after to (2019-07-01)');
    await page.click('[data-testid=scope-clear]');
    expect(await candidates(page, 4)).toEqual(['S-backleft', 'S-far', 'S-fjord', 'S-old']);
    expect(errors).toEqual([]);
  }, 120_000);
});
