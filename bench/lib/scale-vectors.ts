// bench:scale --vectors N: a catalog of N synthetic feature vectors (clustered by individual, 5
// photos each) in a SQLite catalog, served by the identifier as `whaleid serve` builds it. Prints
// the first start (every feature row read, the gallery's bytes encoded, the feature block
// written), the start of a restarted identifier (to its first answer: the feature block read and
// checked, the bytes encoded again), wall and CPU time with the machine's load, p50/p95 per
// identification, the photos each query scored exactly, and the recall of the exhaustive top 5
// (the ranking is exact: 1.000 unless it is wrong). The catalog is kept between runs in --work.
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openCatalog } from '../../src/catalog/catalog.js';
import { createIdentifier } from '../../src/serve/identifier.js';
import { clusteredFeatures } from '../../src/data/synthetic-features.js';
import { buildScoredGallery } from '../../src/infer/scored-gallery.js';
import { featureBlockFile, galleryIndexDir, galleryIndexName } from '../../src/infer/gallery-index.js';
import { boundRanker } from '../../src/infer/shortlist-ranking.js';
import { encodeGallery } from '../../src/infer/feature-codes.js';
import { cosineHeadWeights, type HeadWeights } from '../../src/model/network/head-weights.js';
import { createHead } from '../../src/model/network/head.js';
import { exportHeadOnnx } from '../../src/model/onnx/onnx-export.js';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../../src/util/atomic-file.js';
import { createRng } from '../../src/util/random.js';
import { percentile } from './load.js';

/** Which head scores the bench's run: its own (untrained), the cosine scorer, or a distance head. */
export type BenchHead = 'run' | 'cosine' | 'distance';

/**
 * Head weights that score by the L1 distance of the features (the |a-b| input only): the shape a
 * trained head takes where it matters (same individual: small differences), with no saturation
 * at the bench's feature scale. Why not the untrained run's head: its top 5 are whichever photos
 * its random weights favour for every query, not a neighbourhood any index could shortlist.
 */
function distanceHeadWeights(features: number): HeadWeights {
  return { features, mid: 1, w1: Float32Array.of(0, 0, 1, 0), b1: Float32Array.of(0), w2: Float32Array.of(-1), b2: 0, w3: new Float32Array(features).fill(0.05), b3: 0 };
}

/**
 * Replaces a run's exported head with the bench's choice (the identifier reads onnx/head.onnx).
 *
 * @param runDir - the run
 * @param features - F
 * @param kind - the head
 */
export async function writeBenchHead(runDir: string, features: number, kind: BenchHead): Promise<void> {
  if (kind === 'run') return;
  const w = kind === 'cosine' ? cosineHeadWeights(features, 12, -6) : distanceHeadWeights(features);
  const head = createHead({ features, mid: w.mid });
  tf.tidy(() => {
    head.getLayer('head_mlp1').setWeights([tf.tensor4d(w.w1, [4, 1, 1, w.mid]), tf.tensor1d(w.b1)]);
    head.getLayer('head_mlp2').setWeights([tf.tensor4d(w.w2, [1, w.mid, 1, 1]), tf.tensor1d([w.b2])]);
    head.getLayer('weighted_average').setWeights([tf.tensor2d(w.w3, [features, 1]), tf.tensor1d([w.b3])]);
  });
  await writeFileAtomic(path.join(runDir, 'onnx', 'head.onnx'), exportHeadOnnx(head));
  head.dispose();
}

/** What the vectors mode is given. */
export interface VectorsBenchOptions {
  vectors: number;
  queries: number;
  runDir: string;
  modelVersion: string;
  head: HeadWeights;
  /** The head's kind: cosine stores unit vectors (what a cosine run's branch gives). */
  headKind: BenchHead;
  work: string;
  say: (line: string) => void;
}

const PER_INDIVIDUAL = 5;
const seconds = (t: number): string => ((performance.now() - t) / 1000).toFixed(1);

