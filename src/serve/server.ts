import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import helmet from '@fastify/helmet';
import type { Catalog } from '../catalog/catalog.js';
import type { Identifier } from './identifier.js';
import type { BoxDetector } from '../boxes/box-predict.js';
import type { JobQueue } from '../jobs/job-queue.js';
import { registerPhotoRoutes } from './routes-photos.js';
import { registerUploadRoute, MAX_UPLOAD_FIELDS } from './upload-route.js';
import { registerIndividualRoutes } from './routes-individuals.js';
import { registerSightingRoutes } from './routes-sightings.js';
import { registerMatchRoutes } from './routes-matches.js';
import { registerUserRoutes } from './routes-users.js';
import { registerAnnotationRoutes } from './routes-annotations.js';
import { handleErrors, HttpError, internalErrorLog } from './http-error.js';
import { createServiceContext } from './service-context.js';
import { checkAccess, checkHost, createTokenAttempts, type TokenAttemptLimit } from './service-guards.js';
import { STRICT_AJV, strictRequestValidation } from './request-validation.js';
import { limitJsonBodies } from './json-body.js';

/** Options of {@link createServer}. */
export interface ServerOptions {
  catalog: Catalog;
  /** Identification model; without it uploads are stored and listed but get no candidates. */
  identifier?: Identifier | null;
  /** Fluke detector for photos uploaded without a box; without it they are matched whole. */
  boxDetector?: BoxDetector | null;
  /** The job queue of a PostgreSQL catalog: uploads enqueue feature extraction for `whaleid worker`. */
  jobs?: JobQueue | null;
  /** The single bearer token (acts as an admin); the catalog's users have their own (checkAccess). */
  token?: string | null;
  /** Largest accepted upload per photo in bytes; default 30 MB. */
  maxUploadBytes?: number;
  /** Most photos per upload request; default 50. */
  maxFilesPerUpload?: number;
  /** Fastify's request log; default off. */
  logger?: boolean;
  /** Host names the service answers to besides localhost, loopback and its own address (see {@link checkHost}). */
  allowedHosts?: readonly string[];
  /** Wrong tokens allowed per client address and window; default 10 a minute. */
  tokenAttempts?: TokenAttemptLimit;
}

const WEB_DIR = path.resolve(import.meta.dirname, '../../web');
const WEB_FILES: Record<string, string> = {
  '/': 'index.html', '/style.css': 'style.css',
  ...Object.fromEntries(['app', 'dom', 'queue', 'review', 'individuals', 'compare', 'box-editor', 'matches'].map((m) => [`/${m}.js`, `${m}.js`])),
};
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/**
 * Builds the photo-ID service: JSON API under /api (documented at /api/openapi.json), the review
 * web page at /. Writes need `Authorization: Bearer <token>` (wrong tokens are limited per
 * client); reads are open, as the catalog is meant to be browsed by a team while few people
 * decide. Requests must name this service in their Host header (DNS rebinding), and every
 * answer carries X-Frame-Options, nosniff and a Content-Security-Policy.
 *
 * @param o - catalog, identifier, token and limits
 * @returns the Fastify app (not listening yet)
 * @throws {@link WhaleidError} when a token is given and this process cannot write the catalog
 * @example
 * const app = await createServer({ catalog, identifier, token: 's3cret' });
 * await app.listen({ port: 8080, host: '127.0.0.1' });
 */
export async function createServer(o: ServerOptions): Promise<FastifyInstance> {
  // a token promises changes: a catalog this process may only read is refused here, at start,
  // instead of answering every change with 500
  if (o.token) await o.catalog.checkWritable();
  const maxUploadBytes = o.maxUploadBytes ?? 30 * 1024 * 1024;
  const maxFilesPerUpload = o.maxFilesPerUpload ?? 50;
  const app = Fastify({ logger: o.logger ?? false, bodyLimit: 1024 * 1024, ajv: STRICT_AJV });
  strictRequestValidation(app);
  limitJsonBodies(app);
  checkHost(app, o.allowedHosts);
  checkAccess(app, { users: o.catalog, token: o.token ?? null, attempts: createTokenAttempts(o.tokenAttempts ?? { attempts: 10, windowMs: 60_000 }) });
  // X-Frame-Options, nosniff, a CSP for the review page (its own scripts, styles and images only);
  // no HSTS or upgrade-insecure-requests: the service speaks plain HTTP on its own machine
  await app.register(helmet, {
    contentSecurityPolicy: { directives: { 'frame-ancestors': ["'none'"], 'upgrade-insecure-requests': null } },
    frameguard: { action: 'deny' },
    strictTransportSecurity: false,
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'whaleid photo-ID service', version: '1', description: 'Upload photos, review the proposed individuals, record decisions. Changes need `Authorization: Bearer <token>`.' },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
    },
  });
  // an oversized photo is reported as that item's error, the rest of the upload still goes in;
  // too many files or fields refuse the upload before anything is stored (upload-route.ts)
  await app.register(multipart, { throwFileSizeLimit: false, limits: { fileSize: maxUploadBytes, files: maxFilesPerUpload, fields: MAX_UPLOAD_FIELDS, fieldSize: 10_000, parts: maxFilesPerUpload + MAX_UPLOAD_FIELDS } });

  const ctx = createServiceContext({
    catalog: o.catalog, identifier: o.identifier ?? null, boxDetector: o.boxDetector ?? null, jobs: o.jobs ?? null, maxUploadBytes, maxFilesPerUpload,
    logInternal: internalErrorLog(app, o.logger ?? false),
  });
  handleErrors(app, o.logger ?? false);

  app.get('/api/health', { schema: { summary: 'Service state', response: { 200: { type: 'object', additionalProperties: true } } } }, async () => ({
    ok: true,
    readOnly: !o.token && (await o.catalog.countActiveUsers()) === 0,
    model: ctx.identifier ? { version: ctx.identifier.modelVersion, matcher: ctx.identifier.matcher, threshold: ctx.identifier.threshold } : null,
    scoring: ctx.identifier?.scoringStats() ?? null,
    queued: Boolean(o.jobs),
    warning: ctx.workerWarning(),
  }));
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  registerUploadRoute(app, ctx);
  registerPhotoRoutes(app, ctx);
  registerIndividualRoutes(app, ctx);
  registerSightingRoutes(app, ctx);
  registerMatchRoutes(app, ctx);
  registerUserRoutes(app, ctx, { sharedToken: Boolean(o.token) });
  registerAnnotationRoutes(app, ctx);

  for (const [route, file] of Object.entries(WEB_FILES)) {
    app.get(route, { schema: { hide: true } }, async (_req, reply) => {
      const full = path.join(WEB_DIR, file);
      if (!existsSync(full)) throw new HttpError(404, `web page file ${file} missing from the installation`);
      return reply.type(TYPES[path.extname(file)]).header('cache-control', 'no-cache').send(readFileSync(full));
    });
  }
  return app;
}
