import { describe, it, expect, beforeAll } from 'vitest';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startBareService, type BareService } from '../helpers/service.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { scenePhoto } from '../helpers/photos.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { openCatalog } from '../../src/catalog/catalog.js';
import { createServer } from '../../src/serve/server.js';
import { MIGRATIONS, POSTGRES_MIGRATIONS } from '../../src/catalog/catalog-schema.js';

// issue 31 item 5: accounts over the API (an admin lists, adds, changes a role, revokes; every
// change recorded with who made it), who am I, and migration 7 (user_changes) on an old catalog

/** A JSON request with a bearer token (null: none) and optional extra headers. */
async function call(svc: BareService, method: string, route: string, token: string | null, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return svc.json(method, route, body, { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers });
}

/** The migration that adds user_changes (the last one when it was written). */
const USER_CHANGES = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE user_changes'));

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip !== '')(onBackend('accounts over the API', backend), () => {
    let svc: BareService;
    let photoId: number;
    let admin: string;
    let reviewer: string;
    let reader: string;
    beforeAll(async () => {
      svc = await startBareService({ tokenAttempts: { attempts: 1000, windowMs: 60_000 } }, backend);
      photoId = (await svc.catalog.addPhoto(await scenePhoto(601), { originalName: 'a.jpg', uploadedBy: 'import' })).photo.id;
      admin = (await svc.catalog.addUser('ada', 'admin', 'cli')).token;
      reviewer = (await svc.catalog.addUser('rev', 'reviewer', 'cli')).token;
      reader = (await svc.catalog.addUser('rita', 'read-only', 'cli')).token;
    }, 120_000);

    it('answers who a token belongs to: a user\'s name and role, the single --token as the shared admin "token"; no token 401', async () => {
      expect(await call(svc, 'GET', '/api/me', reader)).toEqual({ status: 200, body: { name: 'rita', role: 'read-only', shared: false } });
      expect(await call(svc, 'GET', '/api/me', reviewer)).toEqual({ status: 200, body: { name: 'rev', role: 'reviewer', shared: false } });
      expect(await call(svc, 'GET', '/api/me', svc.token)).toEqual({ status: 200, body: { name: 'token', role: 'admin', shared: true } });
      const none = await call(svc, 'GET', '/api/me', null);
      expect([none.status, none.body.error]).toEqual([401, 'missing or wrong token (send Authorization: Bearer <token>)']);
      expect((await call(svc, 'GET', '/api/me', `${reader}x`)).status).toBe(401);
    });

    it('keeps the user routes to admins: no token 401, read-only and reviewer 403 naming the rule, nothing changed', async () => {
      const before = await svc.catalog.users();
      const changes = await svc.catalog.userChanges();
      const rev = (await svc.catalog.users()).find((u) => u.name === 'rev')!;
      const tries: [string, string, unknown][] = [['GET', '/api/users', undefined], ['POST', '/api/users', { name: 'eve', role: 'admin' }], ['PATCH', `/api/users/${rev.id}`, { role: 'admin' }], ['POST', `/api/users/${rev.id}/revoke`, {}]];
      for (const [method, route, body] of tries) {
        const anonymous = await call(svc, method, route, null, body);
        expect([anonymous.status, anonymous.body.error], `${method} ${route}`).toEqual([401, 'missing or wrong token (send Authorization: Bearer <token>)']);
        for (const [token, who] of [[reader, 'rita (read-only)'], [reviewer, 'rev (reviewer)']]) {
          const r = await call(svc, method, route, token, body);
          expect(r.status, `${who} ${method} ${route}`).toBe(403);
          expect(r.body.error).toBe(`user ${who} may not use admin routes: ${method} ${route.replace(/\/\d+/, '/:id')} needs the admin role`);
        }
      }
      expect(await svc.catalog.users()).toEqual(before);
      expect(await svc.catalog.userChanges()).toEqual(changes);
    });

    it('lets an admin add a user (token shown once, only its hash kept), change its role and revoke it, each change naming the admin', async () => {
      const added = await call(svc, 'POST', '/api/users', admin, { name: 'bea', role: 'reviewer' });
      expect(added.status, JSON.stringify(added.body)).toBe(200);
      const token = added.body.token as string;
      expect(token).toMatch(/^whaleid_[A-Za-z0-9_-]{43}$/);
      const id = added.body.user.id as number;
      expect(added.body.user).toMatchObject({ name: 'bea', role: 'reviewer', createdBy: 'ada', revokedAt: null, changes: [{ action: 'add', role: 'reviewer', by: 'ada' }] });
      // the token works at once and is never shown again
      expect((await call(svc, 'POST', `/api/photos/${photoId}/skip`, token, {})).body).toMatchObject({ action: 'skip', decidedBy: 'bea' });
      const listed = await call(svc, 'GET', '/api/users', admin);
      expect(listed.status).toBe(200);
      expect(listed.body.map((u: { name: string; role: string }) => [u.name, u.role])).toEqual([['ada', 'admin'], ['rev', 'reviewer'], ['rita', 'read-only'], ['bea', 'reviewer']]);
      expect(JSON.stringify(listed.body)).not.toContain(token);
      expect(JSON.stringify(listed.body)).not.toMatch(/sha256|whaleid_/);
      expect((await svc.catalog.userByToken(token))?.name).toBe('bea');
      // a name whose token is valid: 409, nothing changed
      const twice = await call(svc, 'POST', '/api/users', admin, { name: 'bea', role: 'admin' });
      expect([twice.status, twice.body.error]).toEqual([409, 'user bea exists and its token is valid; revoke it first to give a new one']);
      // demoted: bea reads but may no longer decide
      const demoted = await call(svc, 'PATCH', `/api/users/${id}`, admin, { role: 'read-only' });
      expect(demoted.status, JSON.stringify(demoted.body)).toBe(200);
      expect(demoted.body.role).toBe('read-only');
      expect((await call(svc, 'POST', `/api/photos/${photoId}/undo`, token, {})).status).toBe(403);
      expect(await call(svc, 'GET', '/api/me', token)).toEqual({ status: 200, body: { name: 'bea', role: 'read-only', shared: false } });
      // the same role again changes nothing and records nothing
      expect((await call(svc, 'PATCH', `/api/users/${id}`, admin, { role: 'read-only' })).body.changes).toHaveLength(2);
      // revoked: 401 from the next request on, even for reads
      const revoked = await call(svc, 'POST', `/api/users/${id}/revoke`, admin, {});
      expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
      expect(revoked.body.revokedAt).toMatch(/^\d{4}-/);
      expect(revoked.body.changes.map((c: { action: string; role: string | null; by: string }) => [c.action, c.role, c.by])).toEqual([['add', 'reviewer', 'ada'], ['role', 'read-only', 'ada'], ['revoke', null, 'ada']]);
      const gone = await call(svc, 'GET', `/api/photos/${photoId}`, token);
      expect(gone.status).toBe(401);
      expect(gone.body.error).toMatch(/^the token of user bea was revoked/);
      const again = await call(svc, 'POST', `/api/users/${id}/revoke`, admin, {});
      expect([again.status, again.body.error]).toEqual([400, expect.stringMatching(/^user bea: its token was revoked already, at \d{4}-/)]);
      const promote = await call(svc, 'PATCH', `/api/users/${id}`, admin, { role: 'admin' });
      expect([promote.status, promote.body.error]).toEqual([400, expect.stringMatching(/^user bea: its token was revoked \(.*\); give it a new one with its role instead/)]);
      // her decision still names her; a new token for her name works, the old one stays refused
      expect((await svc.catalog.decisions({ photoId })).find((d) => d.action === 'skip')?.decidedBy).toBe('bea');
      const renewed = await call(svc, 'POST', '/api/users', admin, { name: 'bea', role: 'reviewer' });
      expect(renewed.status).toBe(200);
      expect(renewed.body.user.id).toBe(id);
      expect((await call(svc, 'GET', '/api/me', renewed.body.token)).body.name).toBe('bea');
      expect((await call(svc, 'GET', '/api/me', token)).status).toBe(401);
    });

    it('records the name the client gives under the single --token (as its decisions do), and refuses bad bodies with the field', async () => {
      const r = await call(svc, 'POST', '/api/users', svc.token, { name: 'carl', role: 'read-only' }, { 'x-whaleid-user': 'ann' });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.user.changes).toMatchObject([{ action: 'add', by: 'ann' }]);
      const bad: [unknown, RegExp][] = [
        [{ name: 'dan', role: 'owner' }, /^body\/role must be equal to one of the allowed values \(received "owner"\)$/],
        [{ name: 'dan' }, /^body\/role: required$/],
        [{ name: 'dan', role: 'reviewer', token: 'mine' }, /^body\/token: unknown field \(expected only name, role\)$/],
        [{ name: '', role: 'reviewer' }, /^body\/name must NOT have fewer than 1 characters/],
        [{ name: 'd\u0000n', role: 'reviewer' }, /^Expected text without control characters for name/],
      ];
      for (const [body, line] of bad) {
        const refused = await call(svc, 'POST', '/api/users', admin, body);
        expect(refused.status, JSON.stringify(body)).toBe(400);
        expect(refused.body.error).toMatch(line);
      }
      const carl = r.body.user.id as number;
      expect((await call(svc, 'PATCH', `/api/users/${carl}`, admin, { role: 'reviewer', name: 'x' })).body.error).toBe('body/name: unknown field (expected only role)');
      expect((await call(svc, 'PATCH', '/api/users/999999', admin, { role: 'reviewer' }))).toEqual({ status: 404, body: { error: 'user 999999 not found' } });
      expect((await call(svc, 'POST', `/api/users/${carl}/revoke`, admin, { now: true })).body.error).toBe('body/now: unknown field (expected none)');
      expect((await svc.catalog.users()).map((u) => u.name)).not.toContain('dan');
    });

    it('keeps a valid admin account while the service has no single --token: 409 for demoting or revoking the last one, nothing changed; with a --token it is allowed', async () => {
      // the same catalog served without --token: only its users' tokens manage it
      const bare = await createServer({ catalog: svc.catalog, token: null });
      try {
        const ask = async (method: 'PATCH' | 'POST', url: string, token: string, payload: object) => {
          const r = await bare.inject({ method, url, headers: { authorization: `Bearer ${token}` }, payload });
          return { status: r.statusCode, body: r.json() };
        };
        const users = () => svc.catalog.users();
        const ada = (await users()).find((u) => u.name === 'ada')!;
        expect((await users()).filter((u) => u.role === 'admin' && !u.revokedAt).map((u) => u.name)).toEqual(['ada']);
        const before = [await users(), await svc.catalog.userChanges()];
        for (const role of ['reviewer', 'read-only']) {
          expect(await ask('PATCH', `/api/users/${ada.id}`, admin, { role })).toEqual({ status: 409, body: { error: `user ada is the catalog's last valid admin: making it ${role} would leave no admin account to manage the others; add another admin first` } });
        }
        expect(await ask('POST', `/api/users/${ada.id}/revoke`, admin, {})).toEqual({ status: 409, body: { error: "user ada is the catalog's last valid admin: revoking its token would leave no admin account to manage the others; add another admin first" } });
        expect([await users(), await svc.catalog.userChanges()]).toEqual(before);
        // the same role changes nothing, so it is not refused
        expect((await ask('PATCH', `/api/users/${ada.id}`, admin, { role: 'admin' })).status).toBe(200);
        // with a second admin the first may go; then the second is the last
        const otto = await bare.inject({ method: 'POST', url: '/api/users', headers: { authorization: `Bearer ${admin}` }, payload: { name: 'otto', role: 'admin' } });
        expect(otto.statusCode, otto.body).toBe(200);
        const { user: { id: ottoId }, token: ottoToken } = otto.json() as { user: { id: number }; token: string };
        expect(await ask('PATCH', `/api/users/${ada.id}`, ottoToken, { role: 'reviewer' })).toMatchObject({ status: 200, body: { name: 'ada', role: 'reviewer' } });
        expect((await ask('POST', `/api/users/${ottoId}/revoke`, ottoToken, {})).status).toBe(409);
        expect((await ask('PATCH', `/api/users/${ottoId}`, ottoToken, { role: 'read-only' })).status).toBe(409);
        // a service with a single --token keeps an admin whatever the catalog holds: it allows it,
        // and the --token can then add an admin again
        expect(await call(svc, 'POST', `/api/users/${ottoId}/revoke`, ottoToken, {})).toMatchObject({ status: 200, body: { name: 'otto', revokedAt: expect.any(String) } });
        expect((await users()).filter((u) => u.role === 'admin' && !u.revokedAt)).toEqual([]);
        expect((await call(svc, 'PATCH', `/api/users/${ada.id}`, svc.token, { role: 'admin' })).body).toMatchObject({ name: 'ada', role: 'admin' });
      } finally {
        await bare.close();
      }
    });
  });
}

