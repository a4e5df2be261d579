import type { FastifyInstance } from 'fastify';
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type { PhotoRecord } from '../catalog/catalog-types.js';
import { paddedBox, type Box } from '../image/affine.js';
import { createCatalogLocalFeatures, type CatalogLocalFeatures } from '../infer/local/catalog-local-features.js';
import { photoCorrespondences } from '../infer/local/pair-correspondences.js';
import { HttpError } from './http-error.js';
import { idParam } from './api-schemas.js';
import { reviewCrop, type ServiceContext } from './service-context.js';

const point = { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } as const;
const region = {
  type: 'object',
  description: 'the part of the photo (original upright pixels) that GET /api/photos/{id}/crop.jpg shows: its fluke box with the model\'s margin and aspect (may reach past the photo: grey there), or the whole photo',
  properties: { x0: { type: 'number' }, y0: { type: 'number' }, x1: { type: 'number' }, y1: { type: 'number' } },
} as const;
const side = { type: 'object', properties: { photoId: { type: 'integer' }, width: { type: 'integer' }, height: { type: 'integer' }, region } } as const;

/** The answer of GET /api/photos/{id}/correspondences. */
const correspondences = {
  type: 'object',
  properties: {
    query: side,
    candidate: side,
    frame: { type: 'string', enum: ['photo'], description: 'points are in each photo\'s original pixels (EXIF orientation applied, as boxes are)' },
    count: { type: 'integer', description: 'verified correspondences (the length of inliers)' },
    tentative: { type: 'integer', description: 'nearest-neighbour matches passing the ratio test, before spatial verification' },
    inliers: {
      type: 'array',
      items: { type: 'object', properties: { query: point, candidate: point, weight: { type: 'number', description: 'how distinctive the match is (second-nearest distance minus nearest)' } } },
    },
  },
} as const;

/**
 * Where the review crop of a photo comes from, in its original pixels: what `cropJpeg`
 * (crop-image.ts) cuts out, so the page can place photo points on the crop it shows.
 */
function reviewRegion(photo: PhotoRecord, crop: { margin: number; aspect: number }): Box {
  if (!photo.box) return { x0: 0, y0: 0, x1: photo.width, y1: photo.height };
  return paddedBox(photo.box, photo.width, photo.height, crop.margin, crop.aspect);
}

/**
 * Registers the explained-match route: the keypoint correspondences one affine map verifies
 * between a photo and a candidate photo ({@link photoCorrespondences}: the local matcher's
 * keypoints, read from the catalog's feature store or described in memory, never written: a GET
 * changes nothing), for the review page to draw as lines between the two crops. A read: open like
 * the other reads, no token.
 *
 * @param app - the Fastify app
 * @param ctx - the service context
 * @example
 * registerMatchRoutes(app, ctx); // GET /api/photos/7/correspondences?candidate=12
 */
export function registerMatchRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const { catalog } = ctx;
  // the handlers' params, query and body are typed by their schemas
  const api = app.withTypeProvider<JsonSchemaToTsProvider>();
  let local: CatalogLocalFeatures | null = null;

  api.get('/api/photos/:id/correspondences', {
    schema: {
      summary: 'Why a match was proposed: the keypoints of the photo and a candidate photo that one affine map (RANSAC) explains, in each photo\'s pixels',
      params: idParam,
      querystring: { type: 'object', properties: { candidate: { type: 'integer', minimum: 1, description: 'the candidate photo\'s id' } }, required: ['candidate'], additionalProperties: false } as const,
      response: { 200: correspondences },
    },
  }, async (req) => {
    const query = await catalog.photo(req.params.id);
    const candidate = await catalog.photo(req.query.candidate);
    if (query.id === candidate.id) throw new HttpError(400, 'candidate: another photo than the query expected');
    local ??= createCatalogLocalFeatures(catalog);
    const found = await photoCorrespondences(local, query, candidate);
    const margins = reviewCrop(ctx);
    const sideOf = (p: PhotoRecord): { photoId: number; width: number; height: number; region: { x0: number; y0: number; x1: number; y1: number } } => {
      const { x0, y0, x1, y1 } = reviewRegion(p, margins);
      return { photoId: p.id, width: p.width, height: p.height, region: { x0, y0, x1, y1 } };
    };
    return { query: sideOf(query), candidate: sideOf(candidate), frame: 'photo' as const, count: found.inliers.length, tentative: found.tentative, inliers: found.inliers.map((c) => ({ query: c.query, candidate: c.candidate, weight: c.weight })) };
  });
}
