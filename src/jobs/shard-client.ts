/**
 * The service's side of sharded scoring: it hears which workers are alive, sends a query to all of
 * them at once (worker i scores shard i of as many shards as there are workers), and merges their
 * answers. Any shard that does not answer in time, or answers that it cannot, makes the query
 * fall back to the caller (who scores locally): a worker that dies costs latency, never an answer.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { mergeRankings, type RankedIndividual } from '../infer/score-shards.js';
import type { MatchScope } from '../data/match-scope.js';
import { encodeVector, HELLO_CHANNEL, MAX_PAYLOAD, notifier, parseMessage, QUERY_CHANNEL, WORKER_TIMEOUT_MS, type HelloMessage, type QueryMessage, type ReplyMessage } from './shard-protocol.js';

/** Options of {@link createShardClient}. */
export interface ShardClientOptions {
  /** The catalog's PostgreSQL URL. */
  url: string;
  /** Only workers of this model version are asked. */
  modelVersion: string;
  /** How long a query waits for every shard before the caller scores it itself. Default 2000 ms. */
  timeoutMs?: number;
}

/** One sharded query. */
export interface ShardQuery {
  features: Float32Array;
  k: number;
  photosPerCandidate: number;
  excludePhotoId: number | null;
  /** Scoped matching: the query's scope, evaluated by each worker against the catalog (null: every photo). */
  scope?: MatchScope | null;
  /** The hashes of the caller's gallery split into `shards` shards (see `galleryHash`). */
  hashes(shards: number): string[];
}

/** Counters of a shard client (for the bench and health). */
export interface ShardStats {
  /** Queries answered by the workers. */
  sharded: number;
  /** Queries handed back to the caller (no worker, timeout, a shard that could not answer). */
  fallback: number;
}

/** The service's connection to the scoring workers. */
export interface ShardClient {
  /** Workers heard from lately (same model), sorted. */
  liveWorkers(): string[];
  /**
   * The query's top K from the workers, or null when the caller should score it itself.
   */
  query(q: ShardQuery): Promise<RankedIndividual[] | null>;
  readonly stats: ShardStats;
  close(): Promise<void>;
}

/**
 * Connects to the catalog's database and listens for workers and answers.
 *
 * @param o - URL, model version, timeout
 * @returns the client
 * @throws when the connection fails
 * @example
 * const shards = await createShardClient({ url, modelVersion });
 * const top = (await shards.query(q)) ?? scoreLocally(q);
 */
export async function createShardClient(o: ShardClientOptions): Promise<ShardClient> {
  const replyChannel = `whaleid_score_reply_${randomBytes(6).toString('hex')}`;
  const timeoutMs = o.timeoutMs ?? 2000;
  const client = new pg.Client({ connectionString: o.url, application_name: 'whaleid-serve-shards' });
  await client.connect();
  const seen = new Map<string, number>();
  const pending = new Map<number, { parts: (RankedIndividual[] | null)[]; left: number; done: (r: RankedIndividual[][] | null) => void }>();
  const stats: ShardStats = { sharded: 0, fallback: 0 };
  let next = 1;
  let closed = false;

  client.on('notification', (msg) => {
    if (msg.channel === HELLO_CHANNEL) {
      const h = parseMessage<HelloMessage>(msg.payload);
      if (!h || typeof h.w !== 'string' || h.m !== o.modelVersion) return;
      if (h.bye) seen.delete(h.w);
      else seen.set(h.w, Date.now());
      return;
    }
    const r = parseMessage<ReplyMessage>(msg.payload);
    const p = r && pending.get(r.i);
    if (!r || !p || p.parts[r.s] !== null) return;
    if (!r.ok) {
      p.done(null);
      return;
    }
    p.parts[r.s] = r.c;
    if (--p.left === 0) p.done(p.parts as RankedIndividual[][]);
  });
  await client.query(`LISTEN ${HELLO_CHANNEL}`);
  await client.query(`LISTEN ${replyChannel}`);
  const send = notifier(client);

  const liveWorkers = (): string[] => {
    const now = Date.now();
    for (const [w, t] of seen) if (now - t > WORKER_TIMEOUT_MS) seen.delete(w);
    return [...seen.keys()].sort();
  };

  return {
    liveWorkers,
    stats,
    async query(q) {
      const workers = liveWorkers();
      if (closed || workers.length === 0) {
        stats.fallback++;
        return null;
      }
      const i = next++;
      const msg: QueryMessage = { i, r: replyChannel, m: o.modelVersion, w: workers, h: q.hashes(workers.length), q: encodeVector(q.features), k: q.k, p: q.photosPerCandidate, x: q.excludePhotoId, ...(q.scope ? { s: q.scope } : {}), d: Date.now() + timeoutMs };
      const text = JSON.stringify(msg);
      if (text.length > MAX_PAYLOAD) {
        stats.fallback++;
        return null;
      }
      const parts = await new Promise<RankedIndividual[][] | null>((resolve) => {
        const timer = setTimeout(() => finish(null), timeoutMs);
        const finish = (r: RankedIndividual[][] | null): void => {
          clearTimeout(timer);
          pending.delete(i);
          resolve(r);
        };
        pending.set(i, { parts: workers.map(() => null), left: workers.length, done: finish });
        send(QUERY_CHANNEL, text).catch(() => finish(null));
      });
      if (!parts) {
        stats.fallback++;
        return null;
      }
      stats.sharded++;
      return mergeRankings(parts, { k: q.k, photosPerCandidate: q.photosPerCandidate });
    },
    async close() {
      closed = true;
      for (const p of pending.values()) p.done(null);
      await client.end();
    },
  };
}
