import type { FastifyInstance } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import { schemas, idParam, pageQuery } from './api-schemas.js';
import type { ServiceContext } from './service-context.js';

/**
 * Registers the individual routes: list/search, create, read with photos, rename/annotate, merge,
 * and the decision log.
 *
 * @param app - the Fastify app
 * @param ctx - the service context
 * @example
 * registerIndividualRoutes(app, ctx);
 */
export function registerIndividualRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { catalog } = ctx;
  // the handlers' params, query and body are typed by their schemas
  const api = app.withTypeProvider<JsonSchemaToTsProvider>();
  const individualWithPhotos = { type: 'object', properties: { ...schemas.individual.properties, photos: { type: 'array', items: schemas.photo } } };

  api.get('/api/individuals', {
    schema: { summary: 'List or search individuals (by name or notes)', querystring: { type: 'object', properties: { ...pageQuery, q: { type: 'string', maxLength: 200 } }, additionalProperties: false } as const, response: { 200: { type: 'object', properties: { total: { type: 'integer' }, items: { type: 'array', items: schemas.individual } } } } },
  }, async (req) => {
    const q = req.query;
    return catalog.listIndividuals({ search: q.q, limit: q.limit, offset: q.offset });
  });

  api.post('/api/individuals', {
    schema: { summary: 'Create an individual', security: [{ token: [] }], body: { type: 'object', properties: { name: { type: 'string', maxLength: 200 }, notes: { type: 'string', maxLength: 10000 }, by: { type: 'string', maxLength: 100 } }, required: ['name'], additionalProperties: false } as const, response: { 200: schemas.individual } },
  }, async (req) => {
    ctx.requireWrite(req);
    const b = req.body;
    return catalog.createIndividual(b.name, b.notes ?? '', ctx.decidedBy(req));
  });

  api.get('/api/individuals/:id', { schema: { summary: 'An individual with its photos', params: idParam, response: { 200: individualWithPhotos } } }, async (req) => {
    const ind = await catalog.individual(req.params.id);
    return { ...ind, photos: (await catalog.listPhotos({ individualId: ind.id, limit: 1000 })).items };
  });

  api.patch('/api/individuals/:id', {
    schema: { summary: 'Rename or annotate an individual', security: [{ token: [] }], params: idParam, body: { type: 'object', properties: { name: { type: 'string', maxLength: 200 }, notes: { type: 'string', maxLength: 10000 } }, minProperties: 1, additionalProperties: false } as const, response: { 200: schemas.individual } },
  }, async (req) => {
    ctx.requireWrite(req);
    return catalog.updateIndividual(req.params.id, req.body);
  });

  api.post('/api/individuals/:id/merge', {
    schema: { summary: 'Merge individual `from` into this one (its photos move here; it is kept, marked merged)', security: [{ token: [] }], params: idParam, body: { type: 'object', properties: { from: { type: 'integer', minimum: 1 }, by: { type: 'string', maxLength: 100 } }, required: ['from'], additionalProperties: false } as const, response: { 200: schemas.decision } },
  }, async (req) => {
    ctx.requireWrite(req);
    return catalog.merge(req.params.id, req.body.from, { by: ctx.decidedBy(req), modelVersion: ctx.identifier?.modelVersion ?? null });
  });

  api.get('/api/decisions', { schema: { summary: 'The newest decisions, newest first', querystring: { type: 'object', properties: { limit: pageQuery.limit }, additionalProperties: false } as const, response: { 200: { type: 'array', items: schemas.decision } } } }, async (req) => catalog.decisions({ limit: req.query.limit }));
}
