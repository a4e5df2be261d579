/**
 * An imported embedding model (the ResNet exported by PyTorch, test/fixtures/embedding-models)
 * fused with the local matcher in the service (issue 29): the fusion fitted by evaluate-open
 * through the CLI; a PostgreSQL catalog identified through the service and a worker process
 * that extracts the model's features and the photos' keypoints; and on SQLite the imported model
 * fused with a trained run and local, every candidate carrying each model's score.
 */
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { readLabels } from '../../src/data/labels.js';
import { importDataset } from '../../src/catalog/catalog-import.js';
import { openCatalog } from '../../src/catalog/catalog.js';
import { createIdentifier } from '../../src/serve/identifier.js';
import { createServer } from '../../src/serve/server.js';
import { openJobQueue } from '../../src/jobs/job-queue.js';
import { readMatcherCalibration } from '../../src/infer/matchers/matcher-calibration.js';
import { BACKENDS, newPostgresDatabase, openTestCatalog } from '../helpers/backends.js';
import { cliLauncher, startCli, type CliProcess } from '../helpers/cli-process.js';
import { runCli } from '../helpers/cli.js';
import { copyFixture } from '../helpers/fixtures.js';
import { tmpDir } from '../helpers/tmp.js';

const RESNET = path.resolve(import.meta.dirname, '../fixtures/embedding-models/resnet.onnx');
const TOKEN = 'imported-fused-token';
const unavailable = inject('postgresMissing');

interface Candidate {
  name: string;
  score: number;
  siamese: number;
  learned?: number[];
  local?: number;
  fused?: number;
}

