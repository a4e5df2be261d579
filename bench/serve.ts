// Load check of the photo-ID service: identifications per second and latency with a catalog of
// 20,000 photos (by default the cpu preset at 128 px; --preset method for the method's network),
// driven over loopback HTTP by a bounded load generator (a fixed number of requests at a fixed
// concurrency). Each request uploads a new photo (stored, features computed, scored against every
// catalog photo, top 5 returned); a share of them is then confirmed, and at the end every
// confirmation must be in the catalog. The peer is the same identification called in-process
// (no HTTP, no upload), measured in the same run.
// Usage: npm run bench:serve [-- --photos 20000 --requests 200 --concurrency 1,4 --work bench/out/serve]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { initEngine } from '../src/model/tfjs/tfjs-backend.js';
import { createSiamese } from '../src/model/network/siamese.js';
import { saveSiamese } from '../src/model/folders/model-io.js';
import { exportSiameseOnnx } from '../src/model/onnx/onnx-export.js';
import { resolveTrainConfig } from '../src/train/train-config.js';
import { openCatalog } from '../src/catalog/catalog.js';
import { createIdentifier } from '../src/serve/identifier.js';
import { createServer } from '../src/serve/server.js';
import { createPassProgress } from '../src/util/progress.js';
import { createRng } from '../src/util/random.js';
import { flagValue } from './lib/args.js';

const opt = flagValue;
const nPhotos = Number(opt('photos', '20000'));
const nRequests = Number(opt('requests', '200'));
const concurrencies = opt('concurrency', '1,4').split(',').map(Number);
const work = path.resolve(opt('work', 'bench/out/serve'));
const confirmShare = 0.25;
// the model: `cpu` (128 px, what a CPU trains) by default; `--preset method --input-size 384` is the
// method's network (its 20,000 gallery features take about an hour to compute on 2 busy cores)
const preset = opt('preset', 'cpu') as 'cpu' | 'method' | 'tiny';
const inputSize = Number(opt('input-size', preset === 'method' ? '384' : '128'));

/** A distinct photo: seeded noise over a gradient, drawn small and scaled up (only its uniqueness and decoding matter). */
async function photo(seed: number, w = 160, h = 80): Promise<Buffer> {
  const rng = createRng(seed);
  const sw = 160;
  const sh = 80;
  const raw = Buffer.alloc(sw * sh * 3);
  const base = rng.int(200);
  for (let i = 0; i < raw.length; i++) raw[i] = (base + ((i / 3) % sw) * 0.3 + rng.int(55)) & 255;
  const img = sharp(raw, { raw: { width: sw, height: sh, channels: 3 } });
  return (w === sw && h === sh ? img : img.resize(w, h)).jpeg({ quality: 85 }).toBuffer();
}

const say = (s: string): void => void process.stderr.write(`${s}\n`);
await initEngine({ backend: 'wasm' });
mkdirSync(work, { recursive: true });
const runDir = path.join(work, `run-${preset}-${inputSize}`);
if (!existsSync(path.join(runDir, 'onnx', 'branch.onnx'))) {
  const siamese = createSiamese({ preset, inputSize, seed: 1 });
  await saveSiamese(siamese, path.join(runDir, 'model'));
  await exportSiameseOnnx(siamese, path.join(runDir, 'onnx'));
  writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(resolveTrainConfig({ data: '(bench: untrained)', preset, inputSize }), null, 2));
  siamese.model.dispose();
}
const catalog = await openCatalog(path.join(work, `catalog-${nPhotos}.db`));
say(`model: ${preset} preset at ${inputSize} px (untrained weights: the cost is that of a trained one)`);
const have = (await catalog.listPhotos({ limit: 1 })).total;
if (have < nPhotos) {
  say(`building a catalog of ${nPhotos} photos (${have} there; kept for later runs)`);
  const progress = createPassProgress('photos', process.stderr.isTTY);
  let individual: number | null = null;
  for (let i = have; i < nPhotos; i++) {
    if (i % 4 === 0 || individual === null) individual = (await catalog.createIndividual(`B${String(i).padStart(6, '0')}`, '', 'bench')).id;
    await catalog.addPhoto(await photo(i), { originalName: `b${i}.jpg`, individualId: individual, uploadedBy: 'bench' });
    if (i % 100 === 0) progress(i + 1, nPhotos);
  }
}
const identifier = await createIdentifier(catalog, runDir, { cacheDir: path.join(work, 'cache') });
const t0 = performance.now();
const computed = await identifier.sync(createPassProgress('features', process.stderr.isTTY));
if (computed) say(`gallery features: ${computed} computed in ${((performance.now() - t0) / 1000).toFixed(0)} s (stored for later runs)`);
const gallerySize = (await catalog.gallery()).length;

