/**
 * The worker's side of sharded scoring: it listens for queries, holds the features of the shard it
 * is asked for in memory (loaded from the catalog, kept across queries, reloaded when the gallery
 * changed), scores the query with the score kernel and answers with the shard's top K.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Catalog } from '../catalog/catalog.js';
import type { HeadWeights } from '../model/network/head-weights.js';
import { shardOf } from '../infer/score-shards.js';
import { buildScoredGallery, createFeatureCache, type ScoredGallery } from '../infer/scored-gallery.js';
import type { FeatureBlock } from '../infer/feature-block.js';
import { scopeCache } from '../catalog/photo-scope.js';
import { decodeVector, galleryHash, HELLO_CHANNEL, HELLO_INTERVAL_MS, MAX_PAYLOAD, notifier, parseMessage, QUERY_CHANNEL, type QueryMessage, type ReplyMessage, type ShardRow } from './shard-protocol.js';

/** What the scorer reads of the catalog. */
export type ShardSource = Pick<Catalog, 'gallery' | 'getFeatures' | 'getAllFeatures' | 'inScope' | 'revision'>;

/** Options of {@link startShardScorer}. */
export interface ShardScorerOptions {
  /** The catalog's PostgreSQL URL (the scorer's own connection listens there). */
  url: string;
  catalog: ShardSource;
  modelVersion: string;
  head: HeadWeights;
  /** A line for the operator (shard loads, stale queries). */
  onLine?: (line: string) => void;
  /** The gallery's feature block a service wrote beside its index: the first load starts from it instead of every feature row. */
  featureBlock?: () => FeatureBlock | null;
  /** A reload is not repeated within this time when a query still disagrees with it. Default 250 ms. */
  minReloadMs?: number;
}

/** A running shard scorer. */
export interface ShardScorer {
  /** This worker's id in the scoring messages. */
  readonly id: string;
  /** Queries answered (ok or not). */
  readonly answered: number;
  /** Queries dropped: reached after the service had stopped waiting. */
  readonly dropped: number;
  /** Says goodbye and closes its connection. */
  close(): Promise<void>;
}

/** One loaded shard: `s` of `n`, its rows' hash and scored gallery. */
interface LoadedShard {
  n: number;
  s: number;
  hash: string;
  gallery: ScoredGallery<ShardRow>;
  loadedAt: number;
}

/**
 * Starts answering scoring queries for a model: says hello every second, loads its shard on the
 * first query (and again when the gallery changed), answers each query with its shard's top K.
 *
 * @param o - connection URL, catalog, model version and head
 * @returns the scorer
 * @throws when the connection fails
 * @example
 * const scorer = await startShardScorer({ url, catalog, modelVersion: run.inference.modelVersion, head: run.inference.head });
 */
export async function startShardScorer(o: ShardScorerOptions): Promise<ShardScorer> {
  const id = randomBytes(6).toString('hex');
  const minReload = o.minReloadMs ?? 250;
  const client = new pg.Client({ connectionString: o.url, application_name: `whaleid-worker-${id}` });
  await client.connect();
  // features kept per photo with the box they were computed for: a reload fetches only new ones
  const features = createFeatureCache(o.catalog, o.modelVersion, { block: o.featureBlock });
  let shard: LoadedShard | null = null;
  let loading: Promise<LoadedShard> | null = null;
  let answered = 0;
  let dropped = 0;
  let closed = false;
  const send = notifier(client);
  const scopes = scopeCache(o.catalog);
  const notify = (channel: string, payload: unknown): Promise<void> => send(channel, JSON.stringify(payload));

  const load = async (n: number, s: number): Promise<LoadedShard> => {
    const rows: ShardRow[] = (await o.catalog.gallery()).filter((r) => shardOf(r.individualId, n) === s);
    const before = features.size;
    const absent = await features.load(rows);
    // photos whose features are still being extracted are not in the gallery yet
    const missing = new Set(absent.map((r) => r.photoId));
    const ready = rows.filter((r) => !missing.has(r.photoId));
    features.retain(ready);
    const loaded: LoadedShard = { n, s, hash: galleryHash(ready), gallery: buildScoredGallery(ready, features, o.head), loadedAt: Date.now() };
    o.onLine?.(`shard ${s + 1} of ${n}: ${ready.length} photos loaded (${Math.max(0, features.size - before)} read)`);
    return loaded;
  };
  /** The shard the query means, reloaded when it differs (one load at a time). */
  const shardFor = async (n: number, s: number, hash: string): Promise<LoadedShard> => {
    const cur = shard;
    if (cur && cur.n === n && cur.s === s && (cur.hash === hash || (Date.now() - cur.loadedAt < minReload && !loading))) return cur;
    loading ??= load(n, s).finally(() => {
      loading = null;
    });
    shard = await loading;
    return shard;
  };

  const answer = async (q: QueryMessage): Promise<void> => {
    const s = q.w.indexOf(id);
    if (s < 0 || q.m !== o.modelVersion) return;
    let reply: ReplyMessage;
    try {
      const sh = await shardFor(q.w.length, s, q.h[s]);
      if (typeof q.d === 'number' && Date.now() > q.d) {
        dropped++;
        return;
      }
      if (sh.hash !== q.h[s]) {
        reply = { i: q.i, s, ok: false, why: `shard ${s} differs from the service's gallery (changed since)` };
      } else {
        // a scoped query: the photos in its scope read from the catalog by this worker, as the service would
        const allowed = q.s ? await scopes(q.s) : undefined;
        const c = sh.gallery.rank(decodeVector(q.q), { k: q.k, photosPerCandidate: q.p, excludePhotoId: q.x ?? undefined, ...(allowed ? { allowed } : {}) });
        reply = { i: q.i, s, ok: true, c };
      }
    } catch (e) {
      reply = { i: q.i, s, ok: false, why: (e as Error).message };
    }
    let text = JSON.stringify(reply);
    if (text.length > MAX_PAYLOAD) text = JSON.stringify({ i: q.i, s, ok: false, why: `answer of ${text.length} bytes over NOTIFY's limit` });
    answered++;
    if (!closed) await send(q.r, text);
  };

  client.on('notification', (msg) => {
    if (msg.channel !== QUERY_CHANNEL) return;
    const q = parseMessage<QueryMessage>(msg.payload);
    if (!q || !Array.isArray(q.w) || !Array.isArray(q.h) || typeof q.q !== 'string') return;
    answer(q).catch((e: unknown) => o.onLine?.(`query ${q.i}: ${(e as Error).message}`));
  });
  await client.query(`LISTEN ${QUERY_CHANNEL}`);
  const hello = (): void => {
    notify(HELLO_CHANNEL, { w: id, m: o.modelVersion }).catch((e: unknown) => o.onLine?.(`hello: ${(e as Error).message}`));
  };
  hello();
  const timer = setInterval(hello, HELLO_INTERVAL_MS);
  return {
    id,
    get answered() {
      return answered;
    },
    get dropped() {
      return dropped;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await notify(HELLO_CHANNEL, { w: id, m: o.modelVersion, bye: true }).catch(() => undefined);
      await client.end();
    },
  };
}