describe('an imported model fused with local in the service', () => {
  const dir = tmpDir('whaleid-imported-fused-');
  const data = path.join(dir, 'synth');
  const fitData = path.join(dir, 'fit');
  const model = path.join(dir, 'resnet');
  const run = path.join(dir, 'full');
  let labels: Map<string, string>;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    // the synthetic catalog (8 whales x 5 photos, seed 5) made once for this file and imported-model.test.ts
    await copyFixture('synth-8x5-s5', data);
    labels = new Map((await readLabels(path.join(data, 'train.csv'))).map((l) => [l.image, l.id]));
    // other whales to fit the fusions on (never the catalog's: another seed), and the shared tiny
    // run. 10 whales (17 train photos, 14 open-set queries) rather than 16 x 4 (38 queries): the
    // fit's shape and models are what is checked, and evaluate-open describes every photo with
    // local keypoints (measured 4 CPU-s against 8.5). The catalog stays 8 x 5: on the smaller
    // shared ones (6 x 3, seeds 5 and 9) another whale came first in both tests.
    await copyFixture('synth-10x4-s11', fitData);
    await copyFixture('tiny-run', dir);
    expect((await runCli('model', 'import', '--onnx', RESNET, '--out', model, '--resize', 'crop', '--margin', '0.05', '--threads', '1')).code).toBe(0);
  }, 900_000); // the shared fixtures are built when the code that makes them changed
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  /** A re-encoded copy of a catalog photo (other bytes, so not a duplicate) and its whale. */
  const copyOf = async (): Promise<{ bytes: Buffer; whale: string }> => {
    const [image, whale] = [...labels].find(([, id]) => id !== 'new_whale')!;
    return { bytes: await sharp(path.join(data, 'train', image)).jpeg({ quality: 70 }).toBuffer(), whale };
  };
  const upload = async (base: string): Promise<number> => {
    const { bytes } = await copyOf();
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(bytes)], { type: 'image/jpeg' }), 'copy.jpg');
    const res = await fetch(`${base}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { results: { photo: { id: number } }[] }).results[0].photo.id;
  };

  it.skipIf(unavailable !== '')('a PostgreSQL catalog identified through the service and a worker process, the imported model fused with local', async () => {
    const fit = path.join(dir, 'fused-alone.csv');
    const e = await runCli('evaluate-open', '--model', model, '--matcher', 'fused', '--data', fitData, '--split-seed', '1', '--out', fit, '--cache', path.join(dir, 'cache'), '--quiet');
    expect(e.code, e.err).toBe(0);
    const calibration = await readMatcherCalibration(`${fit}.matcher.json`, 'fused');
    expect(calibration.fusion).toMatchObject({ version: 2, models: 1, local: true });
    expect(calibration.fusion!.modelVersions![0]).toMatch(/^resnet@/);

    const url = await newPostgresDatabase('imported_fused');
    const photoDir = path.join(dir, 'pg-photos');
    const catalog = await openCatalog(url, { photoDir, create: true });
    const jobs = await openJobQueue(url);
    await importDataset(catalog, data);
    const identifier = await createIdentifier(catalog, model, { threads: 1, queued: true, scoring: { url }, matcher: 'fused', calibration, onWarning: () => {} });
    const app = await createServer({ catalog, identifier, jobs, token: TOKEN });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const procs: CliProcess[] = [];
    cleanups.push(() => catalog.close(), () => jobs.close(), () => identifier.close(), () => app.close(), async () => procs.forEach((p) => p.kill('SIGKILL')));
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    // the worker stores each photo's keypoints and descriptors beside the model's features
    // 4 jobs at a time: the worker queues a job for each of the catalog's photos, and a job loop
    // takes its next job half a second after the last one began (pg-boss's polling interval)
    const worker = startCli(cliLauncher(dir), 'worker', ['worker', '--catalog', url, '--photos', photoDir, '--model', model, '--matcher', 'fused', '--concurrency', '4', '--log-jobs', '--threads', '1']);
    procs.push(worker);
    await worker.waitFor(/worker \w+: model resnet@\w+, 4 jobs at a time, local descriptors stored too/, 120_000);
    const id = await upload(base);
    await worker.waitFor(new RegExp(`job photo ${id}: written`), 120_000);
    let answer: { matcher: string; candidates: Candidate[] } | null = null;
    for (let t = 0; t < 240 && answer === null; t++) {
      const r = await fetch(`${base}/api/photos/${id}/candidates`);
      const body = (await r.json()) as { matcher: string; candidates?: Candidate[] };
      if (r.status === 200 && (body.candidates?.length ?? 0) >= 5) answer = body as { matcher: string; candidates: Candidate[] };
      else await new Promise((ok) => setTimeout(ok, 500));
    }
    const { whale } = await copyOf();
    expect(answer?.matcher).toBe('fused');
    expect(answer!.candidates[0].name).toBe(whale);
    for (const c of answer!.candidates) {
      // ranked by the fused score, with the model's and the local score beside it
      expect(c.score).toBe(c.fused);
      expect([c.siamese, c.local].every(Number.isFinite)).toBe(true);
    }
    expect(answer!.candidates[0].local).toBeGreaterThan(0);
    expect((await catalog.getFeatures(identifier.modelVersion, [id])).get(id)).toHaveLength(64);
  }, 1_200_000); // 445 s under a load of 26 on 2 cores

  it('a SQLite catalog identified with the imported model, a run and local fused: each model\'s score beside the fused one', async () => {
    const fit = path.join(dir, 'fused-two.csv');
    const e = await runCli('evaluate-open', '--model', run, '--model', model, '--matcher', 'fused', '--data', fitData, '--split-seed', '1', '--out', fit, '--cache', path.join(dir, 'cache'), '--quiet');
    expect(e.code, e.err).toBe(0);
    const calibration = await readMatcherCalibration(`${fit}.matcher.json`, 'fused');
    const catalog = await openTestCatalog(BACKENDS[0], dir, 'whales');
    await importDataset(catalog, data);
    // the fusion meets only its models
    await expect(createIdentifier(catalog, model, { threads: 1, matcher: 'fused', calibration, moreModels: [run], onWarning: () => {} })).rejects.toThrow(/the matcher calibration: the fusion was fitted on the models/);
    const identifier = await createIdentifier(catalog, run, { threads: 1, matcher: 'fused', calibration, moreModels: [model], onWarning: () => {} });
    const alone = await createIdentifier(catalog, model, { threads: 1, onWarning: () => {} });
    cleanups.push(() => catalog.close(), () => identifier.close(), () => alone.close());
    await identifier.sync();
    await alone.sync();
    const app = await createServer({ catalog, identifier, token: TOKEN });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const id = await upload(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
    const fused = await identifier.identify(id, { k: 8 });
    const { whale } = await copyOf();
    expect(fused.candidates[0].name).toBe(whale);
    // the imported model's score of each individual is what the model alone gives it
    const single = new Map((await alone.identify(id, { k: 8 })).candidates.map((c) => [c.name, c.score]));
    for (const c of fused.candidates) {
      expect(c.score).toBe(c.fused);
      expect(c.learned).toHaveLength(1);
      expect(c.learned![0]).toBeCloseTo(single.get(c.name)!, 6);
    }
    // both models' features are stored in the catalog, each under its version
    expect(JSON.parse(readFileSync(`${fit}.matcher.json`, 'utf8')).fusion.modelVersions).toEqual([identifier.modelVersion, alone.modelVersion]);
    expect((await catalog.getFeatures(alone.modelVersion, [id])).get(id)).toHaveLength(64);
    expect((await catalog.getFeatures(identifier.modelVersion, [id])).has(id)).toBe(true);
  }, 600_000);
});
