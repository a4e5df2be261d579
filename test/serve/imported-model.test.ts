/**
 * An imported embedding model (a ResNet exported by PyTorch: test/fixtures/embedding-models)
 * used where a run is: imported and calibrated through the CLI, a SQLite catalog identified
 * through the service, a PostgreSQL catalog identified through the service and a worker process.
 */
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { readLabels } from '../../src/data/labels.js';
import { importDataset } from '../../src/catalog/catalog-import.js';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import { createIdentifier, type Identifier } from '../../src/serve/identifier.js';
import { createServer } from '../../src/serve/server.js';
import { openJobQueue, type JobQueue } from '../../src/jobs/job-queue.js';
import { openRunInference } from '../../src/infer/run-inference.js';
import { readManifest } from '../../src/model/folders/run-manifest.js';
import { BACKENDS, newPostgresDatabase, openTestCatalog } from '../helpers/backends.js';
import { cliLauncher, startCli, type CliProcess } from '../helpers/cli-process.js';
import { runCli } from '../helpers/cli.js';
import { copyFixture } from '../helpers/fixtures.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';

const RESNET = path.resolve(import.meta.dirname, '../fixtures/embedding-models/resnet.onnx');
const TOKEN = 'imported-model-token';
const unavailable = inject('postgresMissing');

