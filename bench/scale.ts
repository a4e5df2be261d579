// Load check of the photo-ID service at scale (issue 21): a 100,000-photo PostgreSQL catalog
// (synthetic feature vectors written straight into the database; 5 photos per individual), 2
// service processes and 0 (scored in the service), 1, 2, 4 worker processes scoring shards of the
// gallery, all on loopback and started by this script (its own PostgreSQL in a temporary folder).
// For each worker count: identifications per second and p95 latency at 1 and at 4 clients, in one
// run. Then the crash check: uploads, decisions and identifications going on, one worker (while it
// holds a job) and one service process are killed with SIGKILL; afterwards every accepted upload
// and every acknowledged decision must be in the catalog, every upload's feature job completed
// exactly once with its features stored, and the catalog's integrity check must pass.
// The table goes to stdout and to bench/results.md's bench:scale section.
// Usage: npm run bench:scale [-- --photos 100000 --workers 1,2,4 --seconds 10 --preset small]
// With --vectors N (e.g. 1000000): the large-catalog mode instead (bench/lib/scale-vectors.ts):
// start time, p50/p95 per query through the gallery index, recall of the exhaustive top 5
// [-- --vectors 1000000 --queries 100 --head distance|cosine|run].
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { initEngine } from '../src/model/tfjs/tfjs-backend.js';
import { createSiamese, featureCount, resolvePreset } from '../src/model/network/siamese.js';
import { saveSiamese } from '../src/model/folders/model-io.js';
import { exportSiameseOnnx } from '../src/model/onnx/onnx-export.js';
import { resolveTrainConfig } from '../src/train/train-config.js';
import { loadRunModel } from '../src/predict/run-model.js';
import { openCatalog } from '../src/catalog/catalog.js';
import { JOB_SCHEMA, FEATURE_QUEUE } from '../src/jobs/job-queue.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { createRng } from '../src/util/random.js';
import { createPostgresDatabase, startPostgresServer } from '../test/helpers/postgres-server.js';
import { flagValue } from './lib/args.js';
import { cliLauncher, startCli, until, type CliProcess } from '../test/helpers/cli-process.js';
import { closedLoop, percentile, type LoadResult } from './lib/load.js';
import { measureTransports, transportLine } from './lib/transport.js';
import { benchVectors, writeBenchHead, type BenchHead } from './lib/scale-vectors.js';

const opt = flagValue;
const nPhotos = Number(opt('photos', '100000'));
const perIndividual = 5;
const workerCounts = opt('workers', '1,2,4').split(',').map(Number);
const seconds = Number(opt('seconds', '10'));
const preset = opt('preset', 'small') as 'small' | 'cpu' | 'tiny';
const inputSize = Number(opt('input-size', '64'));
const vectors = Number(opt('vectors', '0'));
const headKind = opt('head', 'distance') as BenchHead;
const work = path.resolve(opt('work', vectors ? 'bench/out/scale-vectors' : 'bench/out/scale'));
const TOKEN = 'bench-scale-token';
const say = (s: string): void => void process.stderr.write(`${s}\n`);
const t0 = Date.now();
const loadBefore = os.loadavg()[0];

// the vectors mode keeps its catalog and index between runs (writing and indexing a million vectors takes minutes)
if (!vectors) rmSync(work, { recursive: true, force: true });
mkdirSync(path.join(work, 'photos'), { recursive: true });
const photoDir = path.join(work, 'photos');
// the launcher outside the project (tsc would check a .mts there)
const launcher = cliLauncher(mkdtempSync(path.join(os.tmpdir(), 'whaleid-scale-')));