describe('accounts: migration 7 and the CLI (sqlite)', () => {
  const dir = tmpDir('whaleid-accounts-api-');

  it('gives the users of an older catalog their add and revocation; users role and revoke record --by', async () => {
    const file = path.join(dir, 'old.db');
    const cat = await openCatalog(file);
    await cat.addUser('ann', 'reviewer', 'ivy');
    await cat.addUser('bob', 'read-only', 'ivy');
    await cat.revokeUser('bob', 'ivy');
    const users = await cat.users();
    await cat.close();
    const db = new Database(file);
    db.exec('DROP TABLE user_changes');
    db.pragma(`user_version = ${USER_CHANGES}`);
    db.close();
    const upgraded = await openCatalog(file);
    expect(await upgraded.users()).toEqual(users);
    const bob = users.find((u) => u.name === 'bob')!;
    expect(await upgraded.userChanges()).toEqual([
      { user: 'ann', action: 'add', role: 'reviewer', by: 'ivy', at: users[0].createdAt },
      { user: 'bob', action: 'add', role: 'read-only', by: 'ivy', at: bob.createdAt },
      // who revoked a token before migration 7 is not known
      { user: 'bob', action: 'revoke', role: null, by: '', at: bob.revokedAt },
    ]);
    await upgraded.close();

    const role = await runCli('users', 'role', '--catalog', file, '--name', 'ann', '--role', 'admin', '--by', 'zoe');
    expect([role.code, role.out.trim()], role.err).toEqual([0, 'user ann: admin']);
    const unknown = await runCli('users', 'role', '--catalog', file, '--name', 'nobody', '--role', 'admin');
    expect([unknown.code, unknown.err.trim()]).toEqual([2, 'whaleid: no user named "nobody" (whaleid users list shows them)']);
    // ann is the last valid admin: refused without --force, nothing recorded
    for (const argv of [['revoke'], ['role', '--role', 'reviewer']]) {
      const refused = await runCli('users', argv[0], '--catalog', file, '--name', 'ann', '--by', 'zoe', ...argv.slice(1));
      const what = argv[0] === 'revoke' ? 'revoking its token' : 'making it reviewer';
      expect([refused.code, refused.err.trim()]).toEqual([2, `whaleid: user ann is the catalog's last valid admin: ${what} would leave no admin account to manage the others; add another admin first (--force does it anyway)`]);
    }
    expect((await runCli('users', 'list', '--catalog', file)).out).toMatch(/^ann\tadmin\t.*\tvalid$/m);
    expect((await runCli('users', 'revoke', '--catalog', file, '--name', 'ann', '--by', 'zoe', '--force')).code).toBe(0);
    const list = await runCli('users', 'list', '--catalog', file, '--changes');
    expect(list.out.trim().split('\n').map((l) => l.split('\t').slice(1))).toEqual([['ann', 'add reviewer', 'by ivy'], ['bob', 'add read-only', 'by ivy'], ['bob', 'revoke', 'by ?'], ['ann', 'role admin', 'by zoe'], ['ann', 'revoke', 'by zoe']]);
  }, 120_000);

  it.skipIf(BACKENDS[1].skip !== '')('migrates a PostgreSQL catalog the same way', async () => {
    const where = await BACKENDS[1].location(dir, 'old-pg');
    const cat = await openCatalog(where.catalog, { photoDir: where.photoDir });
    await cat.addUser('ann', 'admin', 'ivy');
    await cat.revokeUser('ann', 'ivy', { force: true });
    const [ann] = await cat.users();
    await cat.close();
    const client = new pg.Client({ connectionString: where.catalog });
    await client.connect();
    await client.query(`DROP TABLE user_changes; UPDATE whaleid_state SET schema_version = ${USER_CHANGES};`);
    await client.end();
    expect(POSTGRES_MIGRATIONS).toHaveLength(MIGRATIONS.length);
    const upgraded = await openCatalog(where.catalog, { photoDir: where.photoDir });
    try {
      expect(await upgraded.userChanges()).toEqual([
        { user: 'ann', action: 'add', role: 'admin', by: 'ivy', at: ann.createdAt },
        { user: 'ann', action: 'revoke', role: null, by: '', at: ann.revokedAt },
      ]);
    } finally {
      await upgraded.close();
    }
  }, 120_000);
});
