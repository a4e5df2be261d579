import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import { cropJpeg } from './crop-image.js';
import { catalogCsv } from '../catalog/catalog-export.js';
import { HttpError } from './http-error.js';
import { FeaturesPendingError } from './identifier.js';
import { reviewCrop, type ServiceContext } from './service-context.js';
import { schemas, idParam, pageQuery, scopeQuery } from './api-schemas.js';
import { WhaleidError } from '../util/errors.js';

const MIME: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', tiff: 'image/tiff' };

/**
 * Registers the photo routes (the upload is in upload-route.ts): listing, the photo and its review
 * crop, candidates, and the decisions a person takes on a photo (confirm, new individual, skip,
 * undo).
 *
 * @param app - the Fastify app
 * @param ctx - the service context
 * @example
 * registerPhotoRoutes(app, ctx);
 */
export function registerPhotoRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { catalog } = ctx;
  // the handlers' params, query and body are typed by their schemas
  const api = app.withTypeProvider<JsonSchemaToTsProvider>();
  api.get('/api/photos', {
    schema: {
      summary: 'List photos (filter by status, individual or text in name/location)',
      querystring: { type: 'object', properties: { ...pageQuery, status: { type: 'string', enum: ['pending', 'identified', 'skipped'] }, individual: { type: 'integer', minimum: 1 }, q: { type: 'string', maxLength: 200 } }, additionalProperties: false } as const,
      response: { 200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: schemas.photo } } } },
    },
  }, async (req) => {
    const q = req.query;
    const page = await catalog.listPhotos({ status: q.status, individualId: q.individual, search: q.q, limit: q.limit, offset: q.offset });
    // a queued catalog: the photos whose features no worker has extracted yet are marked, so the
    // review queue shows them as being processed rather than failing when opened
    if (!ctx.jobs || !ctx.identifier || page.items.length === 0) return page;
    // the stored records as bytes: whether they are there is all this needs
    const extracted = await catalog.getFeatureRecords(ctx.identifier.modelVersion, page.items.map((p) => p.id));
    const jobs = await ctx.jobs.featureJobStates(page.items.filter((p) => !extracted.has(p.id)).map((p) => p.id));
    return {
      ...page,
      items: page.items.map((p) => {
        const failed = extracted.has(p.id) ? undefined : jobs.get(p.id);
        return failed?.state === 'failed' ? { ...p, processing: false, extractionFailed: failed.reason } : { ...p, processing: !extracted.has(p.id) };
      }),
    };
  });

  api.get('/api/photos/:id', { schema: { summary: 'One photo', params: idParam, response: { 200: schemas.photo } } }, async (req) => catalog.photo(req.params.id));

  api.get('/api/photos/:id/image', { schema: { summary: 'The photo as uploaded', params: idParam } }, async (req, reply) => {
    const p = await catalog.photo(req.params.id);
    // content-addressed: the bytes behind this URL never change
    return reply.type(MIME[p.format]).header('cache-control', 'public, max-age=31536000, immutable').send(await readFile(catalog.photoFile(p)));
  });

  api.get('/api/photos/:id/crop.jpg', {
    schema: { summary: "The review crop: the fluke box with the model's margin and aspect", params: idParam, querystring: { type: 'object', properties: { width: { type: 'integer', minimum: 16, maximum: 1024, default: 384 } }, additionalProperties: false } as const },
  }, async (req, reply) => {
    const p = await catalog.photo(req.params.id);
    const jpg = await cropJpeg(catalog.photoFile(p), p, req.query.width, reviewCrop(ctx));
    return reply.type('image/jpeg').header('cache-control', 'no-cache').send(jpg);
  });

  api.get('/api/photos/:id/candidates', {
    schema: {
      summary: 'The top individuals for a photo, with their best-matching photos, from its scope: the same species, a compatible viewpoint, and optionally a location, a radius and dates',
      params: idParam, querystring: { type: 'object', properties: { k: { type: 'integer', minimum: 1, maximum: 50, default: 5 }, ...scopeQuery }, additionalProperties: false } as const, response: { 200: schemas.identification },
    },
  }, async (req) => {
    if (!ctx.identifier) throw new HttpError(409, 'no model loaded: start whaleid serve with --model RUN_DIR');
    const { k, ...scope } = req.query;
    try {
      return await ctx.identifier.identify(req.params.id, { k, scope });
    } catch (e) {
      if (!(e instanceof FeaturesPendingError)) throw e;
      const id = req.params.id;
      const job = (await ctx.jobs?.featureJobStates([id]))?.get(id);
      if (job?.state === 'failed') throw new HttpError(409, `photo ${id}: its features could not be extracted (the job failed on every try: ${job.reason}); a new box queues it again`);
      throw new HttpError(409, e.message);
    }
  });

  const decisionBody = <P extends Record<string, unknown>, R extends readonly (keyof P & string)[] = []>(props: P, required?: R) => ({ type: 'object', properties: { by: { type: 'string', maxLength: 100 }, ...props }, required: required ?? ([] as unknown as R), additionalProperties: false }) as const;

  api.post('/api/photos/:id/confirm', {
    schema: { summary: 'Confirm that the photo shows an individual', security: [{ token: [] }], params: idParam, body: decisionBody({ individualId: { type: 'integer', minimum: 1 }, score: { type: 'number' } } as const, ['individualId'] as const), response: { 200: schemas.decision } },
  }, async (req) => {
    ctx.requireWrite(req);
    const b = req.body;
    const photoId = req.params.id;
    // a client that sends no score (a script, curl) gets the model's score of that individual recorded, as the page sends it
    const score = b.score ?? (await modelScoreOf(ctx, photoId, b.individualId));
    return catalog.confirm(photoId, b.individualId, { by: ctx.decidedBy(req), score, modelVersion: ctx.identifier?.modelVersion ?? null });
  });

  api.post('/api/photos/:id/new-individual', {
    schema: { summary: 'Declare a new individual for the photo (named, or W00001-style when no name)', security: [{ token: [] }], params: idParam, body: decisionBody({ name: { type: 'string', maxLength: 200 }, notes: { type: 'string', maxLength: 10000 } } as const), response: { 200: { type: 'object', properties: { individual: schemas.individual, decision: schemas.decision } } } },
  }, async (req) => {
    ctx.requireWrite(req);
    const b = req.body ?? {};
    return catalog.newIndividual(req.params.id, b.name?.trim() ? b.name : null, b.notes ?? '', { by: ctx.decidedBy(req), modelVersion: ctx.identifier?.modelVersion ?? null });
  });

  api.post('/api/photos/:id/skip', {
    schema: { summary: 'Set the photo aside (recorded; it leaves the review queue, and an identified photo leaves its individual: a new decision replaces the old one)', security: [{ token: [] }], params: idParam, body: decisionBody({}), response: { 200: schemas.decision } },
  }, async (req) => {
    ctx.requireWrite(req);
    return catalog.skip(req.params.id, { by: ctx.decidedBy(req), modelVersion: ctx.identifier?.modelVersion ?? null });
  });

  api.post('/api/photos/:id/undo', {
    schema: { summary: "Undo the photo's last decision still in force (confirm, new individual or skip): it returns to its state before", security: [{ token: [] }], params: idParam, body: decisionBody({}), response: { 200: schemas.decision } },
  }, async (req) => {
    ctx.requireWrite(req);
    return catalog.undo(req.params.id, { by: ctx.decidedBy(req), modelVersion: ctx.identifier?.modelVersion ?? null });
  });

  api.put('/api/photos/:id/box', {
    schema: { summary: 'Set the fluke box by hand (pixels of the upright photo)', security: [{ token: [] }], params: idParam, body: { type: 'object', properties: { x0: { type: 'number' }, y0: { type: 'number' }, x1: { type: 'number' }, y1: { type: 'number' } }, required: ['x0', 'y0', 'x1', 'y1'], additionalProperties: false } as const, response: { 200: schemas.photo } },
  }, async (req) => {
    ctx.requireWrite(req);
    const photo = await catalog.setBox(req.params.id, req.body, 'user');
    // its features were dropped with the old box: a worker extracts them again
    await ctx.jobs?.enqueueFeatures([photo.id]);
    return photo;
  });

  api.get('/api/photos/:id/decisions', { schema: { summary: "The photo's decision history", params: idParam, response: { 200: { type: 'array', items: schemas.decision } } } }, async (req) => {
    const id = req.params.id;
    await catalog.photo(id);
    return catalog.decisions({ photoId: id, limit: 1000 });
  });

  api.get('/api/export.csv', { schema: { summary: 'The catalog as CSV: Image,Id (Kaggle submission/train.csv style) plus photo details' } }, async (_req, reply) => {
    const csv = await catalogCsv(catalog);
    return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="catalog.csv"').send(csv);
  });
}

/**
 * The model's score of an individual for a photo (its matcher's score among the top 100), or null
 * without a model, for a photo being processed, or for an individual ranked further.
 */
async function modelScoreOf(ctx: ServiceContext, photoId: number, individualId: number): Promise<number | null> {
  if (!ctx.identifier) return null;
  try {
    const { candidates } = await ctx.identifier.identify(photoId, { k: 100, photosPerCandidate: 1 });
    return candidates.find((c) => c.individualId === individualId)?.score ?? null;
  } catch (e) {
    if (e instanceof FeaturesPendingError || e instanceof WhaleidError) return null;
    throw e;
  }
}