// the model: an untrained run of the CPU recipes' preset (its cost is that of a trained one)
await initEngine({ backend: 'wasm' });
const runDir = path.join(work, 'run');
{
  const siamese = createSiamese({ preset, inputSize, seed: 1 });
  await saveSiamese(siamese, path.join(runDir, 'model'));
  await exportSiameseOnnx(siamese, path.join(runDir, 'onnx'));
  if (vectors) await writeBenchHead(runDir, featureCount(resolvePreset(preset)), headKind);
  writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(resolveTrainConfig({ data: '(bench: untrained)', preset, inputSize }), null, 2));
  siamese.model.dispose();
}
const run = await loadRunModel(runDir);
const modelVersion = run.inference.modelVersion;
const F = run.inference.head.features;
await run.inference.dispose();
if (vectors) {
  const lines = await benchVectors({ vectors, queries: Number(opt('queries', '100')), runDir, modelVersion, head: run.inference.head, headKind, work, say });
  console.log(lines.join('\n'));
  const results = path.join(import.meta.dirname, 'results.md');
  const title = '## bench:scale --vectors';
  const section = [title, '', `\`npm run bench:scale -- ${process.argv.slice(2).join(' ')}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${((Date.now() - t0) / 1000).toFixed(0)} s (load average ${loadBefore.toFixed(1)} before).`, '', ...lines, ''].join('\n');
  const old = readFileSync(results, 'utf8');
  const re = /## bench:scale --vectors\n[\s\S]*?(?=\n## |$)/;
  await writeFileAtomic(results, re.test(old) ? old.replace(re, section) : `${old.trimEnd()}\n\n${section}`);
  process.exit(0);
}

