/**
 * JSON schemas of the API's objects. Fastify validates requests and serialises responses with
 * them, and @fastify/swagger turns them into the OpenAPI document at /api/openapi.json, so the
 * documentation cannot drift from what the service does.
 */
import { MATCHER_KINDS } from '../infer/matchers/matcher-registry.js';
const nullable = (type: string): object => ({ type, nullable: true });

const box = { type: 'object', nullable: true, properties: { x0: { type: 'number' }, y0: { type: 'number' }, x1: { type: 'number' }, y1: { type: 'number' } } };

const photo = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, sha256: { type: 'string' }, format: { type: 'string' }, bytes: { type: 'integer' }, width: { type: 'integer' }, height: { type: 'integer' },
    originalName: { type: 'string' }, box, boxSource: { type: 'string', enum: ['none', 'csv', 'model', 'user'] }, takenOn: nullable('string'), location: nullable('string'),
    latitude: nullable('number'), longitude: nullable('number'), takenOnSource: { type: 'string', nullable: true, enum: ['exif', 'user', null] },
    positionSource: { type: 'string', nullable: true, enum: ['exif', 'user', null] }, encounterId: nullable('integer'),
    uploadedBy: { type: 'string' }, uploadedAt: { type: 'string' }, individualId: nullable('integer'), status: { type: 'string', enum: ['pending', 'identified', 'skipped'] },
    // only in lists of a queued catalog (workers extract features): true until the photo's are in;
    // a photo whose job failed for good is not processing and says why
    processing: { type: 'boolean' },
    extractionFailed: { type: 'string', description: 'why no worker could extract the features of this photo (its job failed on every try)' },
  },
};

const individual = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, name: { type: 'string' }, notes: { type: 'string' }, createdAt: { type: 'string' }, createdBy: { type: 'string' }, mergedInto: nullable('integer'), photoCount: { type: 'integer' },
    lastSeen: nullable('string'), coverPhotoId: nullable('integer'),
  },
};

const decision = {
  type: 'object',
  properties: {
    id: { type: 'integer' }, photoId: nullable('integer'), action: { type: 'string', enum: ['import', 'confirm', 'new-individual', 'skip', 'merge', 'undo'] }, individualId: nullable('integer'), otherIndividualId: nullable('integer'),
    score: nullable('number'), modelVersion: nullable('string'), decidedBy: { type: 'string' }, decidedAt: { type: 'string' }, undoes: nullable('integer'),
    annotationId: { ...nullable('integer'), description: 'the annotation decided about (the photo\'s first for the photo\'s own decisions; null for merges)' },
  },
};

const identification = {
  type: 'object',
  nullable: true,
  properties: {
    photoId: { type: 'integer' }, modelVersion: { type: 'string' },
    annotationId: { type: 'integer', description: 'the annotation identified, when one was asked for (GET /api/photos/{id}/annotations/{aid}/candidates)' },
    matcher: { type: 'string', enum: [...MATCHER_KINDS], description: 'the matcher that ranked the candidates (whaleid serve --matcher): its score is each candidate\'s `score`, the threshold is on it' },
    threshold: { type: 'number', description: 'the new-individual threshold on the matcher\'s score' }, suggestion: { type: 'string', enum: ['match', 'new'] },
    compared: { type: 'integer', description: 'catalog photos compared: those in the scope' },
    scope: {
      type: 'object',
      description: 'the scope the candidates were drawn from: species (the photo\'s own; null: any), the viewpoint candidates are compatible with (null: any), location id, radius around the photo\'s position, days (inclusive)',
      properties: {
        species: nullable('string'), viewpoint: nullable('string'), location: nullable('string'),
        near: { type: 'object', nullable: true, properties: { latitude: { type: 'number' }, longitude: { type: 'number' }, km: { type: 'number' } } },
        from: nullable('string'), to: nullable('string'),
      },
    },
    candidates: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          individualId: { type: 'integer' }, name: { type: 'string' },
          score: { type: 'number', description: 'the score the candidates are ranked by: the matcher\'s (equal to `siamese`, `local` or `fused`; `fused` for fused-learned too)' },
          siamese: { type: 'number', description: 'the Siamese network\'s score: the head\'s probability for the individual\'s best photo' },
          learned: { type: 'array', items: { type: 'number' }, description: 'several learned models fused (--model repeated): the other models\' scores of the individual\'s best photo, in --model order (`siamese` is the first model\'s)' },
          local: { type: 'number', description: 'local features (local and fused matchers): LNBNN weight of the query keypoints one affine map verifies against the individual\'s photos; 0 when none verified' },
          inliers: { type: 'integer', description: 'local features (local and fused matchers): keypoints of the individual\'s best verified photo that agree with the query' },
          fused: { type: 'number', description: 'fused matcher: the calibrated probability that this is the query\'s individual, from the Siamese and local scores' },
          photos: { type: 'array', items: { type: 'object', properties: { photoId: { type: 'integer' }, score: { type: 'number', description: 'the Siamese score of this photo' }, annotationId: { type: 'integer', description: 'present when the match is a further annotation of the photo (not its first): that annotation' } } } },
        },
      },
    },
  },
};

const uploadResponse = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    results: {
      type: 'array',
      items: { type: 'object', properties: { ok: { type: 'boolean' }, name: { type: 'string' }, photo, duplicate: { type: 'boolean' }, identification, processing: { type: 'boolean' }, warning: { type: 'string', description: 'why the photo may stay being processed (no live worker)' }, status: { type: 'integer' }, error: { type: 'string' } } },
    },
  },
};

const encounter = { type: 'object', properties: { id: { type: 'integer' }, createdAt: { type: 'string' }, createdBy: { type: 'string' }, photos: { type: 'array', items: photo } } };

const sighting = {
  type: 'object',
  properties: { encounterId: nullable('integer'), date: nullable('string'), location: nullable('string'), latitude: nullable('number'), longitude: nullable('number'), photoIds: { type: 'array', items: { type: 'integer' } } },
};

/** The API's object schemas. */
export const schemas = { photo, individual, decision, identification, uploadResponse, encounter, sighting };

/**
 * The scope of a photo's candidates, as querystring fields (scoped matching, match-scope.ts).
 * Species and a compatible viewpoint apply without asking; these narrow or change it.
 */
export const scopeQuery = {
  species: { type: 'string', minLength: 1, maxLength: 200, description: 'the species to match when the photo\'s own is unknown (a photo of a known species is never matched against another)' },
  viewpoint: { type: 'string', enum: ['compatible', 'any'], description: 'compatible (default): candidates of a compatible viewpoint only (left never with right); any: every viewpoint' },
  location: { type: 'string', minLength: 1, maxLength: 500, description: 'candidates taken at this location id only' },
  km: { type: 'number', exclusiveMinimum: 0, maximum: 20040, description: 'candidates within this many km of the photo\'s GPS position' },
  days: { type: 'integer', minimum: 0, maximum: 36500, description: 'candidates taken within this many days of the photo\'s date' },
  from: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'candidates taken on or after this day (YYYY-MM-DD)' },
  to: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'candidates taken on or before this day (YYYY-MM-DD)' },
} as const;

/** `:id` path parameter. */
export const idParam = { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] } as const;

/** Paging query fields. */
export const pageQuery = { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 }, offset: { type: 'integer', minimum: 0, default: 0 } } as const;
