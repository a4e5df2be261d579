import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll } from 'vitest';
import { readLabels } from '../../src/data/labels.js';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import type { Catalog } from '../../src/catalog/catalog.js';
import { importDataset } from '../../src/catalog/catalog-import.js';
import { createIdentifier, type Identifier, type IdentifierOptions } from '../../src/serve/identifier.js';
import { createServer, type ServerOptions } from '../../src/serve/server.js';
import { tmpDir } from './tmp.js';
import { copyFixture } from './fixtures.js';
import { BACKENDS, openTestCatalog, type TestBackend } from './backends.js';

/** A running service over a small synthetic catalog and a tiny trained run, on loopback. */
export interface TestService {
  dir: string;
  data: string;
  /** The trained run's folder. */
  run: string;
  catalog: Catalog;
  identifier: Identifier;
  app: FastifyInstance;
  url: string;
  token: string;
  /** Labels of the synthetic catalog's training photos (image -> id). */
  labels: Map<string, string>;
  /** Starts another app over the same catalog (other token/limits), closed after the file. */
  another(o: Partial<ServerOptions>): Promise<string>;
}

/** The synthetic catalog and trained run of this test file: copied once, shared by its backends. */
let fixture: Promise<{ dir: string; data: string; run: string }> | null = null;

/**
 * The slow part of the fixture (synthetic photos, a 1-epoch training: test/helpers/fixture-builders.ts,
 * made once for all test files), copied once per test file.
 */
function trainedFixture(): Promise<{ dir: string; data: string; run: string }> {
  fixture ??= (async () => {
    const dir = tmpDir('whaleid-serve-');
    await initEngine({ backend: 'wasm' });
    // the shared folder's synth/, run/ and cache/ (the run's config.json names them relative to it)
    await copyFixture('service', dir);
    return { dir, data: path.join(dir, 'synth'), run: path.join(dir, 'run') };
  })();
  return fixture;
}

/**
 * Builds the fixture: synthetic catalog (10 whales x 4 photos), a 1-epoch tiny run (its head
 * starts as a distance, so a re-encoded copy of a catalog photo matches its own whale), the catalog
 * imported on the backend (SQLite by default), the service listening on 127.0.0.1 with a random
 * port. The photos and the run are made once for all test files and copied once per test file,
 * whichever backends it uses.
 * `matcher` picks the identifier's matcher and calibration (default: siamese).
 */
export async function startTestService(o: Partial<ServerOptions> = {}, backend: TestBackend = BACKENDS[0], matcher: Pick<IdentifierOptions, 'matcher' | 'calibration'> = {}): Promise<TestService> {
  const { dir, data, run } = await trainedFixture();
  const catalog = await openTestCatalog(backend, dir, `whales-${backend.name}-${Math.floor(Math.random() * 1e9)}`);
  await importDataset(catalog, data);
  const identifier = await createIdentifier(catalog, run, { cacheDir: path.join(dir, 'cache'), threads: 1, ...matcher });
  await identifier.sync();
  const token = 'test-token-123';
  const apps: FastifyInstance[] = [];
  const start = async (opts: Partial<ServerOptions>): Promise<{ app: FastifyInstance; url: string }> => {
    const app = await createServer({ catalog, identifier, token, ...opts });
    await app.listen({ port: 0, host: '127.0.0.1' });
    apps.push(app);
    return { app, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
  };
  const { app, url } = await start(o);
  afterAll(async () => {
    for (const a of apps) await a.close();
    await identifier.close();
    await catalog.close();
  });
  const labels = new Map((await readLabels(path.join(data, 'train.csv'))).map((l) => [l.image, l.id]));
  return { dir, data, run, catalog, identifier, app, url, token, labels, another: async (opts) => (await start(opts)).url };
}

/** A running service over an empty catalog and no model (quick: for routes that need no identification). */
export interface BareService {
  dir: string;
  catalog: Catalog;
  url: string;
  token: string;
  /** A JSON request with the token (`headers` replace it). */
  json(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** A multipart upload of photos with optional form fields. */
  upload(files: { name: string; bytes: Buffer }[], fields?: Record<string, string>): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * Starts the service over a new empty catalog (SQLite by default) without a model, on 127.0.0.1
 * with a random port, closed after the test file.
 */
export async function startBareService(o: Partial<ServerOptions> = {}, backend: TestBackend = BACKENDS[0]): Promise<BareService> {
  const dir = tmpDir('whaleid-bare-');
  const catalog = await openTestCatalog(backend, dir, `whales-${backend.name}`);
  const token = 'test-token-123';
  const app = await createServer({ catalog, token, ...o });
  await app.listen({ port: 0, host: '127.0.0.1' });
  afterAll(async () => {
    await app.close();
    await catalog.close();
  });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const auth = { authorization: `Bearer ${token}` };
  const answer = async (res: Response) => ({ status: res.status, body: (res.headers.get('content-type') ?? '').includes('json') ? await res.json() : await res.text() });
  return {
    dir, catalog, url, token,
    json: async (method, route, body, headers = auth) => answer(await fetch(`${url}${route}`, {
      method, headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    })),
    async upload(files, fields = {}) {
      const form = new FormData();
      for (const [k, v] of Object.entries(fields)) form.append(k, v);
      for (const f of files) form.append('photo', new Blob([new Uint8Array(f.bytes)], { type: 'image/jpeg' }), f.name);
      return answer(await fetch(`${url}/api/photos`, { method: 'POST', body: form, headers: auth }));
    },
  };
}
