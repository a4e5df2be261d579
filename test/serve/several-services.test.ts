import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { readBoxes } from '../../src/image/boxes.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { BACKENDS, onBackend } from '../helpers/backends.js';
import { cliLauncher, launcherArgs, startCli, type CliProcess } from '../helpers/cli-process.js';

// issue 21 item 4: several stateless service processes on one PostgreSQL catalog, behind any load
// balancer: what one of them records, the next request to another sees
const postgres = BACKENDS.find((b) => b.name === 'postgres')!;
let svc: TestService;
let child: ChildProcess | null = null;
let other: string;
// on a PostgreSQL catalog new photos' features come from whaleid worker (issue 21 item 2)
let worker: CliProcess | null = null;

/** `whaleid serve` in a child process on the same catalog; resolves with its URL. */
async function serveInChild(args: string[]): Promise<string> {
  const script = cliLauncher(svc.dir);
  child = spawn(process.execPath, [...launcherArgs(script), 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WHALEID_TOKEN: svc.token } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise<string>((resolve, reject) => {
    let out = '';
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = / at (http:\/\/\S+) /.exec(out);
      if (m) resolve(m[1]);
    });
    child!.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

async function call(base: string, method: string, route: string, body?: unknown): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const headers: Record<string, string> = { authorization: `Bearer ${svc.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function upload(base: string, name: string, bytes: Buffer): Promise<{ id: number; candidates: { individualId: number; photos: { photoId: number }[] }[] }> {
  const form = new FormData();
  form.append('photo', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), name);
  const res = await fetch(`${base}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${svc.token}` } });
  const item = ((await res.json()) as { results: { photo: { id: number }; identification: { candidates: never[] } }[] }).results[0];
  return { id: item.photo.id, candidates: item.identification?.candidates ?? [] };
}

describe.skipIf(postgres.skip !== '')(onBackend('several service processes on one catalog', postgres), () => {
  beforeAll(async () => {
    svc = await startTestService({}, postgres);
    // the catalog URL as the first service opened it (the test server's has no password to hide)
    other = await serveInChild(['--catalog', svc.catalog.file, '--photos', svc.catalog.photoFiles.dir, '--model', svc.run, '--box-model', 'none', '--port', '0', '--quiet']);
    worker = startCli(cliLauncher(svc.dir), 'worker', ['worker', '--catalog', svc.catalog.file, '--photos', svc.catalog.photoFiles.dir, '--model', svc.run, '--concurrency', '1', '--threads', '1']);
    await worker.waitFor(/worker \w+: model /, 120_000);
  }, 240_000);
  afterAll(() => {
    child?.kill('SIGTERM');
    worker?.kill('SIGTERM');
  });

  /** The photo's candidates from `base` once a worker has extracted its features (409 until then). */
  async function candidatesWhenReady(base: string, id: number): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    for (const started = Date.now(); Date.now() - started < 90_000; await new Promise((r) => setTimeout(r, 250))) {
      const r = await call(base, 'GET', `/api/photos/${id}/candidates`);
      if (r.status !== 409) return r.body;
    }
    throw new Error(`photo ${id}: still being processed after 90 s (worker output: ${worker?.output().slice(-500)})`);
  }

  it('a decision made through one process is seen by the next request to the other, and identifies the next photo there', async () => {
    const [image, whale] = [...svc.labels.entries()].filter(([, id]) => id !== 'new_whale')[3];
    const photo = readFileSync(path.join(svc.data, 'train', image));
    const box = (await readBoxes(path.join(svc.data, 'bounding_boxes.csv'))).get(image)!;
    // uploaded through the child process, decided through this one
    const first = await upload(other, 'first.jpg', await sharp(photo).jpeg({ quality: 70 }).toBuffer());
    expect((await call(svc.url, 'GET', `/api/photos/${first.id}`)).body).toMatchObject({ status: 'pending', originalName: 'first.jpg' });
    expect((await call(svc.url, 'PUT', `/api/photos/${first.id}/box`, box)).status).toBe(200);
    const individual = (await svc.catalog.individualByName(whale))!;
    const decided = await call(svc.url, 'POST', `/api/photos/${first.id}/confirm`, { individualId: individual.id, by: 'ann' });
    expect(decided.status).toBe(200);
    // the other process: the photo, its decision, the individual's page
    expect((await call(other, 'GET', `/api/photos/${first.id}`)).body).toMatchObject({ status: 'identified', individualId: individual.id, boxSource: 'user' });
    expect((await call(other, 'GET', '/api/decisions?limit=1')).body[0]).toMatchObject({ id: decided.body.id, action: 'confirm', decidedBy: 'ann' });
    expect((await call(other, 'GET', `/api/individuals/${individual.id}`)).body.photos.map((p: { id: number }) => p.id)).toContain(first.id);
    // its identifier's gallery follows: the confirmed photo is a candidate photo of its whale there
    const second = await upload(other, 'second.jpg', await sharp(photo).jpeg({ quality: 60 }).toBuffer());
    expect((await call(other, 'PUT', `/api/photos/${second.id}/box`, box)).status).toBe(200);
    const ident = await candidatesWhenReady(other, second.id);
    expect(ident.compared).toBe((await svc.catalog.gallery()).length);
    expect(ident.candidates[0].individualId).toBe(individual.id);
    expect(ident.candidates[0].photos.map((p: { photoId: number }) => p.photoId)).toContain(first.id);
    // and back: undone through the other process, seen here
    expect((await call(other, 'POST', `/api/photos/${first.id}/undo`, {})).status).toBe(200);
    expect((await call(svc.url, 'GET', `/api/photos/${first.id}`)).body).toMatchObject({ status: 'pending', individualId: null });
    const again = await candidatesWhenReady(svc.url, second.id);
    expect(again.compared).toBe((await svc.catalog.gallery()).length);
    expect(again.candidates.flatMap((c: { photos: { photoId: number }[] }) => c.photos.map((p) => p.photoId))).not.toContain(first.id);
  });

  it('concurrent decisions through both processes all land, each photo counted once', async () => {
    const pending = (await svc.catalog.listPhotos({ status: 'pending', limit: 1000 })).items.map((p) => p.id);
    expect(pending.length).toBeGreaterThanOrEqual(6);
    const ids = pending.slice(0, 6);
    const results = await Promise.all(ids.map((id, i) => call(i % 2 ? other : svc.url, 'POST', `/api/photos/${id}/new-individual`, { by: i % 2 ? 'child' : 'parent' })));
    expect(results.map((r) => r.status)).toEqual(ids.map(() => 200));
    // automatic names were handed out once each, whichever process asked
    expect(new Set(results.map((r) => r.body.individual.name)).size).toBe(6);
    for (const id of ids) expect((await call(other, 'GET', `/api/photos/${id}`)).body.status).toBe('identified');
  });
});
