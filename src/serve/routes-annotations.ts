import type { FastifyInstance } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { AnnotationDecision } from '../catalog/decisions-store.js';
import { annotationGalleryId } from '../catalog/gallery-ids.js';
import { cropJpeg } from './crop-image.js';
import { HttpError } from './http-error.js';
import { FeaturesPendingError } from './identifier.js';
import { schemas, scopeQuery } from './api-schemas.js';
import { reviewCrop, type ServiceContext } from './service-context.js';

const nullable = (type: string): object => ({ type, nullable: true });

/** An annotation as the API answers it. */
const annotation = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, photoId: { type: 'integer' }, ordinal: { type: 'integer', description: '0: the photo\'s first annotation, whose box and individual are the photo\'s' },
    box: { type: 'object', nullable: true, description: 'pixels of the upright photo (COCO\'s bbox); null: the whole photo', properties: { x: { type: 'number' }, y: { type: 'number' }, w: { type: 'number' }, h: { type: 'number' } } },
    theta: { type: 'number', description: 'rotation of the box about its centre in radians (Wildbook\'s theta; positive turns clockwise on screen)' },
    species: { type: 'string' }, viewpoint: { type: 'string' }, individualId: nullable('integer'), uuid: nullable('string'),
  },
};

const annotationParams = { type: 'object', properties: { id: { type: 'integer', minimum: 1 }, aid: { type: 'integer', minimum: 1 } }, required: ['id', 'aid'] } as const;

const decisionBody = {
  type: 'object',
  properties: {
    action: { type: 'string', enum: ['confirm', 'new-individual', 'skip', 'undo'], description: 'confirm (needs individualId), new-individual (name and notes optional), skip, or undo the annotation\'s last decision in force' },
    individualId: { type: 'integer', minimum: 1, description: 'confirm: the individual the annotation shows' },
    score: { type: 'number', description: 'confirm: the model\'s score of that individual, as the page shows it' },
    name: { type: 'string', maxLength: 200, description: 'new-individual: its name (W00001-style when none)' },
    notes: { type: 'string', maxLength: 10000, description: 'new-individual: its notes' },
    by: { type: 'string', maxLength: 100, description: 'who decided (under the single --token; a named user is recorded by name)' },
  },
  required: ['action'],
  additionalProperties: false,
} as const;

/** Which fields each action takes besides `action` and `by`: any other one is refused, named. */
const FIELDS: Record<AnnotationDecision['action'], readonly string[]> = { confirm: ['individualId', 'score'], 'new-individual': ['name', 'notes'], skip: [], undo: [] };

/**
 * The decision a request body asks for, its fields checked against its action.
 *
 * @param b - the body (already valid against its schema)
 * @returns the decision
 * @throws {@link HttpError} 400 naming the field that is missing or does not go with the action
 */
function decisionOf(b: { action: AnnotationDecision['action']; individualId?: number; name?: string; notes?: string }): AnnotationDecision {
  const allowed = new Set(['action', 'by', ...FIELDS[b.action]]);
  const extra = Object.keys(b).find((k) => !allowed.has(k));
  if (extra !== undefined) throw new HttpError(400, `body/${extra}: not a field of action ${b.action} (it takes ${FIELDS[b.action].join(', ') || 'no other field'})`);
  if (b.action === 'confirm') {
    if (b.individualId === undefined) throw new HttpError(400, 'body/individualId: required for action confirm (the individual the annotation shows)');
    return { action: 'confirm', individualId: b.individualId };
  }
  if (b.action === 'new-individual') return { action: 'new-individual', name: b.name?.trim() ? b.name : null, notes: b.notes ?? '' };
  return { action: b.action };
}

/**
 * Registers the annotation routes: a photo's annotations (each animal in it), the review crop of
 * one, a decision about one of them (confirm, new individual, skip, undo: its first is the photo, as the photo's own
 * decision routes), and the candidates for one of them (its own box's crop ranked against the
 * gallery, which holds every annotation with an individual). Decisions need a reviewer
 * (checkAccess, service-guards.ts); reads are open as the other reads.
 *
 * @param app - the Fastify app
 * @param ctx - the service context
 * @example
 * registerAnnotationRoutes(app, ctx); // POST /api/photos/7/annotations/12/decision {"action":"skip"}
 */
export function registerAnnotationRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { catalog } = ctx;
  // the handlers' params, query and body are typed by their schemas
  const api = app.withTypeProvider<JsonSchemaToTsProvider>();

  api.get('/api/photos/:id/annotations', {
    schema: { summary: 'The animals in a photo: its annotations, first one first', params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] } as const, response: { 200: { type: 'array', items: annotation } } },
  }, async (req) => catalog.annotations(req.params.id));

  api.get('/api/photos/:id/annotations/:aid/crop.jpg', {
    schema: { summary: 'The review crop of one animal of a photo: its box (turned by its theta) with the model\'s margin and aspect, as the model crops it', params: annotationParams, querystring: { type: 'object', properties: { width: { type: 'integer', minimum: 16, maximum: 1024, default: 384 } }, additionalProperties: false } as const },
  }, async (req, reply) => {
    const a = await catalog.annotation(req.params.id, req.params.aid);
    // the first annotation is the photo (its box, as the model crops it); a further one its own box and rotation
    const p = a.ordinal === 0 ? await catalog.photo(a.photoId) : await catalog.galleryPhoto(annotationGalleryId(a.id));
    const jpg = await cropJpeg(catalog.photoFile(p), p, req.query.width, reviewCrop(ctx));
    return reply.type('image/jpeg').header('cache-control', 'no-cache').send(jpg);
  });

  api.post('/api/photos/:id/annotations/:aid/decision', {
    schema: {
      summary: 'Decide about one animal of a photo: confirm, new individual, skip or undo (its first annotation is the photo: the photo\'s status and individual change with it)',
      security: [{ token: [] }], params: annotationParams, body: decisionBody,
      response: { 200: { type: 'object', properties: { decision: schemas.decision, individual: { ...schemas.individual, nullable: true } } } },
    },
  }, async (req) => {
    ctx.requireWrite(req);
    const d = decisionOf(req.body);
    const score = req.body.action === 'confirm' ? req.body.score ?? null : null;
    const r = await catalog.decideAnnotation(req.params.id, req.params.aid, d, { by: ctx.decidedBy(req), score, modelVersion: ctx.identifier?.modelVersion ?? null });
    return { decision: r.decision, individual: r.individual ?? null };
  });

  api.get('/api/photos/:id/annotations/:aid/candidates', {
    schema: {
      summary: 'The top individuals for one animal of a photo (its own box\'s crop), from its scope (its own species and viewpoint)',
      params: annotationParams, querystring: { type: 'object', properties: { k: { type: 'integer', minimum: 1, maximum: 50, default: 5 }, ...scopeQuery }, additionalProperties: false } as const,
      response: { 200: schemas.identification },
    },
  }, async (req) => {
    if (!ctx.identifier) throw new HttpError(409, 'no model loaded: start whaleid serve with --model RUN_DIR');
    const { k, ...scope } = req.query;
    try {
      return await ctx.identifier.identify(req.params.id, { k, scope, annotation: req.params.aid });
    } catch (e) {
      if (e instanceof FeaturesPendingError) throw new HttpError(409, e.message);
      throw e;
    }
  });
}
