import { describe, it, expect, beforeAll } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { startBareService, type BareService } from '../helpers/service.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { scenePhoto } from '../helpers/photos.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { openCatalog } from '../../src/catalog/catalog.js';
import { checkAccess, createTokenAttempts } from '../../src/serve/service-guards.js';
import { handleErrors } from '../../src/serve/http-error.js';
import { osUserName } from '../../src/cli/commands/users-command.js';

// issue 31 item 5: named users with roles, a hashed token each, revocable; decisions name the user

/** A JSON request with a bearer token (none: no Authorization header) and optional extra headers. */
async function call(svc: BareService, method: string, route: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return svc.json(method, route, body, { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers });
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('accounts', backend), () => {
    let svc: BareService;
    let photoId: number;
    let reader: string;
    let reviewer: string;
    beforeAll(async () => {
      svc = await startBareService({}, backend);
      photoId = (await svc.catalog.addPhoto(await scenePhoto(501), { originalName: 'a.jpg', uploadedBy: 'import' })).photo.id;
      reader = (await svc.catalog.addUser('rita', 'read-only', 'admin')).token;
      reviewer = (await svc.catalog.addUser('rev', 'reviewer', 'admin')).token;
    }, 120_000);

    it('lets a read-only token read but not decide (403 naming what it may not do)', async () => {
      expect((await call(svc, 'GET', `/api/photos/${photoId}`, reader)).status).toBe(200);
      expect((await call(svc, 'GET', '/api/decisions', reader)).status).toBe(200);
      const r = await call(svc, 'POST', `/api/photos/${photoId}/skip`, reader, {});
      expect(r.status).toBe(403);
      expect(r.body.error).toBe(`user rita (read-only) may not upload, decide or change the catalog: POST /api/photos/:id/skip needs the reviewer role`);
      const form = new FormData();
      form.append('photo', new Blob([new Uint8Array(await scenePhoto(502))], { type: 'image/jpeg' }), 'b.jpg');
      const upload = await fetch(`${svc.url}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${reader}` } });
      expect(upload.status).toBe(403);
      expect(await svc.catalog.decisions({ photoId })).toEqual([]);
    });

    it('lets a reviewer decide and upload, each recorded under its name whatever name the client claims', async () => {
      const r = await call(svc, 'POST', `/api/photos/${photoId}/skip`, reviewer, { by: 'mallory' }, { 'x-whaleid-user': 'mallory' });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ action: 'skip', decidedBy: 'rev' });
      const history = await call(svc, 'GET', '/api/decisions', null);
      expect(history.body.map((d: { action: string; decidedBy: string }) => [d.action, d.decidedBy])).toContainEqual(['skip', 'rev']);
      const form = new FormData();
      form.append('by', 'mallory');
      form.append('photo', new Blob([new Uint8Array(await scenePhoto(503))], { type: 'image/jpeg' }), 'c.jpg');
      const upload = await fetch(`${svc.url}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${reviewer}` } });
      expect(upload.status).toBe(200);
      const added = ((await upload.json()) as { results: { photo: { id: number } }[] }).results[0].photo.id;
      expect((await svc.catalog.photo(added)).uploadedBy).toBe('rev');
    });

    it('keeps the single --token working: an admin whose decisions carry the name the client gives', async () => {
      const r = await call(svc, 'POST', `/api/photos/${photoId}/undo`, svc.token, {}, { 'x-whaleid-user': 'ann' });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ action: 'undo', decidedBy: 'ann' });
    });

    it('answers a revoked token and an unknown one with 401 on any route; reads without a token stay open', async () => {
      const gone = (await svc.catalog.addUser('temp', 'reviewer', 'admin')).token;
      expect((await call(svc, 'POST', `/api/photos/${photoId}/skip`, gone, {})).status).toBe(200);
      expect((await svc.catalog.revokeUser('temp', 'admin')).revokedAt).not.toBeNull();
      const r = await call(svc, 'POST', `/api/photos/${photoId}/undo`, gone, {});
      expect(r.status).toBe(401);
      expect(r.body.error).toMatch(/^the token of user temp was revoked \(\d{4}-.*\); an admin gives a new one with whaleid users add$/);
      expect((await call(svc, 'GET', `/api/photos/${photoId}`, gone)).status).toBe(401);
      expect((await call(svc, 'GET', `/api/photos/${photoId}`, `${reviewer}x`)).status).toBe(401);
      expect((await call(svc, 'GET', `/api/photos/${photoId}`, null)).status).toBe(200);
      // the revoked name gets a new token (and role); the old one stays refused
      const again = (await svc.catalog.addUser('temp', 'read-only', 'admin')).token;
      expect(again).not.toBe(gone);
      expect((await call(svc, 'GET', `/api/photos/${photoId}`, again)).status).toBe(200);
      expect((await call(svc, 'GET', `/api/photos/${photoId}`, gone)).status).toBe(401);
      await expect(svc.catalog.addUser('temp', 'admin', 'admin')).rejects.toThrow(/user temp exists and its token is valid; revoke it first/);
    });
  });
}