/** Writes the synthetic catalog straight into SQLite (the schema made by whaleid itself). */
async function writeCatalog(file: string, o: VectorsBenchOptions): Promise<void> {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}.photos.index`]) rmSync(f, { recursive: true, force: true });
  await (await openCatalog(file, { create: true })).close();
  const F = o.head.features;
  const data = clusteredFeatures({ photos: o.vectors, perIndividual: PER_INDIVIDUAL, dim: F, seed: 11 });
  if (o.headKind === 'cosine') {
    for (let p = 0; p < o.vectors; p++) {
      const v = data.matrix.subarray(p * F, (p + 1) * F);
      const n = Math.hypot(...v) || 1;
      for (let f = 0; f < F; f++) v[f] /= n;
    }
  }
  const db = new Database(file);
  const now = new Date().toISOString();
  db.transaction(() => {
    const ind = db.prepare(`INSERT INTO individuals (id, name, created_at) VALUES (?, ?, ?)`);
    for (let i = 1; i <= Math.ceil(o.vectors / PER_INDIVIDUAL); i++) ind.run(i, `S${String(i).padStart(7, '0')}`, now);
    const photo = db.prepare(`INSERT INTO photos (id, sha256, format, bytes, width, height, uploaded_at, individual_id, status) VALUES (?, ?, 'jpeg', 50000, 1000, 500, ?, ?, 'identified')`);
    const feat = db.prepare(`INSERT INTO features (photo_id, model_version, vector) VALUES (?, ?, ?)`);
    for (let p = 0; p < o.vectors; p++) {
      photo.run(p + 1, p.toString(16).padStart(64, '0'), now, data.individualOf[p]);
      feat.run(p + 1, o.modelVersion, Buffer.from(data.matrix.buffer, p * F * 4, F * 4));
    }
  })();
  db.close();
}

/** The top 5 individuals' recall of `want` by `got`. */
const recallOf = (got: { individualId: number }[], want: { individualId: number }[]): number => {
  const w = new Set(want.map((c) => c.individualId));
  return got.filter((c) => w.has(c.individualId)).length / Math.max(1, w.size);
};

/**
 * Runs the vectors mode and returns its lines for bench/results.md.
 *
 * @param o - sizes, the run, the work folder
 * @returns the section's lines
 */
export async function benchVectors(o: VectorsBenchOptions): Promise<string[]> {
  mkdirSync(o.work, { recursive: true });
  const file = path.join(o.work, 'catalog.db');
  const marker = path.join(o.work, 'catalog.json');
  const want = JSON.stringify({ vectors: o.vectors, modelVersion: o.modelVersion, head: o.headKind });
  const lines: string[] = [];
  let t = performance.now();
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== want) {
    await writeCatalog(file, o);
    writeFileSync(marker, want);
    o.say(`catalog: ${o.vectors} vectors written in ${seconds(t)} s`);
  }
  const open = async () => createIdentifier(await openCatalog(file, { create: false }), o.runDir, {});
  const indexDir = galleryIndexDir(`${file}.photos`);
  const name = galleryIndexName(o.modelVersion);
  const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e3;
  const cpuOf = (u: NodeJS.CpuUsage): string => `${(cpuMs(u) / 1e3).toFixed(1)} s of CPU`;
  const load = (): string => `load average ${os.loadavg()[0].toFixed(1)}`;
  if (!existsSync(featureBlockFile(indexDir, name))) {
    t = performance.now();
    const cpu = process.cpuUsage();
    const id = await open();
    await id.identify(1);
    await id.close();
    const built = `first start (every feature row read, the gallery's bytes encoded, the feature block written): ${seconds(t)} s (${cpuOf(process.cpuUsage(cpu))}, ${load()})`;
    o.say(built);
    lines.push(`- ${built}`);
  }
  // a restart: the feature block read and checked, the bytes encoded, the first answer
  t = performance.now();
  const cpu = process.cpuUsage();
  const id = await open();
  await id.identify(1);
  const start = `start of a restarted identifier to its first answer (feature block read and checked against the catalog, the bytes read with it): ${seconds(t)} s (${cpuOf(process.cpuUsage(cpu))}, ${load()})`;
  o.say(start);
  const rng = createRng(5);
  const photos = Array.from({ length: o.queries }, () => 1 + rng.int(o.vectors));
  const times: number[] = [];
  const answers = [];
  const qcpu = process.cpuUsage();
  for (const p of photos) {
    const q0 = performance.now();
    answers.push((await id.identify(p, { k: 5 })).candidates);
    times.push(performance.now() - q0);
  }
  const latency = `per identification (${o.queries} queries of gallery photos, one client, through the identifier): p50 ${percentile(times, 50).toFixed(0)} ms, p95 ${percentile(times, 95).toFixed(0)} ms (${(cpuMs(process.cpuUsage(qcpu)) / o.queries).toFixed(0)} ms of CPU per query, ${load()})`;
  o.say(latency);
  await id.close();
  lines.push(`- ${start}`, `- ${latency}`);
  // exhaustive scoring of the same queries against the same gallery, and the ranker alone
  const catalog = await openCatalog(file, { create: false });
  t = performance.now();
  const vectors = await catalog.getAllFeatures(o.modelVersion);
  const readAll = `every vector read from the catalog's rows instead (getAllFeatures): ${seconds(t)} s`;
  o.say(readAll);
  lines.push(`- ${readAll}`);
  t = performance.now();
  const rows = await catalog.gallery();
  const galleryRead = `the gallery's rows (catalog.gallery()): ${seconds(t)} s`;
  o.say(galleryRead);
  lines.push(`- ${galleryRead}`);
  await catalog.close();
  const g = buildScoredGallery(rows, { get: (r) => vectors.get(r.photoId) }, o.head);
  const ex: number[] = [];
  const exhaustive = photos.map((p) => {
    const q0 = performance.now();
    const top = g.rank(vectors.get(p)!, { k: 5, photosPerCandidate: 3, excludePhotoId: p });
    ex.push(performance.now() - q0);
    return top;
  });
  const served = answers.reduce((a, c, i) => a + recallOf(c, exhaustive[i]), 0) / photos.length;
  const ranker = boundRanker(g, o.head, encodeGallery(g.photoIds, g.vectors, o.head.features, null));
  const ts: number[] = [];
  const scored: number[] = [];
  let same = 0;
  photos.forEach((p, i) => {
    const q0 = performance.now();
    const top = ranker.rank(vectors.get(p)!, { k: 5, photosPerCandidate: 3, excludePhotoId: p });
    ts.push(performance.now() - q0);
    scored.push(ranker.scored);
    if (JSON.stringify(top) === JSON.stringify(exhaustive[i])) same++;
  });
  lines.push(
    `- recall of the exhaustive top 5 by the service's answers: ${served.toFixed(3)} (${o.headKind} head)`,
    `- the exact ranker alone (bound scan, then the head on the photos that can reach the top 5): p50 ${percentile(ts, 50).toFixed(0)} ms, p95 ${percentile(ts, 95).toFixed(0)} ms; photos scored by the head per query p50 ${percentile(scored, 50).toFixed(0)}, max ${Math.max(...scored)}; answers identical to exhaustive scoring (individuals, scores, photos): ${same} of ${photos.length}`,
    `- exhaustive scoring of one query (every photo by the head): p50 ${percentile(ex, 50).toFixed(0)} ms, p95 ${percentile(ex, 95).toFixed(0)} ms`,
  );
  for (const l of lines.slice(-3)) o.say(l);
  lines.unshift(
    `${o.vectors.toLocaleString('en')} synthetic ${o.head.features}-float vectors (clustered: ${PER_INDIVIDUAL} photos per individual), SQLite catalog, ${os.cpus().length} cores shared with whatever else runs on the machine (load average ${os.loadavg().map((x) => x.toFixed(1)).join(', ')} at the end: wall times stretch with it, CPU times do not).`,
    `Head: ${o.headKind}${o.headKind === 'distance' ? ' (scores by the L1 distance of the features; the untrained run\'s own head ranks the same few photos first for every query)' : ''}. Queries are gallery photos, left out of their own ranking.`,
    '',
  );
  return lines;
}
