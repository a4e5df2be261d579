import { describe, it, expect, beforeAll } from 'vitest';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createRng, type Rng } from '../../src/util/random.js';
import { BACKENDS, onBackend, type TestBackend } from '../helpers/backends.js';
import { startBareService, type BareService } from '../helpers/service.js';
import { scenePhoto } from '../helpers/photos.js';

/**
 * A seeded fuzz run of the API's JSON routes (issue 32 item 5): bodies of random shape, nesting,
 * size and types, raw texts cut or nested thousands deep, odd path ids, query strings and content
 * types, sent through real HTTP on SQLite and PostgreSQL. Bounded in count and time, the same
 * requests on every run. Each answer must be a status below 500 with one short line for a refusal,
 * a refused request must leave every row of the catalog as it was, and the service must answer
 * a plain request at the end (the process never exits).
 */
const SEED = 32;
const MAX_REQUESTS = 400;
// bounded in time too: 10 s, as a loaded 2-core machine sends 100 requests in about 4 s
const MAX_MS = 10_000;

/** A JSON route of the OpenAPI document: method, path template, the body's fields. */
interface Route { method: string; path: string; fields: string[]; query: string[] }

const STRINGS = ['', ' ', 'Salt', 'x'.repeat(10_001), 'a\u0000b', '\u202eevil', 'half\ud800', '🐋', '1', 'true', 'null', '2019-02-30', '2019-07-04T10:00', '__proto__', '=HYPERLINK("x")', "'; DROP TABLE individuals; --", '%s%n', '../../etc/passwd', 'W00001'];
const NUMBERS = [0, -0, -1, 1, 2, 1.5, 2 ** 31, 2 ** 53, 2 ** 64, 1e308, -1e308, 5e-324, 90, -181, 1000, 1e21];
const IDS = ['1', '2', '3', '777', '0', '-1', 'abc', '1.5', '1e3', '9007199254740993', '99999999999999999999999', '%00', '%F0%9F%90%8B', '01'];
const TYPES = ['application/json', 'application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1'];

function randomText(r: Rng): string {
  const n = r.int(40);
  let s = '';
  for (let k = 0; k < n; k++) s += String.fromCharCode(r.chance(0.7) ? 32 + r.int(95) : r.int(0x10000));
  return s;
}

/** A query value as sent: URL-encoded, or a lone surrogate as the invalid UTF-8 it would be. */
function queryValue(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    return '%ED%A0%80';
  }
}

function value(r: Rng, fields: string[], depth: number): unknown {
  switch (r.int(depth > 2 ? 5 : 8)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.chance(0.6) ? r.pick(NUMBERS) : r.uniform(-1e4, 1e4);
    case 3: return r.chance(0.5) ? r.pick(STRINGS) : randomText(r);
    case 4: return 1 + r.int(4);
    case 5: return Array.from({ length: r.int(4) }, () => value(r, fields, depth + 1));
    case 6: return object(r, fields, depth + 1);
    default: {
      let v: unknown = value(r, fields, depth + 1);
      for (let k = 20 + r.int(40); k > 0; k--) v = r.chance(0.5) ? [v] : { [r.pick(fields.length ? fields : ['a'])]: v };
      return v;
    }
  }
}

function object(r: Rng, fields: string[], depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) if (r.chance(0.5)) o[f] = value(r, fields, depth);
  if (r.chance(0.2)) o[r.pick(['nmae', 'extra', '__proto__', 'constructor', ''])] = value(r, fields, depth);
  return o;
}

/** A body as sent: mostly an object of the route's fields, else another value, a broken or deep text, or a large one. */
function body(r: Rng, fields: string[]): string | undefined {
  const kind = r.int(12);
  if (kind < 6) return JSON.stringify(object(r, fields, 0));
  if (kind === 6) return JSON.stringify(value(r, fields, 0)) ?? 'null';
  if (kind === 7) {
    const text = JSON.stringify(object(r, fields, 0));
    return text.slice(0, r.int(text.length + 1)) + (r.chance(0.5) ? randomText(r) : '');
  }
  if (kind === 8) {
    const n = 30 + r.int(6000);
    return r.chance(0.5) ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  }
  if (kind === 9) return JSON.stringify({ [r.pick(fields.length ? fields : ['a'])]: 'y'.repeat(r.chance(0.2) ? 1_100_000 : 1 + r.int(300_000)) });
  if (kind === 10) return '{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}}';
  return undefined;
}