describe('an imported embedding model wherever a run is', () => {
  const dir = tmpDir('whaleid-imported-');
  const data = path.join(dir, 'synth');
  const model = path.join(dir, 'models', 'resnet');
  const labelled = path.join(dir, 'labelled');
  let labels: Map<string, string>;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    // the synthetic catalog (8 whales x 5 photos, seed 5) made once for this file and imported-fused.test.ts
    await copyFixture('synth-8x5-s5', data);
    labels = new Map((await readLabels(path.join(data, 'train.csv'))).map((l) => [l.image, l.id]));
    // a labelled set a random-weight network can tell apart: each individual's photos are one
    // scene, cut and encoded differently (the synthetic flukes are beyond an untrained network)
    for (let k = 0; k < 6; k++) {
      mkdirSync(path.join(labelled, `ind${k}`), { recursive: true });
      const scene = await scenePhoto(300 + k, 360, 240);
      for (let j = 0; j < 3; j++) {
        const bytes = await sharp(scene).extract({ left: 8 * j, top: 4 * j, width: 340, height: 220 }).jpeg({ quality: 60 + 15 * j }).toBuffer();
        writeFileSync(path.join(labelled, `ind${k}`, `p${j}.jpg`), bytes);
      }
    }
  }, 60_000);
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  /** A re-encoded copy of a catalog photo (other bytes, so not a duplicate) and its whale. */
  const copyOf = async (): Promise<{ bytes: Buffer; whale: string }> => {
    const [image, whale] = [...labels].find(([, id]) => id !== 'new_whale')!;
    return { bytes: await sharp(path.join(data, 'train', image)).jpeg({ quality: 70 }).toBuffer(), whale };
  };

  it('model import writes the folder, refuses to replace it without --force and names bad flags; model calibrate fits on labelled photos', async () => {
    const ok = await runCli('model', 'import', '--onnx', RESNET, '--out', model, '--resize', 'crop', '--margin', '0.05', '--threads', '1');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/64-value embeddings of 64 px rgb nchw input \(crop/);
    expect(JSON.parse(readFileSync(path.join(model, 'preprocessing.json'), 'utf8'))).toMatchObject({ inputSize: 64, channels: 'rgb', layout: 'nchw', resize: 'crop', margin: 0.05 });
    const again = await runCli('model', 'import', '--onnx', RESNET, '--out', model);
    expect(again.code).toBe(2);
    expect(again.err.split('\n')).toHaveLength(1);
    expect(again.err).toMatch(/--force/);
    const badMean = await runCli('model', 'import', '--onnx', RESNET, '--out', path.join(dir, 'other'), '--mean', '0.5,0.5');
    expect(badMean.code).toBe(2);
    expect(badMean.err).toMatch(/expected 3 numbers \(one per rgb channel\) for mean/);
    const badSize = await runCli('model', 'import', '--onnx', RESNET, '--out', path.join(dir, 'other'), '--input-size', '96');
    expect(badSize.code).toBe(2);
    expect(badSize.err).toMatch(/resnet\.onnx: its input is \[batch, 3, 64, 64\], but the preprocessing gives \[N, 3, 96, 96\]/);
    expect(existsSync(path.join(dir, 'other', 'embedding.onnx'))).toBe(false);

    const cal = await runCli('model', 'calibrate', '--model', model, '--data', labelled, '--threads', '1', '--quiet');
    expect(cal.code, cal.err).toBe(0);
    expect(cal.out).toMatch(/calibration\.json: score = sigmoid\(/);
    const c = JSON.parse(readFileSync(path.join(model, 'calibration.json'), 'utf8')) as { scale: number; threshold: number; pairs: { same: number } };
    expect(c.scale).toBeGreaterThan(0);
    expect(c.pairs.same).toBe(6 * 3 * 2);
    // each individual's photos are near-copies: every leave-one-out question is answered right
    expect((c as unknown as { map5: number }).map5).toBe(1);
    expect(Object.keys(readManifest(model)!.files).sort()).toEqual(['calibration.json', 'embedding.onnx', 'preprocessing.json']);
    const run = await openRunInference(model, { threads: 1 });
    expect(run.head.b3).toBeCloseTo((c as unknown as { bias: number }).bias, 5);
    expect(run.head.w3[0]).toBeCloseTo(c.scale, 4);
    await run.dispose();
    // a calibration edited by hand is not the one the manifest vouches for
    writeFileSync(path.join(model, 'calibration.json'), JSON.stringify({ ...c, threshold: 0.1 }));
    await expect(openRunInference(model, { threads: 1 })).rejects.toThrow(/calibration\.json: does not match .*manifest\.json/);
    expect((await runCli('model', 'calibrate', '--model', model, '--data', labelled, '--threads', '1', '--quiet')).code).toBe(2);
    // calibrated again from scratch: a second import with --force drops the old calibration
    expect((await runCli('model', 'import', '--onnx', RESNET, '--out', model, '--resize', 'crop', '--margin', '0.05', '--force')).code).toBe(0);
    expect(existsSync(path.join(model, 'calibration.json'))).toBe(false);
    expect((await runCli('model', 'calibrate', '--model', model, '--data', labelled, '--threads', '1', '--quiet')).code).toBe(0);
  }, 120_000);

  it('a SQLite catalog identified through the service with it', async () => {
    const catalog = await openTestCatalog(BACKENDS[0], dir, 'whales');
    await importDataset(catalog, data);
    const identifier = await createIdentifier(catalog, model, { threads: 1, onWarning: () => {} });
    cleanups.push(() => catalog.close(), () => identifier.close());
    await identifier.sync();
    expect(identifier.modelVersion).toMatch(/^resnet@[0-9a-f]{12}$/);
    const app = await createServer({ catalog, identifier, token: TOKEN });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const { bytes, whale } = await copyOf();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'copy.jpg');
    const res = await fetch(`${base}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const item = ((await res.json()) as { results: { identification: { candidates: { name: string; score: number }[] } }[] }).results[0];
    expect(item.identification.candidates[0].name).toBe(whale);
    expect(item.identification.candidates[0].score).toBeGreaterThan(item.identification.candidates[1].score);
  }, 120_000);

  it.skipIf(unavailable !== '')('a PostgreSQL catalog identified through the service and a worker process with it', async () => {
    const url = await newPostgresDatabase('imported');
    const photoDir = path.join(dir, 'pg-photos');
    const catalog: Catalog = await openCatalog(url, { photoDir, create: true });
    const jobs: JobQueue = await openJobQueue(url);
    await importDataset(catalog, data);
    const identifier: Identifier = await createIdentifier(catalog, model, { threads: 1, queued: true, scoring: { url }, onWarning: () => {} });
    const app: FastifyInstance = await createServer({ catalog, identifier, jobs, token: TOKEN });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const procs: CliProcess[] = [];
    cleanups.push(() => catalog.close(), () => jobs.close(), () => identifier.close(), () => app.close(), async () => procs.forEach((p) => p.kill('SIGKILL')));
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    // 4 jobs at a time: the worker queues a job for each of the catalog's photos, and a job
    // loop takes its next job half a second after the last one began (pg-boss's polling
    // interval), so with one loop the upload waited 20 s (measured) behind the catalog's 41 jobs
    const worker = startCli(cliLauncher(dir), 'worker', ['worker', '--catalog', url, '--photos', photoDir, '--model', model, '--concurrency', '4', '--log-jobs', '--threads', '1']);
    procs.push(worker);
    await worker.waitFor(/worker \w+: model resnet@/, 60_000);
    const { bytes, whale } = await copyOf();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'copy.jpg');
    const res = await fetch(`${base}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TOKEN}` } });
    const id = ((await res.json()) as { results: { photo: { id: number } }[] }).results[0].photo.id;
    await worker.waitFor(new RegExp(`job photo ${id}: written`), 60_000);
    // the gallery's photos too: the worker queued every photo without features of this model
    let answer: { candidates: { name: string }[] } | null = null;
    for (let t = 0; t < 120 && answer === null; t++) {
      const r = await fetch(`${base}/api/photos/${id}/candidates`);
      const body = (await r.json()) as { candidates?: { name: string }[] };
      if (r.status === 200 && (body.candidates?.length ?? 0) >= 5) answer = body as { candidates: { name: string }[] };
      else await new Promise((ok) => setTimeout(ok, 500));
    }
    expect(answer?.candidates[0].name).toBe(whale);
    expect((await catalog.getFeatures(identifier.modelVersion, [id])).get(id)).toHaveLength(64);
  }, 180_000);
});