// peer: in-process identification of photos already in the catalog (features cached after the first)
const peerIds = (await catalog.listPhotos({ limit: 50, offset: Math.min(100, Math.max(0, gallerySize - 50)) })).items.map((p) => p.id);
await identifier.identify(peerIds[0]);
const peerMs: number[] = [];
for (const id of peerIds) {
  const t = performance.now();
  await identifier.identify(id);
  peerMs.push(performance.now() - t);
}

const token = 'bench-token-0123';
const app = await createServer({ catalog, identifier, token });
await app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const headers = { authorization: `Bearer ${token}` };

const pct = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
say('peer done; starting the server');
const queries = await Promise.all(Array.from({ length: nRequests * concurrencies.length }, (_, i) => photo(1_000_000 + i, 640, 360)));
interface Row { concurrency: number; rate: number; p50: number; p95: number; errors: number; confirms: number }
const rows: Row[] = [];
let q = 0;
let confirmsSent = 0;
const confirmCount = (): Promise<number> => catalog.countDecisions('confirm');
const decisionsBefore = await confirmCount();
say('queries ready');
for (const c of concurrencies) {
  const lat: number[] = [];
  let errors = 0;
  let confirms = 0;
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < nRequests) {
      next++;
      // this request's own index: the shared counter moves on while it waits for the answer
      const mine = q++;
      const form = new FormData();
      form.append('photo', new Blob([new Uint8Array(queries[mine])], { type: 'image/jpeg' }), `q${mine}.jpg`);
      const t1 = performance.now();
      const res = await fetch(`${url}/api/photos`, { method: 'POST', body: form, headers });
      const body = (await res.json()) as { results?: { ok: boolean; photo?: { id: number }; identification?: { candidates: { individualId: number; score: number }[] } }[] };
      lat.push(performance.now() - t1);
      const item = body.results?.[0];
      if (res.status !== 200 || !item?.ok || item.identification?.candidates.length !== 5) { errors++; continue; }
      if (mine % Math.round(1 / confirmShare) === 0) {
        const top = item.identification.candidates[0];
        const r = await fetch(`${url}/api/photos/${item.photo!.id}/confirm`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ individualId: top.individualId, score: top.score, by: 'bench' }) });
        if (r.status === 200) confirms++;
        else errors++;
      }
    }
  }));
  const seconds = (performance.now() - t) / 1000;
  confirmsSent += confirms;
  rows.push({ concurrency: c, rate: nRequests / seconds, p50: pct(lat, 0.5), p95: pct(lat, 0.95), errors, confirms });
}
const decisionsAfter = await confirmCount();
const lost = confirmsSent - (decisionsAfter - decisionsBefore);
await app.close();
await identifier.close();

const peerP50 = pct(peerMs, 0.5);
console.log(`Photo-ID service, catalog of ${gallerySize} identified photos, ${preset} network at ${inputSize} px (ONNX Runtime), loopback HTTP; ${nRequests} uploads per concurrency level, ${Math.round(confirmShare * 100)}% of them then confirmed`);
console.log('\n| concurrency | identifications/s | p50 ms | p95 ms | p95 / 1 s target | errors | confirmations |\n|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.concurrency} | ${r.rate.toFixed(1)} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)} | ${(r.p95 / 1000).toFixed(3)} | ${r.errors} | ${r.confirms} |`);
console.log(`\n| measure | service (HTTP upload + identify) | peer: in-process identify of a catalog photo | service / peer |\n|---|---|---|---|`);
console.log(`| p50 latency ms, concurrency 1 | ${rows[0].p50.toFixed(1)} | ${peerP50.toFixed(1)} | ${(rows[0].p50 / peerP50).toFixed(2)} |`);
console.log(`\nconfirmations sent ${confirmsSent}, recorded ${decisionsAfter - decisionsBefore}, lost ${lost}; integrity ${await catalog.integrityCheck()}`);
await catalog.close();
if (lost !== 0 || rows.some((r) => r.errors)) process.exitCode = 1;