/** Reads every row of every table of a catalog's database, as sorted JSON per table (one connection, kept). */
interface RowReader { rows(): Promise<string>; close(): Promise<void> }

async function rowReader(backend: TestBackend, location: string): Promise<RowReader> {
  const sorted = (rows: unknown[]): string[] => rows.map((row) => JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).sort();
  if (backend.name === 'sqlite') {
    const db = new Database(location, { readonly: true, fileMustExist: true });
    const names = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    return { rows: async () => JSON.stringify(names.map((t) => [t, sorted(db.prepare(`SELECT * FROM "${t}"`).all())])), close: async () => void db.close() };
  }
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  const names = ((await client.query("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).rows as { name: string }[]).map((t) => t.name);
  return {
    rows: async () => {
      const all: [string, string[]][] = [];
      for (const t of names) all.push([t, sorted((await client.query(`SELECT * FROM ${client.escapeIdentifier(t)}`)).rows)]);
      return JSON.stringify(all);
    },
    close: () => client.end(),
  };
}

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(onBackend('API fuzz: JSON routes', backend), () => {
    let svc: BareService;
    let routes: Route[];
    let location: string;
    beforeAll(async () => {
      svc = await startBareService({ tokenAttempts: { attempts: 100_000, windowMs: 60_000 } }, backend);
      // the test server's URL has no password, so the catalog's shown URL opens it
      location = svc.catalog.file;
      for (let k = 0; k < 3; k++) await svc.upload([{ name: `${k}.jpg`, bytes: await scenePhoto(40 + k) }]);
      for (const name of ['Salt', 'Pepper']) await svc.json('POST', '/api/individuals', { name });
      type Op = { requestBody?: { content?: Record<string, { schema?: { properties?: object } }> }; parameters?: { in: string; name: string }[] };
      const doc = (await svc.json('GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, Op>> };
      routes = Object.entries(doc.paths).flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => ({
        method: m.toUpperCase(), path: p,
        fields: Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {}),
        query: (op.parameters ?? []).filter((x) => x.in === 'query').map((x) => x.name),
      }))).filter((r) => r.path !== '/api/photos' || r.method !== 'POST');
    }, 60_000);

    it(`${MAX_REQUESTS} seeded requests within ${MAX_MS / 1000} s: no 500, one short line per refusal, nothing stored by a refused request`, async () => {
      const r = createRng(`${SEED}`);
      const t0 = Date.now();
      const reader = await rowReader(backend, location);
      let rows = await reader.rows();
      const seen = new Map<number, number>();
      let sent = 0;
      for (; sent < MAX_REQUESTS && Date.now() - t0 < MAX_MS; sent++) {
        const route = r.pick(routes);
        let url = route.path.replace('{id}', () => r.pick(IDS));
        if (route.query.length || r.chance(0.1)) {
          const q = Array.from({ length: r.int(3) }, () => `${r.pick([...route.query, 'sort'])}=${queryValue(String(value(r, [], 3)))}`);
          if (q.length) url += `?${q.join('&')}`;
        }
        const hasBody = route.method !== 'GET' && r.chance(0.95);
        const payload = hasBody ? body(r, route.fields) : undefined;
        const headers: Record<string, string> = r.chance(0.9) ? { authorization: `Bearer ${svc.token}` } : {};
        if (payload !== undefined) headers['content-type'] = r.pick(TYPES);
        const what = `${route.method} ${url.slice(0, 80)} ${String(payload).slice(0, 80)}`;
        const res = await fetch(`${svc.url}${url}`, { method: route.method, headers, body: payload });
        const text = await res.text();
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect(res.status, what).toBeLessThan(500);
        if (res.status >= 400) {
          const { error } = JSON.parse(text) as { error: string };
          expect(typeof error, what).toBe('string');
          expect(error.split('\n'), what).toHaveLength(1);
          expect(error.length, what).toBeLessThan(600);
          expect(await reader.rows(), `a refused request changed the catalog: ${what}`).toBe(rows);
        } else if (route.method !== 'GET') rows = await reader.rows();
      }
      await reader.close();
      expect(sent).toBeGreaterThan(100);
      // refusals of every kind and some changes that went through
      expect([...seen.keys()].filter((s) => s >= 400).length).toBeGreaterThanOrEqual(4);
      expect(seen.get(200) ?? 0).toBeGreaterThan(5);
      expect((await svc.json('GET', '/api/health')).status).toBe(200);
    }, 60_000);
  });
}
