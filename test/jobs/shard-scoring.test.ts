import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import path from 'node:path';
import sharp from 'sharp';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import type { HeadWeights } from '../../src/model/network/head-weights.js';
import { createScoreKernel } from '../../src/infer/score-kernel.js';
import { rankIndividuals, rankingIndex } from '../../src/infer/score-shards.js';
import { createShardClient, type ShardClient } from '../../src/jobs/shard-client.js';
import { galleryHash, type ShardRow } from '../../src/jobs/shard-protocol.js';
import { startShardScorer, type ShardScorer } from '../../src/jobs/shard-scorer.js';
import { shardOf } from '../../src/infer/score-shards.js';
import { createRng } from '../../src/util/random.js';
import { boxKey } from '../../src/catalog/box-key.js';
import { newPostgresDatabase } from '../helpers/backends.js';
import { tmpDir } from '../helpers/tmp.js';

const unavailable = inject('postgresMissing');
if (unavailable) console.warn(`skipping sharded scoring over PostgreSQL: ${unavailable}`);

const F = 16;
const MODEL = 'test-model@1';

function randomWeights(seed: number): HeadWeights {
  const rng = createRng(seed);
  const arr = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal(0, s));
  return { features: F, mid: 8, w1: arr(32, 0.5), b1: arr(8, 0.3), w2: arr(8, 0.5), b2: 0.1, w3: arr(F, 0.3), b3: -0.2 };
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(unavailable !== '')('sharded scoring through PostgreSQL LISTEN/NOTIFY', () => {
  let catalog: Catalog;
  let client: ShardClient;
  const scorers: ShardScorer[] = [];
  const w = randomWeights(3);
  const rng = createRng(9);
  const vectors = new Map<number, Float32Array>();

  beforeAll(async () => {
    const url = await newPostgresDatabase('shards');
    catalog = await openCatalog(url, { photoDir: path.join(tmpDir('whaleid-shards-'), 'photos') });
    // 48 photos of 12 individuals, each with a random feature vector
    for (let i = 0; i < 48; i++) {
      const bytes = await sharp({ create: { width: 24, height: 16, channels: 3, background: { r: i, g: 3 * i, b: 255 - i } } }).png().toBuffer();
      const { photo } = await catalog.addPhoto(bytes, { originalName: `p${i}.png`, individualName: `W${i % 12}` });
      const v = Float32Array.from({ length: F }, () => Math.max(0, rng.normal(0.4, 0.6)));
      vectors.set(photo.id, v);
      await catalog.putFeatures(MODEL, [{ photoId: photo.id, vector: v }]);
    }
    for (let i = 0; i < 2; i++) scorers.push(await startShardScorer({ url, catalog, modelVersion: MODEL, head: w, minReloadMs: 0 }));
    client = await createShardClient({ url, modelVersion: MODEL, timeoutMs: 5000 });
    await until('both workers', () => client.liveWorkers().length === 2);
  });
  afterAll(async () => {
    await client?.close();
    for (const s of scorers) await s.close();
    await catalog?.close();
  });

  /** The local answer over the catalog's gallery, and the query for the client. */
  const both = async (queryPhoto: number) => {
    const rows: ShardRow[] = await catalog.gallery();
    const cols = new Float32Array(rows.length * F);
    rows.forEach((r, j) => cols.set(vectors.get(r.photoId)!, j * F));
    const scores = new Float32Array(rows.length);
    createScoreKernel(w, cols).scoreRow(vectors.get(queryPhoto)!, 0, rows.length, scores);
    const o = { k: 5, photosPerCandidate: 3, excludePhotoId: queryPhoto };
    const want = rankIndividuals(scores, rankingIndex(Int32Array.from(rows, (r) => r.photoId), Int32Array.from(rows, (r) => r.individualId)), o);
    const hashes = (n: number): string[] => Array.from({ length: n }, (_, s) => galleryHash(rows.filter((r) => shardOf(r.individualId, n) === s)));
    return { want, query: { features: vectors.get(queryPhoto)!, ...o, hashes } };
  };

  it('two workers answer a query with the same top K as the whole gallery scored here', async () => {
    for (const id of [1, 7, 30]) {
      const { want, query } = await both(id);
      expect(await client.query(query)).toEqual(want);
    }
    expect(client.stats).toEqual({ sharded: 3, fallback: 0 });
    expect(scorers.map((s) => s.answered)).toEqual([3, 3]);
  });

  it('a changed gallery (a new photo with features, a box moved) is reloaded by the worker that holds it', async () => {
    const bytes = await sharp({ create: { width: 24, height: 16, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
    const { photo } = await catalog.addPhoto(bytes, { originalName: 'late.png', individualName: 'W3' });
    const v = Float32Array.from({ length: F }, () => 0.5);
    vectors.set(photo.id, v);
    await catalog.putFeatures(MODEL, [{ photoId: photo.id, vector: v }]);
    const { want, query } = await both(photo.id === 1 ? 2 : 1);
    expect(await client.query(query)).toEqual(want);
    // a photo whose box changed loses its features: the worker's shard leaves it out, the service's hash still has it
    const moved = await catalog.setBox(5, { x0: 1, y0: 1, x1: 20, y1: 14 }, 'user');
    expect(boxKey(moved.box)).not.toBe('');
    expect((await catalog.getFeatures(MODEL, [5])).has(5)).toBe(false);
    const stale = await both(1);
    expect(await client.query(stale.query)).toBeNull(); // the caller scores it itself
    await catalog.putFeatures(MODEL, [{ photoId: 5, vector: vectors.get(5)! }]);
    const fresh = await both(1);
    expect(await client.query(fresh.query)).toEqual(fresh.want);
  });

  it('a worker that leaves is no longer asked; with none left the caller scores', async () => {
    await scorers.pop()!.close();
    await until('one worker', () => client.liveWorkers().length === 1);
    const { want, query } = await both(12);
    expect(await client.query(query)).toEqual(want);
    await scorers.pop()!.close();
    await until('no worker', () => client.liveWorkers().length === 0);
    expect(await client.query((await both(12)).query)).toBeNull();
  });
});
