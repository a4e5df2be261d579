import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startBareService, type BareService } from '../helpers/service.js';
import { scenePhoto } from '../helpers/photos.js';

// issue 31 item 5 on the review page: the signed-in user and role shown (GET /api/me), a
// read-only user sees no deciding control and its keys decide nothing, the history names who decided

/** Debian's Chromium; the test skips with a message where it is missing. */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((f) => existsSync(f));
if (!CHROMIUM) console.warn('accounts page browser test skipped: no /usr/bin/chromium (apt-get install chromium)');
/** The page's globals, for the predicates passed to the page (the CSP forbids evaluating strings). */
declare const document: { querySelector(s: string): { textContent: string | null } | null };
declare const window: { location: { hash: string } };

describe.skipIf(!CHROMIUM)('review page with accounts in headless Chromium', () => {
  let svc: BareService;
  let browser: Browser;
  let photoId: number;
  let reader: string;
  let reviewer: string;

  beforeAll(async () => {
    svc = await startBareService();
    photoId = (await svc.catalog.addPhoto(await scenePhoto(701), { originalName: 'fluke.jpg', uploadedBy: 'import' })).photo.id;
    reader = (await svc.catalog.addUser('rita', 'read-only', 'cli')).token;
    reviewer = (await svc.catalog.addUser('rev', 'reviewer', 'cli')).token;
    // a decision by a named reviewer, then undone: the photo is pending again and its history names rev
    for (const action of ['skip', 'undo']) expect((await svc.json('POST', `/api/photos/${photoId}/${action}`, {}, { authorization: `Bearer ${reviewer}` })).status).toBe(200);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** Enters a token and waits until the header shows who it is (`signedIn` matched) and the mode line. */
  async function signIn(page: Page, token: string, signedIn: RegExp, mode: string): Promise<void> {
    await page.fill('#token', token);
    await page.dispatchEvent('#token', 'change');
    await page.waitForFunction(([s, m]) => new RegExp(s).test(document.querySelector('[data-testid=signed-in]')?.textContent ?? '') && document.querySelector('[data-testid=mode]')?.textContent === m, [signedIn.source, mode]);
  }

  it('shows a read-only user as such, hides the deciding buttons and ignores the deciding keys; a reviewer gets them back', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${svc.url}/#/review/${photoId}`);
    await signIn(page, reader, /^signed in: rita \(read-only\)$/, 'read-only: view only');
    await page.waitForSelector('[data-testid=history] li');
    // the history names who decided
    expect(await page.locator('[data-testid=history] li').allTextContents()).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d · undid the decision before · by rev$/), expect.stringMatching(/ · set aside \(skipped\) · by rev$/),
    ]);
    for (const id of ['skip', 'new-individual', 'undo', 'edit-box', 'undo-photo']) expect(await page.locator(`[data-testid=${id}]`).isVisible(), id).toBe(false);
    // a named user's decisions carry its own name: no free name field
    expect(await page.locator('#user').isVisible()).toBe(false);
    // the photo is there to look at
    expect(await page.locator('[data-testid=query-crop]').isVisible()).toBe(true);
    const shot = path.join(svc.dir, 'accounts-read-only.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    // a person who wants to look sets WHALEID_SCREENSHOTS (as for the review page's test)
    const shots = process.env.WHALEID_SCREENSHOTS;
    if (shots) {
      mkdirSync(shots, { recursive: true });
      copyFileSync(shot, path.join(shots, 'accounts-read-only.png'));
    }
    // S and N decide nothing (not even a refused request)
    const sent: string[] = [];
    page.on('request', (r) => { if (r.method() !== 'GET') sent.push(`${r.method()} ${r.url()}`); });
    await page.locator('#view').focus();
    await page.keyboard.press('s');
    await page.keyboard.press('n');
    await page.waitForTimeout(300);
    expect(sent).toEqual([]);
    expect((await svc.catalog.photo(photoId)).status).toBe('pending');

    await signIn(page, reviewer, /^signed in: rev \(reviewer\)$/, 'may decide');
    expect(await page.locator('[data-testid=skip]').isVisible()).toBe(true);
    await page.locator('#view').focus();
    await page.keyboard.press('s');
    await page.waitForFunction(() => window.location.hash === '#/');
    const last = (await svc.catalog.decisions({ photoId }))[0];
    expect([last.action, last.decidedBy]).toEqual(['skip', 'rev']);

    // a revoked token: the header says so and the page stays view only
    await svc.catalog.revokeUser('rev', 'cli');
    await signIn(page, reviewer, /^the token of user rev was revoked/, 'token refused: view only');
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
