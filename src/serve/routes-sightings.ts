import type { FastifyInstance } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import { schemas, idParam } from './api-schemas.js';
import { dateField } from '../catalog/text-fields.js';
import type { ServiceContext } from './service-context.js';
import { sightingsMapSvg, type MapPoint } from './sightings-map.js';

/** A nullable field of a request body: its type or null (null clears the value). */
const orNull = <S extends Record<string, unknown>>(schema: S) => ({ ...schema, nullable: true }) as const;

/**
 * Registers the routes of when and where: correcting a photo's date, place and position, moving a
 * photo between sightings (encounters), reading a sighting, an individual's sightings and their
 * map.
 *
 * @param app - the Fastify app
 * @param ctx - the service context
 * @example
 * registerSightingRoutes(app, ctx);
 */
export function registerSightingRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { catalog } = ctx;
  // the handlers' params, query and body are typed by their schemas
  const api = app.withTypeProvider<JsonSchemaToTsProvider>();

  api.patch('/api/photos/:id', {
    schema: {
      summary: "Correct a photo's date taken, place name or GPS position (null clears; latitude and longitude together)",
      security: [{ token: [] }], params: idParam,
      body: {
        type: 'object', minProperties: 1, additionalProperties: false,
        properties: {
          takenOn: orNull({ type: 'string', maxLength: 40 } as const), location: orNull({ type: 'string', maxLength: 500 } as const),
          latitude: orNull({ type: 'number', minimum: -90, maximum: 90 } as const), longitude: orNull({ type: 'number', minimum: -180, maximum: 180 } as const),
        },
        dependencies: { latitude: ['longitude'], longitude: ['latitude'] },
      } as const,
      response: { 200: schemas.photo },
    },
  }, async (req) => {
    ctx.requireWrite(req);
    return catalog.updatePhotoDetails(req.params.id, req.body);
  });

  api.put('/api/photos/:id/encounter', {
    schema: {
      summary: 'Move the photo to another sighting (encounter), or with null to a new sighting of its own',
      security: [{ token: [] }], params: idParam,
      body: { type: 'object', properties: { encounterId: orNull({ type: 'integer', minimum: 1 } as const), by: { type: 'string', maxLength: 100 } }, required: ['encounterId'], additionalProperties: false } as const,
      response: { 200: schemas.encounter },
    },
  }, async (req) => {
    ctx.requireWrite(req);
    return catalog.moveToEncounter(req.params.id, req.body.encounterId, ctx.decidedBy(req));
  });

  api.get('/api/encounters', {
    schema: {
      summary: 'Sightings with a photo taken on `date` (YYYY-MM-DD), else the newest; newest first',
      querystring: { type: 'object', properties: { date: { type: 'string', maxLength: 10 }, limit: { type: 'integer', minimum: 1, maximum: 200, default: 20 } }, additionalProperties: false } as const,
      response: { 200: { type: 'array', items: schemas.encounter } },
    },
  }, async (req) => {
    const q = req.query;
    // checked here too, so the error names the query's field (`date`), not the catalog's
    if (q.date !== undefined) dateField('date', q.date);
    return catalog.listEncounters({ day: q.date, limit: q.limit });
  });

  api.get('/api/encounters/:id', { schema: { summary: 'A sighting (encounter) with its photos', params: idParam, response: { 200: schemas.encounter } } }, async (req) => catalog.encounter(req.params.id));

  api.get('/api/individuals/:id/sightings', {
    schema: { summary: "An individual's sightings, newest first: date, place, position and its photos there", params: idParam, response: { 200: { type: 'array', items: schemas.sighting } } },
  }, async (req) => {
    const ind = await catalog.individual(req.params.id);
    return catalog.sightings(ind.id);
  });

  api.get('/api/individuals/:id/map.svg', {
    schema: {
      summary: "A map of the individual's sightings (SVG, drawn offline from Natural Earth outlines); `photo` adds that photo's position as the one under review",
      params: idParam, querystring: { type: 'object', properties: { photo: { type: 'integer', minimum: 1 } }, additionalProperties: false } as const,
    },
  }, async (req, reply) => {
    const ind = await catalog.individual(req.params.id);
    const located = (await catalog.sightings(ind.id)).filter((s) => s.latitude !== null && s.longitude !== null).reverse();
    const points: MapPoint[] = located.map((s) => ({ latitude: s.latitude!, longitude: s.longitude!, label: [s.date?.slice(0, 10) ?? 'date unknown', s.location].filter(Boolean).join(' · ') }));
    const photoId = req.query.photo;
    if (photoId !== undefined) {
      const p = await catalog.photo(photoId);
      if (p.latitude !== null && p.longitude !== null) points.push({ latitude: p.latitude, longitude: p.longitude, label: `photo #${p.id} (under review)`, current: true });
    }
    const svg = sightingsMapSvg(points, { width: 640, height: 360, title: `Sightings of ${ind.name}` });
    return reply.type('image/svg+xml; charset=utf-8').header('cache-control', 'no-cache').send(svg);
  });
}
