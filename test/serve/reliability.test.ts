import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { openCatalog } from '../../src/catalog/catalog.js';
import { createServer } from '../../src/serve/server.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { startBareService, type BareService } from '../helpers/service.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import { cliLauncher, launcherArgs } from '../helpers/cli-process.js';

/**
 * Issue 32 (reliability, round two), the service's items, through real HTTP on SQLite and
 * PostgreSQL: 5 a deeply nested body, 6 ids beyond 2^53 and 64 bits, 7 a read-only catalog, 11
 * the low ones (OpenAPI query parameters, names, boxes, dates, merge chains, `bearer`).
 */
const MAX = Number.MAX_SAFE_INTEGER;

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(onBackend('service reliability, round two', backend), () => {
    let svc: BareService;
    let photoId: number;
    beforeAll(async () => {
      svc = await startBareService({ tokenAttempts: { attempts: 1000, windowMs: 60_000 } }, backend);
      const up = await svc.upload([{ name: 'fluke.jpg', bytes: await scenePhoto(7, 320, 200) }]);
      photoId = up.body.results[0].photo.id;
    }, 60_000);

    it('item 5: a 10 KB body nested 5,000 deep gets one short line and the service goes on (without a token it is refused before it is parsed)', async () => {
      for (const body of ['['.repeat(5000) + ']'.repeat(5000), '{"a":'.repeat(2000) + '1' + '}'.repeat(2000), `{"name":${'['.repeat(5000)}${']'.repeat(5000)}}`]) {
        for (const route of ['/api/individuals', `/api/photos/${photoId}/skip`, `/api/photos/${photoId}`]) {
          const method = route.endsWith(String(photoId)) ? 'PATCH' : 'POST';
          // issue 31 item 5: access is checked when the request arrives, so a change without a token never reaches the parser
          const anonymous = await fetch(`${svc.url}${route}`, { method, headers: { 'content-type': 'application/json' }, body });
          expect(anonymous.status, route).toBe(401);
          expect(((await anonymous.json()) as { error: string }).error.length).toBeLessThan(200);
          const res = await fetch(`${svc.url}${route}`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${svc.token}` }, body });
          const { error } = (await res.json()) as { error: string };
          expect(res.status, route).toBe(400);
          expect(error).toBe('body: nested deeper than 32 levels of arrays and objects (expected a flat object of fields)');
        }
      }
      // a schema error on a large value names it without echoing it
      const big = await svc.json('POST', '/api/individuals', { name: ['x'.repeat(50_000)] });
      expect(big.status).toBe(400);
      expect(big.body.error).toMatch(/^body\/name must be string \(received \["x{58}\.\.\. \(50004 characters\)\)$/);
      expect((await svc.json('GET', '/api/health')).status).toBe(200);
      expect((await svc.json('POST', '/api/individuals', { name: 'After the storm' })).status).toBe(200);
    });

    it('item 6: ids and offsets beyond 2^53 or 64 bits are refused with 400 naming the field, never rounded', async () => {
      const cases: [string, string, unknown, RegExp][] = [
        ['GET', '/api/individuals/9007199254740993', undefined, /^params\/id must be <= 9007199254740991 \(received 9007199254740993\)$/],
        ['GET', '/api/photos/99999999999999999999999', undefined, /^params\/id must be <= 9007199254740991 \(received 99999999999999999999999\)$/],
        ['GET', '/api/individuals?offset=99999999999999999999999', undefined, /^querystring\/offset must be <= 9007199254740991/],
        ['GET', '/api/photos?offset=18446744073709551617', undefined, /^querystring\/offset must be <= 9007199254740991/],
        ['GET', '/api/photos?individual=9223372036854775808', undefined, /^querystring\/individual must be <= 9007199254740991/],
        ['GET', '/api/encounters/9223372036854775808', undefined, /^params\/id must be <= 9007199254740991/],
        ['POST', '/api/individuals/1/merge', { from: 2 ** 64 }, /^body\/from must be <= 9007199254740991 \(received a number beyond ±9007199254740991\)$/],
        ['POST', `/api/photos/${photoId}/confirm`, { individualId: 2 ** 53 + 2 }, /^body\/individualId must be <= 9007199254740991/],
        ['PUT', `/api/photos/${photoId}/encounter`, { encounterId: 1e30 }, /^body\/encounterId must be <= 9007199254740991/],
      ];
      for (const [method, route, body, message] of cases) {
        const r = await svc.json(method, route, body);
        expect(r.status, route).toBe(400);
        expect(r.body.error, route).toMatch(message);
      }
      // the largest exact id is a plain miss, and offsets up to it work on both databases
      expect((await svc.json('GET', `/api/individuals/${MAX}`)).body.error).toBe(`individual ${MAX} not found`);
      expect((await svc.json('GET', `/api/photos?offset=${MAX}`)).body).toMatchObject({ items: [] });
    });

    it('item 11: names counted in characters; invisible, bidi-override characters and lone surrogates refused', async () => {
      const ok = await svc.json('POST', '/api/individuals', { name: '🐋'.repeat(200) });
      expect(ok.status, ok.body.error).toBe(200);
      expect([...ok.body.name]).toHaveLength(200);
      expect((await svc.json('POST', '/api/individuals', { name: '🐋'.repeat(201) })).body.error).toMatch(/^body\/name must NOT have more than 200 characters/);
      const refused: [string, RegExp][] = [
        ['Salt\u200bPepper', /^Expected a name without invisible characters .* for name/],
        ['Salt\u2060', /^Expected a name without invisible characters/],
        ['\u202eSalt', /^Expected text without bidi embedding, override or isolate characters .* for name/],
        ['Salt\u2067x', /^Expected text without bidi/],
        ['Salt\ud800', /^Expected text of whole characters \(no lone UTF-16 surrogate\) for name/],
      ];
      for (const [name, message] of refused) {
        const r = await svc.json('POST', '/api/individuals', { name });
        expect(r.status, JSON.stringify(name)).toBe(400);
        expect(r.body.error).toMatch(message);
        expect((await svc.json('PATCH', `/api/individuals/${ok.body.id}`, { name })).status).toBe(400);
      }
      // notes may hold a joiner (an emoji sequence) but no bidi override
      expect((await svc.json('PATCH', `/api/individuals/${ok.body.id}`, { notes: 'family 👨\u200d👩\u200d👧' })).status).toBe(200);
      expect((await svc.json('PATCH', `/api/individuals/${ok.body.id}`, { notes: 'x\u202ey' })).status).toBe(400);
      expect((await svc.catalog.listIndividuals({ search: 'Salt' })).total).toBe(0);
    });

    it('item 11: zero-area and ±1e308 boxes are refused', async () => {
      const refused: [object, RegExp][] = [
        [{ x0: -1e308, y0: -1e308, x1: 1e308, y1: 1e308 }, /expected corners within one photo size of the 320x200 photo's edges/],
        [{ x0: 10, y0: 10, x1: 1e308, y1: 50 }, /expected corners within one photo size/],
        [{ x0: 10, y0: 10, x1: 10.5, y1: 50 }, /expected at least 1 pixel wide and high inside the 320x200 photo \(0\.5x40 is\)$/],
        [{ x0: -50, y0: 10, x1: 0.25, y1: 50 }, /expected at least 1 pixel wide and high inside/],
      ];
      for (const [box, message] of refused) {
        const r = await svc.json('PUT', `/api/photos/${photoId}/box`, box);
        expect(r.status, JSON.stringify(box)).toBe(400);
        expect(r.body.error).toMatch(message);
      }
      expect((await svc.json('GET', `/api/photos/${photoId}`)).body.box).toBeNull();
      expect((await svc.json('PUT', `/api/photos/${photoId}/box`, { x0: -10, y0: 5, x1: 330, y1: 150 })).status).toBe(200);
    });

    it('item 11: dates are checked alike in uploads, corrections and queries, naming the field', async () => {
      for (const bad of ['2019-07-04T24:00', '2019-07-04T10:60', '2019-07-04T10:00+15:00', '0999-01-01']) {
        const r = await svc.json('PATCH', `/api/photos/${photoId}`, { takenOn: bad });
        expect(r.status, bad).toBe(400);
        expect(r.body.error).toBe(`Expected a date YYYY-MM-DD (optionally with a time) for takenOn but received ${JSON.stringify(bad)}`);
        const up = await svc.upload([{ name: 'other.jpg', bytes: await scenePhoto(8) }], { takenOn: bad });
        expect(up.status, bad).toBe(400);
        expect(up.body.error).toMatch(/for takenOn but received/);
      }
      expect((await svc.json('GET', '/api/encounters?date=2019-02-30')).body.error).toBe('Expected a date YYYY-MM-DD (optionally with a time) for date but received "2019-02-30"');
      expect((await svc.json('PATCH', `/api/photos/${photoId}`, { takenOn: '2019-07-04T23:59:59.5+14:00' })).status).toBe(200);
    });

    it('item 11: a merge refused for a merged individual names the end of the merge chain', async () => {
      const make = async (name: string): Promise<number> => (await svc.json('POST', '/api/individuals', { name })).body.id;
      const [a, b, c, d] = [await make('Chain A'), await make('Chain B'), await make('Chain C'), await make('Chain D')];
      expect((await svc.json('POST', `/api/individuals/${b}/merge`, { from: a })).status).toBe(200);
      expect((await svc.json('POST', `/api/individuals/${c}/merge`, { from: b })).status).toBe(200);
      const r = await svc.json('POST', `/api/individuals/${d}/merge`, { from: a });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe(`individual ${a} (Chain A) was merged into ${c}; use that one`);
      expect((await svc.json('POST', `/api/photos/${photoId}/confirm`, { individualId: a })).body.error).toMatch(new RegExp(`was merged into ${c}; use that one$`));
    });

    it('item 11: `Authorization: bearer` (any case) is the same scheme', async () => {
      for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
        const r = await svc.json('POST', '/api/individuals', { name: `Case ${scheme}` }, { authorization: `${scheme} ${svc.token}` });
        expect(r.status, scheme).toBe(200);
      }
      expect((await svc.json('POST', '/api/individuals', { name: 'Case wrong' }, { authorization: `bearer ${svc.token}x` })).status).toBe(401);
    });

    it('item 11: the OpenAPI document lists only real query parameters', async () => {
      const doc = (await svc.json('GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, { parameters?: { in: string; name: string; schema: object }[] }>> };
      const query = Object.entries(doc.paths).flatMap(([p, ms]) => Object.entries(ms).flatMap(([m, op]) => (op.parameters ?? []).filter((x) => x.in === 'query').map((x) => `${m} ${p} ${x.name}`)));
      expect(query.filter((q) => / (type|additionalProperties|properties)$/.test(q))).toEqual([]);
      expect(query).toContain('get /api/photos offset');
      const id = doc.paths['/api/photos/{id}'].get.parameters!.find((x) => x.name === 'id')!;
      expect(id.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: MAX });
    });

    it('item 7: a catalog this process cannot write is refused at start when a token promises changes', async () => {
      const dir = tmpDir('whaleid-ro-');
      const where = await backend.location(dir, 'readonly');
      const made = await openCatalog(where.catalog, { photoDir: where.photoDir });
      await made.createIndividual('Kept', '', 'test');
      await made.close();
      const refusal = /^.*: this process cannot write the catalog \(.*\): make the database, its folder and the photo folder writable for this user, or serve a writable copy \(whaleid catalog copy\)$/;
      if (backend.name === 'postgres') {
        // a read-only database (as a standby's): every new session's transactions are read-only
        const client = new pg.Client({ connectionString: where.catalog });
        await client.connect();
        await client.query(`ALTER DATABASE ${client.escapeIdentifier((await client.query('SELECT current_database() AS d')).rows[0].d)} SET default_transaction_read_only = on`);
        await client.end();
        const served = await runCli('serve', '--catalog', where.catalog, '--photos', where.photoDir, '--token', 'test-token-123', '--port', '0');
        expect(served.code).not.toBe(0);
        expect(served.err.split('\n').at(-1)).toMatch(new RegExp(refusal.source.replace('^.*', '^whaleid: .*')));
        const exported = await runCli('catalog', 'export', '--catalog', where.catalog, '--photos', where.photoDir, '--out', `${dir}/pg.csv`);
        expect(exported.err).toBe('');
        expect(exported.out).toMatch(/^wrote 0 photos of postgres:.* to .*pg\.csv$/);
        return;
      }
      const reopened = await openCatalog(where.catalog, { readonly: true, photoDir: where.photoDir });
      try {
        await expect(createServer({ catalog: reopened, token: 'test-token-123' })).rejects.toThrow(refusal);
        // without a token it is served read-only, as always
        const app = await createServer({ catalog: reopened });
        expect((await app.inject({ method: 'GET', url: '/api/individuals' })).json()).toMatchObject({ total: 1, items: [{ name: 'Kept' }] });
        expect((await app.inject({ method: 'GET', url: '/api/health' })).json()).toMatchObject({ readOnly: true });
        await app.close();
      } finally {
        await reopened.close();
      }
    });
  });
}

/** Runs the real CLI as the unprivileged user `nobody` (root ignores file permissions). */
function runAsNobody(launcher: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string } {
  const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, ...launcherArgs(launcher), ...args], { cwd: path.resolve(import.meta.dirname, '../..'), encoding: 'utf8', timeout: 60_000, env: { ...process.env, WHALEID_TOKEN: '', HOME: '/tmp', ...env } });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.split('\n').filter((l) => l && !/onnxruntime|telemetry/.test(l)).join('\n') };
}

const asRoot = process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', 'true']).status === 0;

describe.skipIf(!asRoot)(`item 7 as a user who may only read the catalog (runuser -u nobody)${asRoot ? '' : ': skipped, needs root and runuser'}`, () => {
  it('serve --token refuses the catalog at start, catalog export from a read-only folder succeeds, an unreadable one is one line', async () => {
    const dir = tmpDir('whaleid-nobody-');
    const folder = path.join(dir, 'ro');
    mkdirSync(folder);
    const file = path.join(folder, 'whales.db');
    const made = await openCatalog(file);
    await made.createIndividual('Kept', '', 'test');
    await made.close();
    const launcher = cliLauncher(dir);
    const out = path.join(dir, 'out');
    mkdirSync(out);
    chmodSync(dir, 0o755);
    chmodSync(out, 0o777);
    chmodSync(launcher, 0o644);
    // the folder and the file root's, readable by all: nobody cannot write either (SQLite's WAL
    // needs its -shm file beside the catalog even to read)
    chmodSync(folder, 0o755);
    chmodSync(file, 0o644);
    // its own temporary folder (the copy of the catalog goes there), writable by nobody whoever runs the suite
    const tmp = path.join(dir, 'tmp');
    mkdirSync(tmp);
    chmodSync(tmp, 0o777);
    const exported = runAsNobody(launcher, ['catalog', 'export', '--catalog', file, '--out', path.join(out, 'c.csv')], { TMPDIR: tmp });
    expect(exported.out).toBe(`wrote 0 photos of ${file} to ${path.join(out, 'c.csv')}`);
    expect(exported.code).toBe(0);
    expect(readFileSync(path.join(out, 'c.csv'), 'utf8')).toMatch(/^Image,Id,/);
    // a temporary folder nobody may not write: one line naming it (was "internal error: EACCES ... mkdtemp")
    const noTmp = runAsNobody(launcher, ['catalog', 'export', '--catalog', file, '--out', path.join(out, 'e.csv')], { TMPDIR: folder });
    expect(noTmp.code, noTmp.out).toBe(2);
    expect(noTmp.out).toBe(`whaleid: ${file}: its folder is read-only, so the catalog is read from a copy, and the temporary folder ${folder} cannot take one (EACCES); set TMPDIR to a folder this user may write`);
    expect(existsSync(path.join(out, 'e.csv'))).toBe(false);
    const refused = runAsNobody(launcher, ['serve', '--catalog', file, '--token', 'test-token-123', '--port', '0']);
    expect(refused.code).toBe(2);
    expect(refused.out).toMatch(/^whaleid: .*whales\.db: this process cannot write the catalog \(attempt to write a readonly database; SQLITE_READONLY_DIRECTORY\): make the database/);
    // the folder writable, the file not: SQLite opens it and only a write fails (was: served, then 500 on every change)
    chmodSync(folder, 0o777);
    const refusedFile = runAsNobody(launcher, ['serve', '--catalog', file, '--token', 'test-token-123', '--port', '0']);
    expect(refusedFile.code).toBe(2);
    expect(refusedFile.out).toMatch(/this process cannot write the catalog \(attempt to write a readonly database; SQLITE_READONLY\)/);
    expect(refusedFile.out.split('\n')).toHaveLength(1);
    // a file the user may not even read: one line, not an internal error
    chmodSync(file, 0o600);
    const unreadable = runAsNobody(launcher, ['catalog', 'export', '--catalog', file, '--out', path.join(out, 'd.csv')]);
    expect(unreadable.code).toBe(2);
    expect(unreadable.out).toBe(`whaleid: ${file}: this user cannot read the catalog (EACCES); export it as a user who may read its file`);
  }, 120_000);
});
