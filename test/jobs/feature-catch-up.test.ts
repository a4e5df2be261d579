/**
 * Workers catch up on a model added to the worker set: a catalog whose photos have model A's
 * features, two workers started together with A and B: every photo gets B's features, each
 * photo's job is queued once (the sweeps are serialised), and the sweep says what it found.
 */
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import path from 'node:path';
import pg from 'pg';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import { importOnnxModel } from '../../src/infer/model-import.js';
import { FEATURE_QUEUE, JOB_SCHEMA } from '../../src/jobs/job-queue.js';
import { runWorker, type WorkerSummary } from '../../src/jobs/worker.js';
import { loadRunModel } from '../../src/predict/run-model.js';
import { newPostgresDatabase } from '../helpers/backends.js';
import { scenePhoto } from '../helpers/photos.js';
import { tmpDir } from '../helpers/tmp.js';

const unavailable = inject('postgresMissing');
if (unavailable) console.warn(`skipping the feature catch-up test: ${unavailable}`);

const MODELS = path.resolve(import.meta.dirname, '../fixtures/embedding-models');
const PHOTOS = 12;

/** Polls until `ok` holds (or fails after `ms`). */
async function until(ok: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(unavailable !== '')('workers started with an added model catch up on the catalog (PostgreSQL)', () => {
  const dir = tmpDir('whaleid-catch-up-');
  const photoDir = path.join(dir, 'photos');
  const a = path.join(dir, 'model-a');
  const b = path.join(dir, 'model-b');
  let url: string;
  let db: pg.Pool;
  const catalogs: Catalog[] = [];
  const open = async (): Promise<Catalog> => {
    const c = await openCatalog(url, { photoDir, create: true });
    catalogs.push(c);
    return c;
  };
  /** A worker in this process until `stop` aborts; its lines collected. */
  // wrapped: an async function returning the worker's promise would wait for the worker to stop
  const start = async (models: string[], stop: AbortController, lines: string[], o: { catchUpEveryMs?: number } = {}): Promise<{ done: Promise<WorkerSummary> }> => ({
    done: runWorker({ catalog: await open(), url, runDir: models[0], moreModels: models.slice(1), concurrency: 2, threads: 1, scoring: false, onLine: (l) => lines.push(l), signal: stop.signal, statusEveryMs: 60_000, ...o }),
  });

  beforeAll(async () => {
    for (const [file, out] of [['resnet.onnx', a], ['effnet.onnx', b]]) await importOnnxModel({ onnx: path.join(MODELS, file), out, preprocessing: { resize: 'crop' }, force: true, threads: 1 });
    url = await newPostgresDatabase('catch_up');
    db = new pg.Pool({ connectionString: url, max: 2 });
  }, 120_000);
  afterAll(async () => {
    for (const c of catalogs) await c.close();
    await db?.end();
  });

  it('queues one job per photo lacking the added model, once across the workers, until every photo has it', async () => {
    const catalog = await open();
    for (let i = 0; i < PHOTOS; i++) await catalog.addPhoto(await scenePhoto(900 + i, 200, 140), { originalName: `p${i}.jpg`, uploadedBy: 'field' });
    const versionOf = async (dir: string): Promise<string> => {
      const run = await loadRunModel(dir, { threads: 1, onWarning: () => {} });
      await run.inference.dispose();
      return run.inference.modelVersion;
    };
    const [va, vb] = [await versionOf(a), await versionOf(b)];

    // the set as it was: model A only, until every photo has its features
    const first = new AbortController();
    const aLines: string[] = [];
    const onlyA = await start([a], first, aLines);
    await until(async () => (await catalog.photosWithoutFeatures(va)).length === 0, 120_000, "model A's features");
    first.abort();
    expect((await onlyA.done).written).toBe(PHOTOS);
    expect(aLines).toContain(`worker: model ${va}: ${PHOTOS} photo(s) without its features: ${PHOTOS} queued now, 0 already queued or running`);
    expect(await catalog.photosWithoutFeatures(vb)).toHaveLength(PHOTOS);

    // model B added: two workers start at the same moment, sweeping again and again meanwhile
    const { rows: [{ t0 }] } = await db.query<{ t0: Date }>('SELECT now() AS t0');
    const stop = new AbortController();
    const lines: [string[], string[]] = [[], []];
    const workers = await Promise.all(lines.map((l) => start([a, b], stop, l, { catchUpEveryMs: 300 })));
    await until(async () => (await catalog.photosWithoutFeatures(vb)).length === 0, 120_000, "model B's features");
    // a few more sweeps with nothing missing: they queue nothing
    await new Promise((r) => setTimeout(r, 1000));
    stop.abort();
    const done = await Promise.all(workers.map((w) => w.done));
    expect(done.reduce((n, s) => n + s.written, 0)).toBe(PHOTOS);
    expect(done.reduce((n, s) => n + s.failed, 0)).toBe(0);

    // each photo's job once: in pg-boss's job and archive tables since the workers started
    const { rows } = await db.query<{ photo: string; n: string }>(`SELECT photo, count(*) AS n FROM (
        SELECT (data->>'photoId')::bigint AS photo FROM ${JOB_SCHEMA}.job WHERE name = $1 AND created_on >= $2
        UNION ALL SELECT (data->>'photoId')::bigint AS photo FROM ${JOB_SCHEMA}.archive WHERE name = $1 AND created_on >= $2) j GROUP BY photo`, [FEATURE_QUEUE, t0]);
    expect(rows).toHaveLength(PHOTOS);
    expect(rows.every((r) => Number(r.n) === 1)).toBe(true);
    // the sweeps' counts: the first to sweep queued them all, every later sweep (the other
    // worker's, the repeated ones) found them queued or running
    const sweeps = lines.flat().filter((x) => x.startsWith(`worker: model ${vb}:`));
    expect(sweeps).toContain(`worker: model ${vb}: ${PHOTOS} photo(s) without its features: ${PHOTOS} queued now, 0 already queued or running`);
    expect(sweeps.map((x) => Number(/: (\d+) queued now/.exec(x)![1])).reduce((n, q) => n + q, 0)).toBe(PHOTOS);
    // A's features were there: no sweep found any photo without them
    expect(lines.flat().some((l) => l.startsWith(`worker: model ${va}:`))).toBe(false);
  }, 300_000);

  it("queues a photo again when it gains a further annotation without the model's features, which its job then extracts", async () => {
    const catalog = await open();
    const run = await loadRunModel(a, { threads: 1, onWarning: () => {} });
    await run.inference.dispose();
    const va = run.inference.modelVersion;
    expect(await catalog.photosWithoutFeatures(va)).toEqual([]);
    const [first] = (await catalog.listPhotos({ limit: 1 })).items;
    const note = await catalog.addAnnotation(first.id, { box: { x: 20, y: 20, w: 100, h: 60 }, viewpoint: 'left' }, 'field');
    // the photo's own features are there; its new annotation's are not
    expect(await catalog.photosWithoutFeatures(va)).toEqual([first.id]);
    const stop = new AbortController();
    const lines: string[] = [];
    const worker = await start([a], stop, lines);
    await until(async () => (await catalog.photosWithoutFeatures(va)).length === 0, 120_000, "the annotation's features");
    stop.abort();
    expect((await worker.done).failed).toBe(0);
    expect(lines).toContain(`worker: model ${va}: 1 photo(s) without its features: 1 queued now, 0 already queued or running`);
    expect((await catalog.getFeatures(va, [-note.id])).get(-note.id)?.length).toBe(run.inference.head.features);
  }, 300_000);
});
