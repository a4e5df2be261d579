import type { FastifyRequest } from 'fastify';
import type { BoxDetector } from '../boxes/box-predict.js';
import type { Catalog } from '../catalog/catalog.js';
import { decisionAuthor } from '../catalog/decision-log.js';
import { HttpError } from './http-error.js';
import type { Identifier } from './identifier.js';
import type { JobQueue } from '../jobs/job-queue.js';
import { requestUser, roleAllows } from './service-guards.js';
import { DEFAULT_CROP } from '../image/crop.js';

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
  /** Rejects the request unless its token's user may change the catalog (checkAccess found it). */
  requireWrite(req: FastifyRequest): void;
  /**
   * Who a decision of this request is recorded under: a named user's name; under the single
   * `--token`, the name the client gives (`claimed`, else see {@link decisionAuthor}).
   */
  decidedBy(req: FastifyRequest, claimed?: string): string;
  /**
   * A queued catalog whose features no live worker extracts: the line that says so (uploads stay
   * "being processed" until a `whaleid worker` runs), else null. Workers are seen by their hellos,
   * so only a service that shards its queries can count them.
   */
  workerWarning(): string | null;
}

/**
 * The margin and aspect of the review crops (a photo's, an annotation's, a match's): the loaded
 * model's crop, so that what a person compares is what the model compared; the default crop
 * without a model.
 *
 * @param ctx - the service's context
 * @returns the crop's margin and aspect
 * @example
 * const jpg = await cropJpeg(catalog.photoFile(p), p, 384, reviewCrop(ctx));
 */
export function reviewCrop(ctx: Pick<ServiceContext, 'identifier'>): { margin: number; aspect: number } {
  const crop = ctx.identifier?.crop ?? DEFAULT_CROP;
  return { margin: crop.margin ?? DEFAULT_CROP.margin, aspect: crop.aspect ?? DEFAULT_CROP.aspect };
}

/** The line a queued service without a live worker shows (start, uploads, the review page). */
export const NO_WORKER_WARNING = 'no whaleid worker is running for this model: uploads stay "being processed" until one starts (whaleid worker --catalog ... --model ...)';

/**
 * Builds the context the routes share: the catalog and models, the limits, and the write check
 * over the user that checkAccess (service-guards.ts) found for the request's token.
 *
 * @param o - catalog, models, limits and where bugs are reported
 * @returns the context
 * @example
 * const ctx = createServiceContext({ catalog, identifier: null, boxDetector: null, jobs: null, maxUploadBytes: 30e6, maxFilesPerUpload: 50, logInternal: console.error });
 */
export function createServiceContext(o: Omit<ServiceContext, 'requireWrite' | 'decidedBy' | 'workerWarning'>): ServiceContext {
  return {
    catalog: o.catalog,
    identifier: o.identifier,
    boxDetector: o.boxDetector,
    jobs: o.jobs,
    maxUploadBytes: o.maxUploadBytes,
    maxFilesPerUpload: o.maxFilesPerUpload,
    logInternal: o.logInternal,
    requireWrite(req) {
      // checkAccess has refused a change without a reviewer's token already; this holds a route
      // that changes through another method (a GET) to the same rule
      const user = requestUser(req);
      if (!user) throw new HttpError(401, 'missing or wrong token (send Authorization: Bearer <token>)');
      if (!roleAllows(user.role, 'reviewer')) throw new HttpError(403, `user ${user.name} (${user.role}) may not upload, decide or change the catalog`);
    },
    decidedBy(req, claimed) {
      const user = requestUser(req);
      if (user && !user.shared) return user.name;
      return decisionAuthor(claimed || (req.body as { by?: unknown } | undefined)?.by, req.headers['x-whaleid-user']);
    },
    workerWarning: () => (o.jobs && o.identifier?.scoringStats()?.workers === 0 ? NO_WORKER_WARNING : null),
  };
}
