import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import sharp from 'sharp';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import { createIdentifier, type Identifier } from '../../src/serve/identifier.js';
import { createServer } from '../../src/serve/server.js';
import { NO_WORKER_WARNING } from '../../src/serve/service-context.js';
import { FEATURE_QUEUE, JOB_SCHEMA, openJobQueue, type JobQueue } from '../../src/jobs/job-queue.js';
import { decodeLocalFeatures } from '../../src/infer/local/local-feature-store.js';
import { DEFAULT_LOCAL, keypointCount } from '../../src/infer/local/local-features.js';
import { localRecordKey } from '../../src/infer/local/catalog-local-features.js';
import { createLocalGallery } from '../../src/serve/local-gallery.js';
import { cliLauncher, startCli, until, type CliProcess } from '../helpers/cli-process.js';
import { newPostgresDatabase } from '../helpers/backends.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import { writeUntrainedRun } from '../helpers/untrained-run.js';

const unavailable = inject('postgresMissing');
if (unavailable) console.warn(`skipping the job queue and worker tests: ${unavailable}`);

const TOKEN = 'worker-test-token';

describe.skipIf(unavailable !== '')('feature jobs on a PostgreSQL catalog and whaleid worker', () => {
  const dir = tmpDir('whaleid-worker-');
  let url: string;
  let db: pg.Pool;
  let catalog: Catalog;
  let identifier: Identifier;
  let jobs: JobQueue;
  let app: FastifyInstance;
  let base: string;
  const procs: CliProcess[] = [];
  const runDir = path.join(dir, 'run');
  const photoDir = path.join(dir, 'photos');
  let launcher: string;

  beforeAll(async () => {
    // an untrained tiny run: the job's arithmetic is the same as a trained one's
    await writeUntrainedRun(runDir);
    url = await newPostgresDatabase('worker');
    db = new pg.Pool({ connectionString: url, max: 2 });
    catalog = await openCatalog(url, { photoDir, create: true });
    jobs = await openJobQueue(url);
    identifier = await createIdentifier(catalog, runDir, { threads: 1, queued: true, scoring: { url }, onWarning: () => {} });
    app = await createServer({ catalog, identifier, jobs, token: TOKEN });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    launcher = cliLauncher(dir);
  });
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await app?.close();
    await identifier?.close();
    await jobs?.close();
    await catalog?.close();
    await db?.end();
  });

  const worker = (name: string, extra: string[] = []): CliProcess => {
    const p = startCli(launcher, name, ['worker', '--catalog', url, '--photos', photoDir, '--model', runDir, '--concurrency', '1', '--job-expiry', '2', '--log-jobs', '--threads', '1', ...extra]);
    procs.push(p);
    return p;
  };
  const upload = async (bytes: Buffer, name: string): Promise<{ id: number; processing: boolean; warning?: string }> => {
    const form = new FormData();
    form.append('file', new Blob([bytes], { type: 'image/jpeg' }), name);
    const res = await fetch(`${base}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const r = ((await res.json()) as { results: { photo: { id: number }; processing?: boolean; warning?: string; identification: unknown }[] }).results[0];
    expect(r.identification).toBeNull();
    return { id: r.photo.id, processing: r.processing === true, warning: r.warning };
  };
  const jobsOf = async (photoId: number) => (await db.query<{ state: string; retry_count: number }>(`SELECT state, retry_count FROM ${JOB_SCHEMA}.job WHERE name = $1 AND (data->>'photoId')::int = $2`, [FEATURE_QUEUE, photoId])).rows;

  const listed = async (id: number): Promise<{ processing?: boolean }> => {
    const page = (await (await fetch(`${base}/api/photos?status=pending`)).json()) as { items: { id: number; processing?: boolean }[] };
    return page.items.find((p) => p.id === id)!;
  };

  it('an upload enqueues a job, shows as being processed (its candidates and in the review queue), and a worker process extracts its features', async () => {
    // uploaded before any worker runs, so nothing can have extracted its features yet
    const { id, processing, warning } = await upload(await scenePhoto(1), 'one.jpg');
    expect(processing).toBe(true);
    // issue 33 item 5: with no worker alive the upload, the health route (the review page's banner) say so
    expect(warning).toBe(NO_WORKER_WARNING);
    expect(((await (await fetch(`${base}/api/health`)).json()) as { warning: string | null }).warning).toBe(NO_WORKER_WARNING);
    const pending = await fetch(`${base}/api/photos/${id}/candidates`);
    expect(pending.status).toBe(409);
    expect(((await pending.json()) as { error: string }).error).toMatch(new RegExp(`^photo ${id}: being processed`));
    expect(await listed(id)).toMatchObject({ processing: true });
    const a = worker('worker A');
    await a.waitFor(/worker \w+: model /, 60_000);
    await a.waitFor(new RegExp(`job photo ${id}: written`), 30_000);
    expect(await listed(id)).toMatchObject({ processing: false });
    expect(await jobsOf(id)).toEqual([{ state: 'completed', retry_count: 0 }]);
    await until('the service sees the worker', async () => ((await (await fetch(`${base}/api/health`)).json()) as { warning: string | null }).warning === null, 10_000);
    expect((await catalog.getFeatures(identifier.modelVersion, [id])).get(id)).toHaveLength(64);
    const ready = await fetch(`${base}/api/photos/${id}/candidates`);
    expect(ready.status).toBe(200);
  });

  it('a worker killed with SIGKILL mid-job: the job expires, another worker retries it, it completes once', async () => {
    // a large photo: decoding it keeps the job in hand long enough to be killed in the middle; on a
    // busy machine the job may still end before the kill lands (then another worker and photo try)
    let id = 0;
    for (let attempt = 0; ; attempt++) {
      const a = attempt === 0 ? procs[0] : worker(`worker A${attempt}`);
      if (attempt > 0) await a.waitFor(/worker \w+: model /, 60_000);
      const big = await sharp(await scenePhoto(2 + attempt, 320, 200)).resize(6000, 3750).png({ compressionLevel: 1 }).toBuffer();
      const killed = a.killWhen(/job photo (\d+): started/, 'SIGKILL', 30_000);
      id = (await upload(big, `big-${attempt}.png`)).id;
      expect(Number((await killed)[1])).toBe(id);
      await a.exited;
      if (!new RegExp(`job photo ${id}: (written|present)`).test(a.output())) break;
      expect(attempt).toBeLessThan(2);
    }
    expect(await jobsOf(id)).toEqual([{ state: 'active', retry_count: 0 }]);
    const b = worker('worker B');
    // expiry 2 s, then pg-boss's maintenance (every 5 s, in worker B) puts it back for a retry
    await b.waitFor(new RegExp(`job photo ${id}: (written|present)`), 45_000);
    await until('the job completed', async () => (await jobsOf(id))[0]?.state === 'completed', 10_000);
    const rows = await jobsOf(id);
    expect(rows).toHaveLength(1);
    expect(rows[0].state).toBe('completed');
    expect(rows[0].retry_count).toBeGreaterThanOrEqual(1);
    expect((b.output().match(new RegExp(`job photo ${id}: (written|present)`, 'g')) ?? [])).toHaveLength(1);
    expect((await catalog.getFeatures(identifier.modelVersion, [id])).has(id)).toBe(true);
    // idempotent: the same job run again finds the features and writes nothing
    const { runFeatureJob } = await import('../../src/jobs/feature-job.js');
    const never = { modelVersion: identifier.modelVersion, extract: async () => { throw new Error('extracted twice'); } };
    expect(await runFeatureJob(catalog, never, id)).toEqual({ photoId: id, outcome: 'present' });
  });

  it('a worker with --matcher local stores each queued photo\'s descriptors too; a local gallery over the catalog then describes none', async () => {
    // the other workers stop first (SIGTERM: after the jobs in hand), so this one takes the new jobs
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    const c = worker('worker C', ['--matcher', 'local']);
    await c.waitFor(/worker \w+: model .*, local descriptors stored too \(local\/akaze/, 60_000);
    const ids = [(await upload(await scenePhoto(11), 'local-1.jpg')).id, (await upload(await scenePhoto(12), 'local-2.jpg')).id];
    for (const id of ids) await c.waitFor(new RegExp(`job photo ${id}: written`), 30_000);
    const records = await catalog.getFeatureRecords(localRecordKey(DEFAULT_LOCAL), ids);
    const keypoints = ids.map((id) => keypointCount(decodeLocalFeatures(records.get(id)!, DEFAULT_LOCAL, `photo ${id}`)[0]));
    expect(keypoints.every((n) => n > 0)).toBe(true);
    expect((await catalog.getFeatures(identifier.modelVersion, ids)).size).toBe(2);
    // what a service with --matcher local reads: the stored descriptors, nothing described at query time
    const gallery = createLocalGallery(catalog);
    const features = await gallery.featuresOf(await Promise.all(ids.map((id) => catalog.photo(id))));
    expect(gallery.described).toBe(0);
    expect(features.map(keypointCount)).toEqual(keypoints);
  });

  // Issue 32 item 9: photos no upload enqueued (a catalog copied into PostgreSQL) stayed "being
  // processed" forever, and a job that failed for good still said it would be retried
  it('a worker queues the photos of a copied catalog that have no features and no job, and extracts them', async () => {
    const source = path.join(dir, 'copied-from.db');
    const sqlite = await openCatalog(source, { create: true });
    const added = [(await sqlite.addPhoto(await scenePhoto(21), { originalName: 'c1.jpg' })).photo.id, (await sqlite.addPhoto(await scenePhoto(22), { originalName: 'c2.jpg' })).photo.id];
    await sqlite.close();
    const target = await newPostgresDatabase('worker-copy');
    const copied = await runCli('catalog', 'copy', '--from', source, '--to', target, '--to-photos', path.join(dir, 'copied-photos'), '--quiet');
    expect(copied.code, copied.err).toBe(0);
    const d = startCli(launcher, 'worker D', ['worker', '--catalog', target, '--photos', path.join(dir, 'copied-photos'), '--model', runDir, '--concurrency', '1', '--log-jobs', '--threads', '1']);
    procs.push(d);
    await d.waitFor(/worker: model \S+: 2 photo\(s\) without its features: 2 queued now, 0 already queued or running/, 60_000);
    for (const id of added) await d.waitFor(new RegExp(`job photo ${id}: written`), 30_000);
    const copy = await openCatalog(target, { photoDir: path.join(dir, 'copied-photos') });
    try {
      expect((await copy.getFeatures(identifier.modelVersion, added)).size).toBe(2);
      const queue = await openJobQueue(target);
      // every photo has its features now: a second sweep queues nothing
      expect(await queue.enqueueMissingFeatures(copy, identifier.modelVersion)).toBe(0);
      await queue.close();
    } finally {
      await copy.close();
    }
    d.kill('SIGTERM');
    await d.exited;
  });

  it('a job that fails on every try shows as failed, with its reason, in the list and the candidates; the sweep leaves it', async () => {
    const { id } = await upload(await scenePhoto(31), 'damaged.jpg');
    // the stored file damaged after the upload: every try of its job fails to decode it
    writeFileSync(catalog.photoFile(await catalog.photo(id)), Buffer.from('not a photo any more'));
    const c = procs.find((p) => p.name === 'worker C')!;
    await c.waitFor(new RegExp(`photo ${id}: .*\\(the job is retried, 5 tries left\\)`), 30_000);
    await c.waitFor(new RegExp(`photo ${id}: .*\\(failed for good after 6 tries\\)`), 60_000);
    await until('the job failed', async () => (await jobsOf(id))[0]?.state === 'failed', 10_000);
    const item = (await listed(id)) as { processing?: boolean; extractionFailed?: string };
    expect(item.processing).toBe(false);
    expect(item.extractionFailed).toMatch(/\S/);
    const res = await fetch(`${base}/api/photos/${id}/candidates`);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: string }).error).toBe(`photo ${id}: its features could not be extracted (the job failed on every try: ${item.extractionFailed}); a new box queues it again`);
    expect(await jobs.enqueueMissingFeatures(catalog, identifier.modelVersion)).toBe(0);
  });
});