describe('accounts: the guard and the CLI (sqlite)', () => {
  const dir = tmpDir('whaleid-accounts-');

  it('refuses a reviewer on a route marked admin, and lets an admin through', async () => {
    const cat = await openCatalog(path.join(dir, 'guard.db'));
    const admin = (await cat.addUser('ada', 'admin', 'cli')).token;
    const reviewer = (await cat.addUser('rev', 'reviewer', 'cli')).token;
    const app = Fastify();
    checkAccess(app, { users: cat, token: null, attempts: createTokenAttempts({ attempts: 10, windowMs: 60_000 }) });
    handleErrors(app, false);
    app.post('/api/admin/reindex', { config: { role: 'admin' } }, async () => ({ ok: true }));
    app.get('/api/admin/audit', { config: { role: 'admin' } }, async () => ({ ok: true }));
    const inject = (method: 'GET' | 'POST', url: string, token: string | null) => app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {} });
    const refused = await inject('POST', '/api/admin/reindex', reviewer);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toBe('user rev (reviewer) may not use admin routes: POST /api/admin/reindex needs the admin role');
    expect((await inject('POST', '/api/admin/reindex', admin)).statusCode).toBe(200);
    // an admin read needs a token too
    expect((await inject('GET', '/api/admin/audit', null)).statusCode).toBe(401);
    expect((await inject('GET', '/api/admin/audit', admin)).statusCode).toBe(200);
    await app.close();
    await cat.close();
  });

  it('adds (token shown once, only its SHA-256 stored), lists and revokes users; imports record the system user or --by', async () => {
    const data = path.join(dir, 'synth');
    await generateSynthCatalog({ out: data, individuals: 2, photosPerIndividual: 2, seed: 7 });
    const db = path.join(dir, 'cli.db');
    const imp = await runCli('catalog', 'import', '--catalog', db, '--data', data, '--by', 'ivy', '--quiet');
    expect(imp.code, imp.err).toBe(0);
    const add = await runCli('users', 'add', '--catalog', db, '--name', 'ann', '--role', 'reviewer');
    expect(add.code, add.err).toBe(0);
    const token = add.out.trim();
    expect(token).toMatch(/^whaleid_[A-Za-z0-9_-]{43}$/);
    expect(add.err).toMatch(/user ann \(reviewer\) added to .*cli\.db; its token follows, shown only now/);
    const bad = await runCli('users', 'add', '--catalog', db, '--name', 'bob', '--role', 'owner');
    expect(bad.code).toBe(2);
    const list = await runCli('users', 'list', '--catalog', db, '--json');
    const users = JSON.parse(list.out) as { name: string; role: string; createdBy: string; revokedAt: string | null }[];
    expect(users).toMatchObject([{ name: 'ann', role: 'reviewer', createdBy: osUserName(), revokedAt: null }]);
    expect(list.out).not.toContain(token);
    const lite = new Database(db, { readonly: true });
    const stored = lite.prepare('SELECT token_sha256 FROM users').all() as { token_sha256: string }[];
    const imports = lite.prepare("SELECT DISTINCT decided_by FROM decisions WHERE action = 'import'").all();
    lite.close();
    expect(stored).toEqual([{ token_sha256: createHash('sha256').update(token).digest('hex') }]);
    for (const f of [db, `${db}-wal`].filter(existsSync)) expect(readFileSync(f).includes(token), f).toBe(false);
    expect(imports).toEqual([{ decided_by: 'ivy' }]);
    const revoke = await runCli('users', 'revoke', '--catalog', db, '--name', 'ann');
    expect(revoke.code, revoke.err).toBe(0);
    expect((await runCli('users', 'list', '--catalog', db)).out).toMatch(/^ann\treviewer\tadded .* by .*\trevoked \d{4}-/);
    const twice = await runCli('users', 'revoke', '--catalog', db, '--name', 'ann');
    expect([twice.code, twice.err.trim()]).toEqual([2, expect.stringMatching(/^whaleid: user ann: its token was revoked already, at /)]);
    // an import without --by is recorded under the system user running it
    const more = path.join(dir, 'synth2');
    await generateSynthCatalog({ out: more, individuals: 2, photosPerIndividual: 2, seed: 8 });
    expect((await runCli('catalog', 'import', '--catalog', db, '--data', more, '--quiet')).code).toBe(0);
    const cat = await openCatalog(db, { readonly: true });
    expect(new Set((await cat.decisions({ limit: 1000 })).filter((d) => d.action === 'import').map((d) => d.decidedBy))).toEqual(new Set(['ivy', osUserName()]));
    await cat.close();
  }, 120_000);
});
