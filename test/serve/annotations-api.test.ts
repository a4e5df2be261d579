import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { startTestService, type TestService } from '../helpers/service.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { readBoxes } from '../../src/image/boxes.js';
import { FUSION_FEATURES } from '../../src/infer/fusion/fusion-model.js';
import type { IdentifierOptions } from '../../src/serve/identifier.js';

// issue 31 item 1 through the API, on SQLite and PostgreSQL: a photo with two whales; the second
// one is identified by its own box, confirmed by a named reviewer, and joins the gallery, where it
// is a candidate for another photo of its individual
type Body = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A fused matcher's calibration as `evaluate-open --matcher fused` writes it (as in matcher-api.test.ts): local features of the annotation's own box too. */
const FUSED: Pick<IdentifierOptions, 'matcher' | 'calibration'> = {
  matcher: 'fused',
  calibration: { matcher: 'fused', threshold: 0.5, fusion: { version: 1, features: [...FUSION_FEATURES], weights: [0.5, 1.5, 1, 2], bias: -5, fittedOn: { queries: 40, samples: 400, positives: 40, logLoss: 0.1 } } } as IdentifierOptions['calibration'],
};
// the Siamese matcher on both databases, the fused one (ranked here, with local features) on SQLite
const variants = [...BACKENDS.map((backend) => ({ backend, matcher: {} as Pick<IdentifierOptions, 'matcher' | 'calibration'> })), { backend: BACKENDS[0], matcher: FUSED }];

