import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { BoxDetector } from '../boxes/box-predict.js';
import type { Catalog } from '../catalog/catalog.js';
import { decisionAuthor } from '../catalog/decision-log.js';
import { HttpError } from './http-error.js';
import type { Identifier } from './identifier.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { TokenAttempts } from './service-guards.js';

/** Everything the route modules share. */
export interface ServiceContext {
  catalog: Catalog;
  identifier: Identifier | null;
  boxDetector: BoxDetector | null;
  /** The job queue (a PostgreSQL catalog): new photos' features are extracted by workers, not here. */
  jobs: JobQueue | null;
  maxUploadBytes: number;
  maxFilesPerUpload: number;
  /** Reports a bug (not the client's mistake) to the operator, with its stack. */
  logInternal(err: unknown): void;
  /** Rejects the request unless it carries the write token. */
  requireWrite(req: FastifyRequest): void;
  /** Who a decision of this request is recorded under (see {@link decisionAuthor}). */
  decidedBy(req: FastifyRequest): string;
  /**
   * A queued catalog whose features no live worker extracts: the line that says so (uploads stay
   * "being processed" until a `whaleid worker` runs), else null. Workers are seen by their hellos,
   * so only a service that shards its queries can count them.
   */
  workerWarning(): string | null;
}

/** The line a queued service without a live worker shows (start, uploads, the review page). */
export const NO_WORKER_WARNING = 'no whaleid worker is running for this model: uploads stay "being processed" until one starts (whaleid worker --catalog ... --model ...)';

/**
 * Builds the context the routes share: the catalog and models, the limits, and the write check
 * (the token compared in constant time, wrong ones counted per client address).
 *
 * @param o - catalog, models, token (null: read-only) and its attempt counter, limits and where bugs are reported
 * @returns the context
 * @example
 * const ctx = createServiceContext({ catalog, identifier: null, boxDetector: null, jobs: null, token: 's3cret-token', maxUploadBytes: 30e6, maxFilesPerUpload: 50, logInternal: console.error,
 *   tokenAttempts: createTokenAttempts({ attempts: 10, windowMs: 60_000 }) });
 */
export function createServiceContext(o: Omit<ServiceContext, 'requireWrite' | 'decidedBy' | 'workerWarning'> & { token: string | null; tokenAttempts: TokenAttempts }): ServiceContext {
  const token = o.token ? Buffer.from(o.token) : null;
  return {
    catalog: o.catalog,
    identifier: o.identifier,
    boxDetector: o.boxDetector,
    jobs: o.jobs,
    maxUploadBytes: o.maxUploadBytes,
    maxFilesPerUpload: o.maxFilesPerUpload,
    logInternal: o.logInternal,
    requireWrite(req) {
      if (!token) throw new HttpError(403, 'read-only service: start whaleid serve with --token to allow changes');
      o.tokenAttempts.check(req.ip);
      // the scheme's name is case-insensitive (RFC 9110 11.1): `bearer` is the same scheme
      const m = /^bearer +(.+)$/i.exec(req.headers.authorization ?? '');
      const given = m ? Buffer.from(m[1]) : Buffer.alloc(0);
      if (given.length !== token.length || !timingSafeEqual(given, token)) {
        if (given.length) o.tokenAttempts.failed(req.ip); // a request without a token is no guess
        throw new HttpError(401, 'missing or wrong token (send Authorization: Bearer <token>)');
      }
    },
    decidedBy: (req) => decisionAuthor((req.body as { by?: unknown } | undefined)?.by, req.headers['x-whaleid-user']),
    workerWarning: () => (o.jobs && o.identifier?.scoringStats()?.workers === 0 ? NO_WORKER_WARNING : null),
  };
}