const server = startPostgresServer();
if (!server.url) throw new Error(`bench:scale needs PostgreSQL: ${server.missing}`);
const procs: CliProcess[] = [];
try {
  const url = await createPostgresDatabase(server.url, 'whales');
  // the fan-out's transport: why LISTEN/NOTIFY and not the job queue
  const transport = transportLine(await measureTransports(await createPostgresDatabase(server.url, 'transport'), 20));
  say(transport);
  const db = new pg.Pool({ connectionString: url, max: 4 });
  // the catalog's schema, made by whaleid itself; then the synthetic catalog straight into its tables
  await (await openCatalog(url, { photoDir, create: true })).close();
  const now = new Date().toISOString();
  const nInd = Math.ceil(nPhotos / perIndividual);
  await db.query(`INSERT INTO individuals (id, name, notes, created_at, created_by) SELECT g, 'S' || lpad(g::text, 6, '0'), '', $1, 'bench' FROM generate_series(1, $2::int) g`, [now, nInd]);
  await db.query(`INSERT INTO photos (id, sha256, format, bytes, width, height, original_name, uploaded_by, uploaded_at, individual_id, status)
    SELECT g, encode(sha256(('bench-' || g)::bytea), 'hex'), 'jpeg', 50000, 1000, 500, 'bench-' || g || '.jpg', 'bench', $1, 1 + (g - 1) / $3::int, 'identified' FROM generate_series(1, $2::int) g`, [now, nPhotos, perIndividual]);
  await db.query(`INSERT INTO decisions (photo_id, action, individual_id, decided_by, decided_at) SELECT g, 'import', 1 + (g - 1) / $3::int, 'bench', $1 FROM generate_series(1, $2::int) g`, [now, nPhotos, perIndividual]);
  const rng = createRng(7);
  for (let i = 0; i < nPhotos; i += 5000) {
    const ids: number[] = [];
    const vecs: Buffer[] = [];
    for (let id = i + 1; id <= Math.min(nPhotos, i + 5000); id++) {
      ids.push(id);
      vecs.push(Buffer.from(Float32Array.from({ length: F }, () => Math.max(0, rng.normal(0.4, 0.6))).buffer));
    }
    await db.query('INSERT INTO features (photo_id, model_version, vector) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[])', [ids, ids.map(() => modelVersion), vecs]);
  }
  for (const t of ['individuals', 'photos', 'decisions']) await db.query(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT max(id) FROM ${t}))`);
  await db.query('UPDATE whaleid_state SET revision = revision + 1');
  say(`catalog: ${nPhotos} photos of ${nInd} individuals with ${F}-float features (${preset} preset) written in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  const catalogArgs = ['--catalog', url, '--photos', photoDir];
  const startService = async (k: number): Promise<{ proc: CliProcess; base: string }> => {
    const proc = startCli(launcher, `service ${k}`, ['serve', ...catalogArgs, '--model', runDir, '--token', TOKEN, '--port', '0', '--box-model', 'none', '--quiet']);
    procs.push(proc);
    const m = await proc.waitFor(/ at (http:\/\/127\.0\.0\.1:\d+)/, 240_000);
    return { proc, base: m[1] };
  };
  const startedAt = Date.now();
  const services = await Promise.all([startService(1), startService(2)]);
  // from launch to listening: the catalog's features read into memory (both at once)
  const startSeconds = (Date.now() - startedAt) / 1000;
  say(`services up at ${services.map((s) => s.base).join(', ')} (${((Date.now() - t0) / 1000).toFixed(0)} s; started in ${startSeconds.toFixed(1)} s)`);
  const health = async (base: string): Promise<{ workers: number; sharded: number; fallback: number; local: number }> => ((await (await fetch(`${base}/api/health`)).json()) as { scoring: { workers: number; sharded: number; fallback: number; local: number } }).scoring;
  const workers: CliProcess[] = [];
  const startWorker = (k: number): CliProcess => {
    const proc = startCli(launcher, `worker ${k}`, ['worker', ...catalogArgs, '--model', runDir, '--concurrency', '1', '--job-expiry', '10', '--log-jobs']);
    procs.push(proc);
    workers.push(proc);
    return proc;
  };

  const identify = (alive: { base: string }[]) => async (c: number): Promise<void> => {
    const s = alive[c % alive.length];
    const id = 1 + Math.floor(Math.random() * nPhotos);
    const res = await fetch(`${s.base}/api/photos/${id}/candidates?k=5`);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 100)}`);
    await res.arrayBuffer();
  };
  const rows: string[] = [];
  const measure = async (label: string, sharded: boolean): Promise<void> => {
    // warm: the first queries load each worker's shard; measured once both services' queries go to the workers
    await closedLoop({ seconds: 2, concurrency: 2, op: identify(services) });
    if (sharded) {
      await until('queries answered by the workers', async () => {
        const h0 = await Promise.all(services.map((s) => health(s.base)));
        await closedLoop({ seconds: 1, concurrency: 2, op: identify(services) });
        const h1 = await Promise.all(services.map((s) => health(s.base)));
        return h1.every((h, i) => h.sharded > h0[i].sharded && h.fallback === h0[i].fallback);
      }, 120_000).catch((e: Error) => say(e.message));
    }
    const before = await Promise.all(services.map((s) => health(s.base)));
    for (const concurrency of [1, 4]) {
      const r: LoadResult = await closedLoop({ seconds, concurrency, op: identify(services) });
      const after = await Promise.all(services.map((s) => health(s.base)));
      const sharded = after.reduce((a, h, i) => a + h.sharded - before[i].sharded, 0);
      const all = after.reduce((a, h, i) => a + h.sharded + h.local - before[i].sharded - before[i].local, 0);
      rows.push(`| ${label} | ${concurrency} | ${(r.ok / r.seconds).toFixed(2)} | ${percentile(r.latencies, 50).toFixed(0)} | ${percentile(r.latencies, 95).toFixed(0)} | ${all ? ((100 * sharded) / all).toFixed(0) : '-'}% | ${r.failed} |`);
      before.splice(0, 2, ...after);
      say(rows.at(-1)!);
    }
  };

  await measure('0 (scored in the service)', false);
  for (const count of workerCounts) {
    while (workers.length < count) startWorker(workers.length + 1);
    await until(`${count} workers seen by both services`, async () => (await Promise.all(services.map((s) => health(s.base)))).every((h) => h.workers === count), 240_000);
    await measure(String(count), true);
  }

  // the crash check: uploads, decisions and identifications, then SIGKILL a worker holding a job and a service
  say('crash check: load with uploads and decisions, SIGKILL one worker (holding a job) and one service process');
  const accepted: { id: number; sha: string }[] = [];
  const decided: { id: number; photoId: number }[] = [];
  const pending: number[] = [];
  let seed = 1;
  let alive = [...services];
  const pick = (c: number): { base: string } => alive[c % alive.length];
  const upload = async (c: number): Promise<void> => {
    const form = new FormData();
    for (let k = 0; k < 3; k++) {
      const bytes = await sharp({ create: { width: 120, height: 60, channels: 3, background: { r: seed % 256, g: (seed >> 8) % 256, b: (seed * 7) % 256 } } }).jpeg().toBuffer();
      form.append('file', new Blob([bytes], { type: 'image/jpeg' }), `up-${seed++}.jpg`);
    }
    const res = await fetch(`${pick(c).base}/api/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await res.json()) as { results: { ok: boolean; duplicate?: boolean; photo?: { id: number; sha256: string } }[] };
    if (res.status !== 200) throw new Error(`upload HTTP ${res.status}`);
    for (const r of body.results) if (r.ok && !r.duplicate && r.photo) {
      accepted.push({ id: r.photo.id, sha: r.photo.sha256 });
      pending.push(r.photo.id);
    }
  };
  const decide = async (c: number): Promise<void> => {
    const photoId = pending.shift();
    if (photoId === undefined) return void (await new Promise((r) => setTimeout(r, 50)));
    const individualId = 1 + Math.floor(Math.random() * nInd);
    const res = await fetch(`${pick(c).base}/api/photos/${photoId}/confirm`, { method: 'POST', body: JSON.stringify({ individualId }), headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
    if (res.status !== 200) throw new Error(`confirm HTTP ${res.status}`);
    decided.push({ id: ((await res.json()) as { id: number }).id, photoId });
  };
  const mixed = (c: number): Promise<void> => [upload, decide, identify(alive)][c % 3](c);
  const killer = (async () => {
    await new Promise((r) => setTimeout(r, 4000));
    // the worker is killed as it prints that it started a job: it dies holding it
    const inHand = await workers[0].killWhen(/job photo (\d+): started/, 'SIGKILL', 20_000).then((m) => Number(m[1]), () => null);
    workers[0].kill('SIGKILL');
    services[1].proc.kill('SIGKILL');
    alive = [services[0]];
    return inHand;
  })();
  const load = await closedLoop({ seconds: 14, concurrency: 6, op: mixed });
  const jobInHand = await killer;
  say(`crash load: ${load.ok} operations acknowledged, ${load.failed} failed (${[...load.errors].map(([m, n]) => `${n}x ${m}`).join('; ')}); worker killed ${jobInHand ? `while extracting photo ${jobInHand}` : 'between jobs'}`);
  // the jobs of every accepted upload finish (the killed worker's after its 10 s expiry)
  const ids = accepted.map((a) => a.id);
  const jobRows = async () => (await db.query<{ photo: string; state: string; retries: number }>(`SELECT data->>'photoId' AS photo, state, retry_count AS retries FROM ${JOB_SCHEMA}.job WHERE name = $1 UNION ALL SELECT data->>'photoId', state, retry_count FROM ${JOB_SCHEMA}.archive WHERE name = $1`, [FEATURE_QUEUE])).rows;
  // every job finishes: those of accepted uploads, of uploads the killed service stored without answering, and the killed worker's (after its 10 s expiry)
  await until('every job finished', async () => (await jobRows()).every((j) => j.state === 'completed' || j.state === 'failed'), 120_000).catch((e: Error) => say(e.message));
  const jobs = await jobRows();
  const jobPhotos = [...new Set(jobs.map((j) => Number(j.photo)))];
  const photos = new Map((await db.query<{ id: number; sha256: string }>('SELECT id::int AS id, sha256 FROM photos WHERE id = ANY($1)', [ids])).rows.map((r) => [r.id, r.sha256]));
  const decisions = new Map((await db.query<{ id: number; photo_id: number }>('SELECT id::int AS id, photo_id::int AS photo_id FROM decisions WHERE id = ANY($1)', [decided.map((d) => d.id)])).rows.map((r) => [r.id, r.photo_id]));
  const withFeatures = new Set((await db.query<{ id: number }>('SELECT photo_id::int AS id FROM features WHERE model_version = $1 AND photo_id = ANY($2)', [modelVersion, jobPhotos])).rows.map((r) => r.id));
  const perPhoto = new Map<number, { state: string; retries: number }[]>();
  for (const j of jobs) perPhoto.set(Number(j.photo), [...(perPhoto.get(Number(j.photo)) ?? []), j]);
  const cat = await openCatalog(url, { photoDir, readonly: true });
  const integrity = await cat.integrityCheck();
  await cat.close();
  const checks: [string, boolean, string][] = [
    ['every accepted upload is in the catalog', accepted.every((a) => photos.get(a.id) === a.sha), `${accepted.filter((a) => photos.get(a.id) === a.sha).length} of ${accepted.length}`],
    ['every acknowledged decision is in the catalog', decided.every((d) => decisions.get(d.id) === d.photoId), `${decided.filter((d) => decisions.get(d.id) === d.photoId).length} of ${decided.length}`],
    ['every job completed exactly once (one per stored upload, each accepted upload\'s among them), its features stored',
      ids.every((id) => perPhoto.has(id)) && jobPhotos.every((id) => perPhoto.get(id)!.length === 1 && perPhoto.get(id)![0].state === 'completed' && withFeatures.has(id)),
      `${jobPhotos.filter((id) => perPhoto.get(id)!.length === 1 && perPhoto.get(id)![0].state === 'completed').length} of ${jobPhotos.length} jobs completed once (${ids.filter((id) => perPhoto.has(id)).length} of ${ids.length} accepted uploads have one), ${withFeatures.size} with features; retried after their worker died: ${jobs.filter((j) => j.retries > 0).length}${jobInHand ? ` (the killed worker's job, photo ${jobInHand}: ${perPhoto.get(jobInHand)?.[0]?.state ?? '?'} after ${perPhoto.get(jobInHand)?.[0]?.retries ?? '?'} retries)` : ''}`],
    ['catalog integrity check', integrity === 'ok', integrity],
  ];
  for (const [what, ok, detail] of checks) say(`${ok ? 'PASS' : 'FAIL'} ${what}: ${detail}`);
  const odd = [...new Set([...ids, ...jobPhotos])].filter((id) => perPhoto.get(id)?.length !== 1 || perPhoto.get(id)![0].state !== 'completed' || !withFeatures.has(id));
  if (odd.length) say(`uploads whose job is not completed once: ${odd.map((id) => `photo ${id}: ${JSON.stringify(perPhoto.get(id) ?? 'no job')}, features ${withFeatures.has(id) ? 'stored' : 'missing'}`).join('; ')}`);

  const table = [
    `Identifications against ${nPhotos.toLocaleString('en')} photos (${F} features, ${preset} preset), 2 service processes, closed loop of 1 and 4 clients for ${seconds} s each, ${os.cpus().length} cores shared by everything (PostgreSQL, services, workers, this load; load average ${loadBefore.toFixed(1)} before the run). sharded: the share of queries the workers answered (the others timed out or found no worker, and the service scored them itself). A query costs the same CPU however it is split: with ${os.cpus().length} cores, sharding can cut one query's latency by at most ${os.cpus().length}x and cannot raise the identifications per second; more workers than cores only add messages.`,
    '',
    `Fan-out transport, ${transport}.`,
    '',
    `Start: the 2 service processes, launched together right after the catalog was written, were listening ${startSeconds.toFixed(1)} s later (features of every photo read into memory).`,
    '',
    '| workers | clients | identifications/s | p50 ms | p95 ms | sharded | failed |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Crash check (${load.ok} operations: uploads of 3 photos, confirmations, identifications; one worker and one of the two services killed with SIGKILL mid-load):`,
    '',
    ...checks.map(([what, ok, detail]) => `- ${ok ? 'PASS' : 'FAIL'} ${what}: ${detail}`),
  ];
  console.log(table.join('\n'));
  const results = path.join(import.meta.dirname, 'results.md');
  const section = [`## bench:scale`, '', `\`npm run bench:scale -- ${process.argv.slice(2).join(' ')}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${((Date.now() - t0) / 1000).toFixed(0)} s.`, '', ...table, ''].join('\n');
  const old = existsSync(results) ? readFileSync(results, 'utf8') : '# Benchmark results\n';
  const re = /## bench:scale\n[\s\S]*?(?=\n## |$)/;
  await writeFileAtomic(results, re.test(old) ? old.replace(re, section) : `${old.trimEnd()}\n\n${section}`);
  say(`wrote the bench:scale section of ${results}`);
  await db.end();
  if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
} finally {
  // each process's output, for a look afterwards
  for (const p of procs) writeFileSync(path.join(work, `${p.name.replace(/\s+/g, '-')}.log`), p.output());
  for (const p of procs) p.kill('SIGTERM');
  await Promise.all(procs.map((p) => Promise.race([p.exited, new Promise((r) => setTimeout(r, 10_000))])));
  for (const p of procs) p.kill('SIGKILL');
  server.stop();
}
