/**
 * The messages of sharded scoring, sent through PostgreSQL's LISTEN/NOTIFY on the catalog's own
 * database (no other server): workers announce themselves, a service sends a query to every live
 * worker at once, each worker answers with its shard's top K.
 *
 * Why LISTEN/NOTIFY and not the job queue: a notification reaches a listening connection as soon as
 * the sender commits (well under a millisecond on one machine), while a queue's workers poll
 * (pg-boss at most every 500 ms), which alone would add a quarter of a second to every query.
 * A NOTIFY payload is at most 8000 bytes: a query vector of 512 float32 (2,732 base64 characters)
 * and K candidates of 3 photos fit with room to spare.
 */
import type pg from 'pg';
import type { RankedIndividual } from '../infer/score-shards.js';
import type { MatchScope } from '../data/match-scope.js';

/** Workers announce themselves here every {@link HELLO_INTERVAL_MS} (and say goodbye on a clean stop). */
export const HELLO_CHANNEL = 'whaleid_score_hello';
/** Services send queries here; every live worker listens. */
export const QUERY_CHANNEL = 'whaleid_score_query';
/** How often a worker says hello. */
export const HELLO_INTERVAL_MS = 1000;
/** A worker not heard from for this long is taken as gone (a SIGKILLed worker says no goodbye). */
export const WORKER_TIMEOUT_MS = 3500;
/** Largest NOTIFY payload PostgreSQL accepts (bytes, less one). */
export const MAX_PAYLOAD = 7999;

/** A worker's announcement. */
export interface HelloMessage {
  /** The worker's id (random, per process). */
  w: string;
  /** The model version whose features it scores. */
  m: string;
  /** `bye`: it stops now. */
  bye?: true;
}

/** One query for every live worker. */
export interface QueryMessage {
  /** Query id, unique per service process. */
  i: number;
  /** The channel the answers go to (the service's own). */
  r: string;
  /** Model version. */
  m: string;
  /** The workers asked, in shard order: worker `w[s]` scores shard s of `w.length`. */
  w: string[];
  /** Per shard: the hash of the gallery rows the service expects in it ({@link galleryHash}). */
  h: string[];
  /** The query's features: float32, little-endian, base64. */
  q: string;
  /** Individuals and photos per individual kept. */
  k: number;
  p: number;
  /** The photo left out (the query itself when it is in the gallery), or null. */
  x: number | null;
  /**
   * Scoped matching: the query's resolved scope (a few short fields), which each worker reads
   * against the catalog for its shard's photos in scope; absent: every photo.
   */
  s?: MatchScope;
  /**
   * When the service stops waiting (ms since the epoch, its clock): a worker that gets to the
   * query later drops it instead of scoring for nobody (an overloaded worker sheds load).
   */
  d: number;
}

/** A worker's answer for its shard. */
export type ReplyMessage =
  | { i: number; s: number; ok: true; c: RankedIndividual[] }
  | { i: number; s: number; ok: false; why: string };

/**
 * The float32 bytes of a vector as base64 (exact: the bytes themselves).
 *
 * @param v - the vector
 * @returns base64 text
 * @example
 * decodeVector(encodeVector(Float32Array.of(1.5))); // Float32Array [1.5]
 */
export function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

/**
 * The vector of {@link encodeVector}'s text.
 *
 * @param text - base64 of float32 bytes
 * @returns a new vector
 */
export function decodeVector(text: string): Float32Array {
  const b = Buffer.from(text, 'base64');
  const out = new Float32Array(b.length >> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return out;
}

/** One gallery row as the shards see it. */
export interface ShardRow {
  photoId: number;
  individualId: number;
  /** The photo's box as the catalog keys it (features are per box). */
  boxKey: string;
}

/**
 * FNV-1a (32 bits) of a shard's rows in the given order: a service and a worker that read the same
 * gallery get the same hash, so a worker knows at once whether its shard is the one the query
 * means (else it reloads, or answers that it cannot).
 *
 * @param rows - the shard's rows, in photo id order
 * @returns 8 hex digits
 * @example
 * galleryHash([{ photoId: 1, individualId: 2, boxKey: '' }]);
 */
export function galleryHash(rows: Iterable<ShardRow>): string {
  let h = 0x811c9dc5;
  const mix = (text: string): void => {
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  };
  for (const r of rows) mix(`${r.photoId},${r.individualId},${r.boxKey};`);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Sends notifications through one connection, one statement at a time and in order (a pg client
 * queues overlapping queries itself, but is to stop doing so).
 *
 * @param client - a connected client
 * @returns `send(channel, payload)`, resolved when PostgreSQL took it
 * @example
 * const send = notifier(client);
 * await send(HELLO_CHANNEL, JSON.stringify({ w: id, m: modelVersion }));
 */
export function notifier(client: pg.Client): (channel: string, payload: string) => Promise<void> {
  let tail: Promise<unknown> = Promise.resolve();
  return (channel, payload) => {
    const sent = tail.then(() => client.query('SELECT pg_notify($1, $2)', [channel, payload]));
    tail = sent.catch(() => undefined);
    return sent.then(() => undefined);
  };
}

/**
 * Parses a message of another process: JSON, or null when it is not (never throws: a bad
 * message is dropped, not a crash).
 *
 * @param payload - the NOTIFY payload
 * @returns the object, or null
 */
export function parseMessage<T>(payload: string | undefined): T | null {
  try {
    const v = JSON.parse(payload ?? '') as unknown;
    return v !== null && typeof v === 'object' ? (v as T) : null;
  } catch {
    return null;
  }
}
