import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MultipartValue, SavedMultipartFile } from '@fastify/multipart';
import { dateField, textField } from '../catalog/text-fields.js';
import { WhaleidError } from '../util/errors.js';
import { UnsupportedPhotoError } from '../image/photo-policy.js';
import { schemas } from './api-schemas.js';
import { HttpError } from './http-error.js';
import { uploadPhoto, type StoredUpload } from './upload-photo.js';
import type { ServiceContext } from './service-context.js';

/** The form fields an upload may carry besides its files. */
export const UPLOAD_FIELDS = ['takenOn', 'location', 'by'] as const;
type UploadField = (typeof UPLOAD_FIELDS)[number];

/** Most form fields (not files) one upload may carry: the known ones, with room for a client's extras to be refused by name. */
export const MAX_UPLOAD_FIELDS = 20;

/** One photo's outcome in an upload. */
type UploadResult =
  | ({ ok: true; name: string } & StoredUpload)
  | { ok: false; name: string; status: number; error: string };

/** A client's file name made safe to show and store: last path part, no control characters, bounded. */
export function displayName(name: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  const last = (name ?? '').split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return last.slice(0, 200);
}

/**
 * A failure while reading the multipart body as the client's mistake: a limit (413) or a
 * malformed body (400). Errors of the machine (a full disk: a system error code) stay bugs.
 */
function uploadReadError(e: unknown, ctx: ServiceContext): unknown {
  const err = e as Error & { code?: string; statusCode?: number };
  const nothing = 'nothing was stored';
  if (err.code === 'FST_FILES_LIMIT') return new HttpError(413, `too many files: at most ${ctx.maxFilesPerUpload} photos per upload; ${nothing}`);
  if (err.code === 'FST_FIELDS_LIMIT') return new HttpError(413, `too many form fields: at most ${MAX_UPLOAD_FIELDS} (${UPLOAD_FIELDS.join(', ')}); ${nothing}`);
  if (err.code === 'FST_PARTS_LIMIT') return new HttpError(413, `too many parts: at most ${ctx.maxFilesPerUpload} photos and ${MAX_UPLOAD_FIELDS} fields per upload; ${nothing}`);
  if (err.code === undefined || err.code.startsWith('FST_')) return new HttpError(400, `malformed multipart/form-data body (${err.message}); ${nothing}`);
  return e;
}

/**
 * Reads a whole upload before anything is stored: every file to a temporary file (removed when
 * the response is sent), the form fields checked (known names, once each, valid values). So a
 * limit or a malformed body refuses the upload as a whole, never after some photos went in.
 */
async function readUpload(req: FastifyRequest, ctx: ServiceContext): Promise<{ files: SavedMultipartFile[]; fields: Partial<Record<UploadField, string>> }> {
  let saved: Awaited<ReturnType<FastifyRequest['saveRequestFiles']>>;
  try {
    saved = await req.saveRequestFiles();
  } catch (e) {
    throw uploadReadError(e, ctx);
  }
  const fields: Partial<Record<UploadField, string>> = {};
  for (const [key, entry] of Object.entries(saved.values)) {
    const parts = (Array.isArray(entry) ? entry : [entry]) as { type?: string }[];
    if (parts.every((p) => p?.type === 'file')) continue;
    if (!(UPLOAD_FIELDS as readonly string[]).includes(key)) throw new HttpError(400, `form field ${JSON.stringify(key)}: unknown (expected only ${UPLOAD_FIELDS.join(', ')} and photo files)`);
    if (parts.length > 1) throw new HttpError(400, `form field ${key}: given ${parts.length} times (expected once)`);
    const field = parts[0] as MultipartValue;
    if (field.valueTruncated || typeof field.value !== 'string') throw new HttpError(400, `form field ${key}: expected a text of at most 10000 bytes`);
    fields[key as UploadField] = field.value;
  }
  // the same checks the catalog makes, here once for the whole upload
  if (fields.takenOn) dateField('takenOn', fields.takenOn);
  if (fields.location) textField('location', fields.location, 500);
  if (fields.by) textField('by', fields.by, 100);
  return { files: saved.files, fields };
}

/**
 * Registers `POST /api/photos`: several photos in one multipart upload, each stored and identified
 * by {@link uploadPhoto} (the use case), its refusals mapped to statuses. The whole upload is
 * read first (limits and form checked before anything is stored); then every file gets its own
 * outcome, a bad photo or even a bug on one never hiding what happened to the others.
 *
 * @param app - the Fastify app
 * @param ctx - the service context
 * @example
 * registerUploadRoute(app, ctx);
 */
export function registerUploadRoute(app: FastifyInstance, ctx: ServiceContext): void {
  const { catalog } = ctx;
  // the use case is uploadPhoto; here its typed refusals become statuses
  const store = async (file: SavedMultipartFile, fields: Partial<Record<UploadField, string>>, by: string): Promise<UploadResult> => {
    const name = displayName(file.filename);
    if (file.file.truncated) return { ok: false, name, status: 413, error: `${name}: over the upload limit of ${ctx.maxUploadBytes} bytes` };
    try {
      return { ok: true, name, ...(await uploadPhoto(ctx, { name, bytes: await readFile(file.filepath), takenOn: fields.takenOn, location: fields.location, by })) };
    } catch (e) {
      if (e instanceof WhaleidError) return { ok: false, name, status: e instanceof UnsupportedPhotoError ? 415 : 400, error: e.message };
      ctx.logInternal(e);
      return { ok: false, name, status: 500, error: `${name}: internal error, not stored` };
    }
  };

  // the new photos of one upload are one sighting unless their dates or positions say otherwise
  const groupSightings = async (results: UploadResult[], by: string): Promise<void> => {
    const added = results.filter((r) => r.ok && !r.duplicate) as Extract<UploadResult, { ok: true }>[];
    if (added.length === 0) return;
    try {
      await catalog.groupIntoEncounters(added.map((r) => r.photo.id), { by, sameUpload: true });
      for (const r of added) r.photo = await catalog.photo(r.photo.id);
    } catch (e) {
      ctx.logInternal(e);
      for (const r of added) r.error ??= `${r.name}: stored, but not grouped into a sighting (internal error)`;
    }
  };

  app.post('/api/photos', {
    schema: {
      summary: 'Upload photos (multipart/form-data: optional fields takenOn, location, by, and one or more files); each is stored by content and identified',
      consumes: ['multipart/form-data'],
      security: [{ token: [] }],
      response: { 200: schemas.uploadResponse, 400: schemas.uploadResponse },
    },
  }, async (req, reply) => {
    ctx.requireWrite(req);
    if (!req.isMultipart()) throw new HttpError(415, 'expected multipart/form-data with one or more photo files');
    const { files, fields } = await readUpload(req, ctx);
    if (files.length === 0) throw new HttpError(400, 'no photo file in the upload (send one or more files in multipart/form-data)');
    const by = ctx.decidedBy(req, fields.by);
    const results: UploadResult[] = [];
    for (const file of files) results.push(await store(file, fields, by));
    await groupSightings(results, by);
    return reply.code(results.some((r) => r.ok) ? 200 : 400).send({ results });
  });
}