for (const { backend, matcher } of variants) {
  describe.skipIf(backend.skip !== '')(onBackend(`annotations through the API, ${matcher.matcher ?? 'siamese'} matcher`, backend), () => {
    let svc: TestService;
    let reviewer = '';
    let reader = '';
    let pair = 0;
    let third = 0;
    let rightId = 0;
    let leftName = '';
    const call = async (method: string, url: string, body?: unknown, token?: string): Promise<{ status: number; body: Body }> => {
      const res = await fetch(`${svc.url}${url}`, {
        method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      return { status: res.status, body: await res.json() };
    };

    beforeAll(async () => {
      svc = await startTestService({}, backend, matcher);
      reviewer = (await svc.catalog.addUser('rita', 'reviewer', 'admin')).token;
      reader = (await svc.catalog.addUser('rob', 'read-only', 'admin')).token;
      const boxes = await readBoxes(path.join(svc.data, 'bounding_boxes.csv'));
      // two whales of two individuals, side by side in one picture
      const [[leftImage, leftLabel], [rightImage, rightLabel]] = [...svc.labels.entries()].filter(([, id]) => id !== 'new_whale').filter((e, i, all) => all.findIndex((x) => x[1] === e[1]) === i);
      const left = readFileSync(path.join(svc.data, 'train', leftImage));
      const right = readFileSync(path.join(svc.data, 'train', rightImage));
      const lm = await sharp(left).metadata();
      const rm = await sharp(right).metadata();
      const both = await sharp({ create: { width: lm.width! + rm.width!, height: Math.max(lm.height!, rm.height!), channels: 3, background: { r: 0, g: 0, b: 0 } } })
        .composite([{ input: left, left: 0, top: 0 }, { input: right, left: lm.width!, top: 0 }]).jpeg({ quality: 92 }).toBuffer();
      const lb = boxes.get(leftImage)!;
      const rb = boxes.get(rightImage)!;
      leftName = leftLabel;
      pair = (await svc.catalog.addPhoto(both, {
        originalName: 'pair.jpg', annotations: [
          { box: { x: lb.x0, y: lb.y0, w: lb.x1 - lb.x0, h: lb.y1 - lb.y0 }, viewpoint: 'fluke', individualName: leftLabel },
          { box: { x: lm.width! + rb.x0, y: rb.y0, w: rb.x1 - rb.x0, h: rb.y1 - rb.y0 }, viewpoint: 'fluke' },
        ],
      })).photo.id;
      rightId = (await svc.catalog.individualByName(rightLabel))!.id;
      // another photo of the right whale: other bytes of its picture
      third = (await svc.catalog.addPhoto(await sharp(right).jpeg({ quality: 80 }).toBuffer(), { originalName: 'third.jpg', box: rb })).photo.id;
    }, 240_000);

    it('lists the photo\'s animals, identifies the second by its own box, refuses bad decisions naming the field, and records the confirmation with its annotation and user', async () => {
      const list = await call('GET', `/api/photos/${pair}/annotations`);
      expect(list.status).toBe(200);
      expect(list.body.map((a: Body) => [a.ordinal, a.viewpoint, a.individualId !== null])).toEqual([[0, 'fluke', true], [1, 'fluke', false]]);
      const second = list.body[1].id;
      // each animal's review crop: its own box
      const crops = await Promise.all([`/api/photos/${pair}/crop.jpg`, `/api/photos/${pair}/annotations/${list.body[0].id}/crop.jpg`, `/api/photos/${pair}/annotations/${second}/crop.jpg`].map(async (u) => {
        const res = await fetch(`${svc.url}${u}`);
        expect([res.status, res.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
        return Buffer.from(await res.arrayBuffer());
      }));
      expect(crops[1].equals(crops[0])).toBe(true);
      expect(crops[2].equals(crops[0])).toBe(false);
      // its candidates: its own individual first (its picture is in the gallery), and the photo's other whale is no stand-in for it
      const found = await call('GET', `/api/photos/${pair}/annotations/${second}/candidates?k=3`);
      expect(found.status, JSON.stringify(found.body)).toBe(200);
      expect(found.body.annotationId).toBe(second);
      expect(found.body.candidates[0].individualId).toBe(rightId);
      // the photo's own candidates are its first whale's
      const whole = await call('GET', `/api/photos/${pair}/candidates?k=3`);
      expect(whole.body.candidates[0].name).toBe(leftName);
      expect(whole.body.annotationId).toBeUndefined();
      // refused: no token, a read-only user, fields that are wrong or do not go with the action, another photo's annotation
      const decide = (body: unknown, token = reviewer, url = `/api/photos/${pair}/annotations/${second}/decision`): Promise<{ status: number; body: Body }> => call('POST', url, body, token);
      expect((await call('POST', `/api/photos/${pair}/annotations/${second}/decision`, { action: 'skip' })).status).toBe(401);
      const ro = await decide({ action: 'confirm', individualId: rightId }, reader);
      expect([ro.status, ro.body.error]).toEqual([403, expect.stringMatching(/^user rob \(read-only\) may not upload, decide or change the catalog/)]);
      expect((await decide({ action: 'confirm' })).body.error).toBe('body/individualId: required for action confirm (the individual the annotation shows)');
      expect((await decide({ action: 'skip', individualId: rightId })).body.error).toBe('body/individualId: not a field of action skip (it takes no other field)');
      const unknown = await decide({ action: 'confirm', individualId: rightId, colour: 'grey' });
      expect([unknown.status, unknown.body.error]).toEqual([400, expect.stringContaining('colour')]);
      const badAction = await decide({ action: 'merge' });
      expect([badAction.status, badAction.body.error]).toEqual([400, expect.stringContaining('action')]);
      expect((await decide({ action: 'skip' }, reviewer, `/api/photos/${third}/annotations/${second}/decision`)).status).toBe(404);
      expect((await call('GET', `/api/photos/${pair}/annotations/99999/candidates`)).status).toBe(404);
      // before: the second whale is in no gallery row, so no candidate shows it
      const before = await call('GET', `/api/photos/${third}/candidates?k=50`);
      expect(before.body.candidates.flatMap((c: Body) => c.photos).some((p: Body) => p.photoId === pair)).toBe(false);
      // confirmed by rita
      const score = found.body.candidates[0].score;
      const ok = await decide({ action: 'confirm', individualId: rightId, score, by: 'someone else' });
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body.decision).toMatchObject({ photoId: pair, annotationId: second, action: 'confirm', individualId: rightId, decidedBy: 'rita', score });
      expect(ok.body.individual).toBeNull();
      const history = await call('GET', `/api/photos/${pair}/decisions`);
      expect(history.body.map((d: Body) => [d.action, d.annotationId, d.decidedBy])).toEqual([['confirm', second, 'rita'], ['import', list.body[0].id, expect.any(String)]]);
      // the photo itself is still its first whale's
      expect((await call('GET', `/api/photos/${pair}`)).body).toMatchObject({ individualId: list.body[0].individualId, status: 'identified' });
      // after: the second whale is a gallery row of its individual, a candidate photo for another photo of it
      const after = await call('GET', `/api/photos/${third}/candidates?k=50`);
      const mine = after.body.candidates.find((c: Body) => c.individualId === rightId);
      expect(mine.photos).toContainEqual({ photoId: pair, annotationId: second, score: expect.any(Number) });
      expect(after.body.compared).toBe(before.body.compared + 1);
      // undone: out of the gallery again
      const undo = await decide({ action: 'undo' });
      expect(undo.body.decision).toMatchObject({ action: 'undo', annotationId: second, individualId: null, decidedBy: 'rita' });
      const again = await call('GET', `/api/photos/${third}/candidates?k=50`);
      expect(again.body.compared).toBe(before.body.compared);
    }, 240_000);
  });
}
