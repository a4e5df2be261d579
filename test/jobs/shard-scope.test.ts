import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest';
import path from 'node:path';
import sharp from 'sharp';
import { openCatalog, type Catalog } from '../../src/catalog/catalog.js';
import type { HeadWeights } from '../../src/model/network/head-weights.js';
import { createScoreKernel } from '../../src/infer/score-kernel.js';
import { rankIndividuals, rankingIndex, shardOf } from '../../src/infer/score-shards.js';
import { createShardClient, type ShardClient } from '../../src/jobs/shard-client.js';
import { galleryHash, type ShardRow } from '../../src/jobs/shard-protocol.js';
import { startShardScorer, type ShardScorer } from '../../src/jobs/shard-scorer.js';
import { photoScope } from '../../src/catalog/photo-scope.js';
import { photoInScope, viewpointsCompatible, type MatchScope, type ScopeRequest } from '../../src/data/match-scope.js';
import { createRng } from '../../src/util/random.js';
import { newPostgresDatabase } from '../helpers/backends.js';
import { tmpDir } from '../helpers/tmp.js';

const unavailable = inject('postgresMissing');
if (unavailable) console.warn(`skipping scoped sharded scoring over PostgreSQL: ${unavailable}`);

const F = 16;
const MODEL = 'test-model@1';
const SPECIES = ['Megaptera novaeangliae', 'Orcinus orca'];
const VIEWS = ['left', 'right', 'backleft'];

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(unavailable !== '')('scoped queries through the shard scorers (PostgreSQL LISTEN/NOTIFY)', () => {
  let catalog: Catalog;
  let client: ShardClient;
  const scorers: ShardScorer[] = [];
  const rng = createRng(5);
  const arr = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal(0, s));
  const w: HeadWeights = { features: F, mid: 8, w1: arr(32, 0.5), b1: arr(8, 0.3), w2: arr(8, 0.5), b2: 0.1, w3: arr(F, 0.3), b3: -0.2 };
  const vectors = new Map<number, Float32Array>();
  const details = new Map<number, { species: string; viewpoint: string; location: string; latitude: number; longitude: number; takenOn: string }>();

  beforeAll(async () => {
    const url = await newPostgresDatabase('shard_scope');
    catalog = await openCatalog(url, { photoDir: path.join(tmpDir('whaleid-shard-scope-'), 'photos') });
    // 60 photos of 12 individuals: two species (by individual), three viewpoints, two places, two years
    for (let i = 0; i < 60; i++) {
      const bytes = await sharp({ create: { width: 24, height: 16, channels: 3, background: { r: i, g: 2 * i, b: 255 - i } } }).png().toBuffer();
      const d = { species: SPECIES[i % 12 < 6 ? 0 : 1], viewpoint: VIEWS[i % 3], location: i % 2 ? 'bay' : 'fjord', latitude: 64 + (i % 5) * 0.3, longitude: -22, takenOn: i % 4 === 0 ? '2001-06-01' : '2019-07-0' + (1 + (i % 9 === 0 ? 0 : i % 8)) };
      const { photo } = await catalog.addPhoto(bytes, { originalName: `p${i}.png`, location: d.location, latitude: d.latitude, longitude: d.longitude, takenOn: d.takenOn, annotations: [{ box: null, species: d.species, viewpoint: d.viewpoint, individualName: `W${i % 12}` }] });
      const v = Float32Array.from({ length: F }, () => Math.max(0, rng.normal(0.4, 0.6)));
      vectors.set(photo.id, v);
      details.set(photo.id, d);
      await catalog.putFeatures(MODEL, [{ photoId: photo.id, vector: v }]);
    }
    for (let i = 0; i < 3; i++) scorers.push(await startShardScorer({ url, catalog, modelVersion: MODEL, head: w, minReloadMs: 0 }));
    client = await createShardClient({ url, modelVersion: MODEL, timeoutMs: 5000 });
    await until('three workers', () => client.liveWorkers().length === 3);
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    for (const s of scorers) await s.close();
    await catalog?.close();
  });

  /** The whole gallery ranked here among the photos the rules admit, and the client's query. */
  const both = async (queryPhoto: number, request: ScopeRequest) => {
    const rows: ShardRow[] = await catalog.gallery();
    const scope: MatchScope = await photoScope(catalog, await catalog.photo(queryPhoto), request);
    // the rules applied photo by photo here, not by the catalog's SQL the workers use
    const allowed = new Set(rows.filter((r) => photoInScope(scope, { ...details.get(r.photoId)! })).map((r) => r.photoId));
    const cols = new Float32Array(rows.length * F);
    rows.forEach((r, j) => cols.set(vectors.get(r.photoId)!, j * F));
    const scores = new Float32Array(rows.length);
    createScoreKernel(w, cols).scoreRow(vectors.get(queryPhoto)!, 0, rows.length, scores);
    const o = { k: 5, photosPerCandidate: 3, excludePhotoId: queryPhoto };
    const index = rankingIndex(Int32Array.from(rows, (r) => r.photoId), Int32Array.from(rows, (r) => r.individualId));
    const hashes = (n: number): string[] => Array.from({ length: n }, (_, s) => galleryHash(rows.filter((r) => shardOf(r.individualId, n) === s)));
    return { scope, allowed, want: rankIndividuals(scores, index, { ...o, allowed }), unscoped: rankIndividuals(scores, index, o), query: { features: vectors.get(queryPhoto)!, ...o, scope, hashes } };
  };

  it('three workers answer a scoped query with the scoped top K of the whole gallery: never another species, left never right', async () => {
    const requests: ScopeRequest[] = [{}, { km: 40 }, { location: 'bay', days: 3 }, { viewpoint: 'any', from: '2019-07-01', to: '2019-07-04' }];
    for (const id of [2, 9, 31]) {
      for (const request of requests) {
        const { scope, allowed, want, unscoped, query } = await both(id, request);
        expect(await catalog.inScope(scope)).toEqual(allowed);
        const got = await client.query(query);
        expect(got, JSON.stringify(request)).toEqual(want);
        for (const c of got!) {
          for (const p of c.photos) {
            expect(details.get(p.photoId)!.species).toBe(details.get(id)!.species);
            if (request.viewpoint !== 'any') expect(viewpointsCompatible(details.get(id)!.viewpoint, details.get(p.photoId)!.viewpoint)).toBe(true);
          }
        }
        if (request.km === undefined) expect(unscoped).not.toEqual(want); // the scope changed the answer
      }
    }
    expect(client.stats.fallback).toBe(0);
  });
});
