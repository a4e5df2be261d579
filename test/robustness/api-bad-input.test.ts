import { describe, it, expect, beforeAll } from 'vitest';
import path from 'node:path';
import { startTestService, type TestService } from '../helpers/service.js';
import { scenePhoto } from '../helpers/photos.js';
import { snapshotFiles } from '../helpers/file-snapshot.js';

/**
 * Bad input through every endpoint of the service (issue 18): each case must be answered with
 * its status and one clear line naming what was wrong (never `internal error`), and leave the
 * catalog (database, WAL, photo folder) byte-identical. The CLI half of the table lives beside
 * this file.
 */
let svc: TestService;

/** Ids the table refers to, made in the fixture. */
interface Ids { pending: number; identified: number; individual: number; other: number; merged: number; otherName: string }
type Body = unknown | ((ids: Ids) => unknown);
/** [method, path, body (JSON unless a string, FormData or Uint8Array), status, message, headers]. */
type Case = [string, string | ((ids: Ids) => string), Body, number, RegExp, Record<string, string>?];

const NONE = 999_999;
const FORM = 'multipart/form-data; boundary=XyZ';
const form = (build: (f: FormData) => void): (() => FormData) => () => {
  const f = new FormData();
  build(f);
  return f;
};
const file = (f: FormData, name: string, bytes: Uint8Array = new Uint8Array([1, 2, 3])): void => f.append('photo', new Blob([bytes], { type: 'image/jpeg' }), name);

const CASES: Case[] = [
  // reads: paths, query strings
  ['GET', '/api/photos?limit=0', undefined, 400, /^querystring\/limit must be >= 1 \(received 0\)$/],
  ['GET', '/api/photos?limit=ten', undefined, 400, /^querystring\/limit must be integer \(received "ten"\)$/],
  ['GET', '/api/photos?limit=5&limit=6', undefined, 400, /^querystring\/limit must be integer \(received \["5","6"\]\)$/],
  ['GET', '/api/photos?status=done', undefined, 400, /^querystring\/status must be equal to one of the allowed values \(received "done"\)$/],
  ['GET', '/api/photos?sort=name', undefined, 400, /^querystring\/sort: unknown field \(expected only limit, offset, status, individual, q/],
  ['GET', `/api/photos?q=${'x'.repeat(201)}`, undefined, 400, /^querystring\/q must NOT have more than 200 characters/],
  ['GET', '/api/photos/0', undefined, 400, /^params\/id must be >= 1 \(received 0\)$/],
  ['GET', '/api/photos/abc', undefined, 400, /^params\/id must be integer \(received "abc"\)$/],
  ['GET', '/api/photos/1.5', undefined, 400, /^params\/id must be integer \(received 1\.5\)$/],
  ['GET', `/api/photos/${NONE}`, undefined, 404, /^photo 999999 not found$/],
  ['GET', `/api/photos/${NONE}/image`, undefined, 404, /^photo 999999 not found$/],
  ['GET', '/api/photos/1/image?size=big', undefined, 400, /^querystring\/size: unknown field \(expected none\)$/],
  ['GET', '/api/photos/1/crop.jpg?width=8', undefined, 400, /^querystring\/width must be >= 16 \(received 8\)$/],
  ['GET', `/api/photos/${NONE}/crop.jpg`, undefined, 404, /^photo 999999 not found$/],
  ['GET', '/api/photos/1/candidates?k=0', undefined, 400, /^querystring\/k must be >= 1 \(received 0\)$/],
  ['GET', `/api/photos/${NONE}/candidates`, undefined, 404, /^photo 999999 not found$/],
  ['GET', `/api/photos/${NONE}/decisions`, undefined, 404, /^photo 999999 not found$/],
  ['GET', '/api/photos/1/correspondences', undefined, 400, /^querystring\/candidate: required$/],
  ['GET', '/api/photos/1/correspondences?candidate=abc', undefined, 400, /^querystring\/candidate must be integer \(received "abc"\)$/],
  ['GET', '/api/photos/1/correspondences?candidate=1', undefined, 400, /^candidate: another photo than the query expected$/],
  ['GET', `/api/photos/${NONE}/correspondences?candidate=1`, undefined, 404, /^photo 999999 not found$/],
  ['GET', '/api/individuals?limit=5000', undefined, 400, /^querystring\/limit must be <= 1000 \(received 5000\)$/],
  ['GET', '/api/individuals?offset=-1', undefined, 400, /^querystring\/offset must be >= 0 \(received -1\)$/],
  ['GET', `/api/individuals/${NONE}`, undefined, 404, /^individual 999999 not found$/],
  ['GET', '/api/decisions?photo=1', undefined, 400, /^querystring\/photo: unknown field \(expected only limit\)$/],
  ['GET', '/api/export.csv?sep=;', undefined, 400, /^querystring\/sep: unknown field \(expected none\)$/],
  ['GET', '/api/encounters?limit=500', undefined, 400, /^querystring\/limit must be <= 200 \(received 500\)$/],
  ['GET', '/api/encounters?date=2019-07-04T10:00', undefined, 400, /^querystring\/date must NOT have more than 10 characters/],
  ['GET', '/api/encounters?date=yesterday', undefined, 400, /^Expected a date YYYY-MM-DD \(optionally with a time\) for date but received "yesterday"$/],
  ['GET', '/api/encounters?day=2019-07-04', undefined, 400, /^querystring\/day: unknown field \(expected only date, limit\)$/],
  ['GET', `/api/encounters/${NONE}`, undefined, 404, /999999 not found$/],
  ['GET', `/api/individuals/${NONE}/sightings`, undefined, 404, /^individual 999999 not found$/],
  ['GET', (i) => `/api/individuals/${i.individual}/map.svg?photo=0`, undefined, 400, /^querystring\/photo must be >= 1 \(received 0\)$/],
  ['GET', `/api/individuals/${NONE}/map.svg`, undefined, 404, /^individual 999999 not found$/],
  // the token
  ['POST', '/api/individuals', { name: 'NoToken' }, 401, /^missing or wrong token \(send Authorization: Bearer <token>\)$/, { authorization: '' }],
  ['POST', '/api/individuals', { name: 'WrongToken' }, 401, /^missing or wrong token/, { authorization: 'Bearer not-the-token' }],
  // JSON bodies: syntax, media type, size
  ['POST', '/api/individuals', '{"name": "Salt"', 400, /^Body is not valid JSON/],
  ['POST', '/api/individuals', 'null', 400, /^body must be object \(received null\)$/],
  ['POST', '/api/individuals', 'name=Salt', 415, /^content type "application\/x-www-form-urlencoded" is not accepted \(expected application\/json; uploads: multipart\/form-data\)$/, { 'content-type': 'application/x-www-form-urlencoded' }],
  ['POST', '/api/individuals', 'name=Salt', 400, /^body must be object \(received "name=Salt"\)$/, { 'content-type': 'text/plain' }],
  ['POST', '/api/individuals', JSON.stringify({ name: 'Big', notes: 'x'.repeat(1_100_000) }), 413, /^Request body is too large$/],
  // individuals
  ['POST', '/api/individuals', {}, 400, /^body\/name: required$/],
  ['POST', '/api/individuals', { name: '' }, 400, /^Expected a non-empty text for name but received an empty string$/],
  ['POST', '/api/individuals', { name: 'x'.repeat(201) }, 400, /^body\/name must NOT have more than 200 characters/],
  ['POST', '/api/individuals', { name: 'bad\u0000name' }, 400, /^Expected text without control characters for name/],
  ['POST', '/api/individuals', (i: Ids) => ({ name: i.otherName }), 400, /^an individual named ".*" exists already$/],
  ['POST', '/api/individuals', { name: 'Extra', colour: 'grey' }, 400, /^body\/colour: unknown field \(expected only name, notes, by\)$/],
  ['POST', '/api/individuals', { name: 12 }, 400, /^body\/name must be string \(received 12\)$/],
  ['PATCH', (i) => `/api/individuals/${i.individual}`, {}, 400, /^body must NOT have fewer than 1 properties/],
  ['PATCH', (i) => `/api/individuals/${i.individual}`, { nmae: 'x' }, 400, /^body\/nmae: unknown field \(expected only name, notes\)$/],
  ['PATCH', (i) => `/api/individuals/${i.individual}`, { notes: null }, 400, /^body\/notes must be string \(received null\)$/],
  ['PATCH', (i) => `/api/individuals/${i.individual}`, { notes: 12345 }, 400, /^body\/notes must be string \(received 12345\)$/],
  ['PATCH', (i) => `/api/individuals/${i.individual}`, (i: Ids) => ({ name: i.otherName }), 400, /^an individual named ".*" exists already$/],
  ['PATCH', `/api/individuals/${NONE}`, { notes: 'x' }, 404, /^individual 999999 not found$/],
  ['POST', (i) => `/api/individuals/${i.individual}/merge`, { from: true }, 400, /^body\/from must be integer \(received true\)$/],
  ['POST', (i) => `/api/individuals/${i.individual}/merge`, { from: [6] }, 400, /^body\/from must be integer \(received \[6\]\)$/],
  ['POST', (i) => `/api/individuals/${i.individual}/merge`, {}, 400, /^body\/from: required$/],
  ['POST', (i) => `/api/individuals/${i.individual}/merge`, (i: Ids) => ({ from: i.individual }), 400, /^cannot merge an individual into itself$/],
  ['POST', (i) => `/api/individuals/${i.individual}/merge`, (i: Ids) => ({ from: i.merged }), 400, /^individual \d+ \(.*\) was merged into \d+; use that one$/],
  ['POST', (i) => `/api/individuals/${i.individual}/merge`, { from: NONE }, 404, /^individual 999999 not found$/],
  ['POST', `/api/individuals/${NONE}/merge`, (i: Ids) => ({ from: i.other }), 404, /^individual 999999 not found$/],
  // decisions on photos
  ['POST', (i) => `/api/photos/${i.pending}/confirm`, { individualId: true }, 400, /^body\/individualId must be integer \(received true\)$/],
  ['POST', (i) => `/api/photos/${i.pending}/confirm`, { individualId: 1.5 }, 400, /^body\/individualId must be integer \(received 1\.5\)$/],
  ['POST', (i) => `/api/photos/${i.pending}/confirm`, (i: Ids) => ({ individualId: i.individual, score: 'high' }), 400, /^body\/score must be number \(received "high"\)$/],
  ['POST', (i) => `/api/photos/${i.pending}/confirm`, (i: Ids) => ({ individualId: i.merged }), 400, /was merged into \d+; use that one$/],
  ['POST', (i) => `/api/photos/${i.pending}/confirm`, { individualId: NONE }, 404, /^individual 999999 not found$/],
  ['POST', `/api/photos/${NONE}/confirm`, (i: Ids) => ({ individualId: i.individual }), 404, /^photo 999999 not found$/],
  ['POST', (i) => `/api/photos/${i.pending}/new-individual`, (i: Ids) => ({ name: i.otherName }), 400, /^an individual named ".*" exists already$/],
  ['POST', (i) => `/api/photos/${i.pending}/new-individual`, { name: 5 }, 400, /^body\/name must be string \(received 5\)$/],
  ['POST', (i) => `/api/photos/${i.pending}/new-individual`, { notes: 'x'.repeat(10_001) }, 400, /^body\/notes must NOT have more than 10000 characters/],
  ['POST', `/api/photos/${NONE}/new-individual`, {}, 404, /^photo 999999 not found$/],
  ['POST', (i) => `/api/photos/${i.pending}/skip`, { reason: 'blurry' }, 400, /^body\/reason: unknown field \(expected only by\)$/],
  ['POST', (i) => `/api/photos/${i.pending}/skip`, { by: 5 }, 400, /^body\/by must be string \(received 5\)$/],
  ['POST', `/api/photos/${NONE}/skip`, {}, 404, /^photo 999999 not found$/],
  ['POST', (i) => `/api/photos/${i.pending}/undo`, {}, 400, /^photo \d+: no decision to undo$/],
  ['POST', (i) => `/api/photos/${i.identified}/undo`, {}, 400, /^photo \d+: no decision to undo \(only its import, which is where it came from\)$/],
  ['POST', `/api/photos/${NONE}/undo`, {}, 404, /^photo 999999 not found$/],
  ['PUT', (i) => `/api/photos/${i.pending}/box`, { x0: 10, y0: 10, x1: 5, y1: 20 }, 400, /^box .*: expected x0 < x1 and y0 < y1 overlapping the \d+x\d+ photo$/],
  ['PUT', (i) => `/api/photos/${i.pending}/box`, { x0: 1e6, y0: 1e6, x1: 2e6, y1: 2e6 }, 400, /expected x0 < x1 and y0 < y1 overlapping/],
  ['PUT', (i) => `/api/photos/${i.pending}/box`, { x0: 1, y0: 1, x1: 20 }, 400, /^body\/y1: required$/],
  ['PUT', (i) => `/api/photos/${i.pending}/box`, { x0: '1', y0: 1, x1: 20, y1: 20 }, 400, /^body\/x0 must be number \(received "1"\)$/],
  ['PUT', `/api/photos/${NONE}/box`, { x0: 1, y0: 1, x1: 20, y1: 20 }, 404, /^photo 999999 not found$/],
  // photo details and sightings
  ['PATCH', (i) => `/api/photos/${i.pending}`, {}, 400, /^body must NOT have fewer than 1 properties/],
  ['PATCH', (i) => `/api/photos/${i.pending}`, { latitude: 100, longitude: 0 }, 400, /^body\/latitude must be <= 90 \(received 100\)$/],
  ['PATCH', (i) => `/api/photos/${i.pending}`, { latitude: 10 }, 400, /^body must have property longitude when property latitude is present/],
  ['PATCH', (i) => `/api/photos/${i.pending}`, { takenOn: '2019-02-30' }, 400, /for takenOn but received "2019-02-30"$/],
  ['PATCH', (i) => `/api/photos/${i.pending}`, { camera: 'x' }, 400, /^body\/camera: unknown field/],
  ['PATCH', `/api/photos/${NONE}`, { location: 'x' }, 404, /^photo 999999 not found$/],
  ['PUT', (i) => `/api/photos/${i.pending}/encounter`, {}, 400, /^body\/encounterId: required$/],
  ['PUT', (i) => `/api/photos/${i.pending}/encounter`, { encounterId: 'x' }, 400, /^body\/encounterId must be integer/],
  ['PUT', (i) => `/api/photos/${i.pending}/encounter`, { encounterId: NONE }, 404, /999999 not found$/],
  // accounts (issue 31 item 5): who am I, and the admin routes (the fixture's --token is an admin)
  ['GET', '/api/me', undefined, 401, /^missing or wrong token \(send Authorization: Bearer <token>\)$/, { authorization: '' }],
  ['GET', '/api/users?name=ann', undefined, 400, /^querystring\/name: unknown field \(expected none\)$/],
  ['POST', '/api/users', { name: 'ann', role: 'owner' }, 400, /^body\/role must be equal to one of the allowed values \(received "owner"\)$/],
  ['POST', '/api/users', { name: 'ann' }, 400, /^body\/role: required$/],
  ['POST', '/api/users', { name: 'ann', role: 'reviewer', token: 'mine' }, 400, /^body\/token: unknown field \(expected only name, role\)$/],
  ['POST', '/api/users', { name: 'a\u0000n', role: 'reviewer' }, 400, /^Expected text without control characters for name/],
  ['PATCH', '/api/users/1', { role: 'boss' }, 400, /^body\/role must be equal to one of the allowed values \(received "boss"\)$/],
  ['PATCH', `/api/users/${NONE}`, { role: 'reviewer' }, 404, /^user 999999 not found$/],
  ['POST', '/api/users/1/revoke', { now: true }, 400, /^body\/now: unknown field \(expected none\)$/],
  ['POST', `/api/users/${NONE}/revoke`, {}, 404, /^user 999999 not found$/],
  // uploads
  ['POST', '/api/photos', { photo: 'x' }, 415, /^expected multipart\/form-data with one or more photo files$/],
  ['POST', '/api/photos', form((f) => f.append('location', 'Stellwagen Bank')), 400, /^no photo file in the upload/],
  ['POST', '/api/photos', form((f) => { f.append('loaction', 'x'); file(f, 'a.jpg'); }), 400, /^form field "loaction": unknown \(expected only takenOn, location, by and photo files\)$/],
  ['POST', '/api/photos', form((f) => { f.append('takenOn', '2019-13-01'); file(f, 'a.jpg'); }), 400, /for takenOn but received "2019-13-01"$/],
  ['POST', '/api/photos', form((f) => { for (let k = 0; k < 51; k++) file(f, `${k}.jpg`); }), 413, /^too many files: at most 50 photos per upload; nothing was stored$/],
  ['POST', '/api/photos', form((f) => { for (let k = 0; k < 21; k++) f.append(`f${k}`, 'x'); file(f, 'a.jpg'); }), 413, /^too many form fields: at most 20 .*; nothing was stored$/],
  ['POST', '/api/photos', 'hello', 400, /^malformed multipart\/form-data body .*; nothing was stored$/, { 'content-type': 'multipart/form-data' }],
  ['POST', '/api/photos', new Uint8Array(Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="photo"; filename="cut.jpg"\r\n\r\nabc')), 400, /^malformed multipart\/form-data body/, { 'content-type': FORM }],
  ['POST', '/api/photos', form((f) => { file(f, 'notes.txt', new TextEncoder().encode('not a photo')); file(f, 'empty.jpg', new Uint8Array(0)); }), 400, /^notes\.txt: not an image .* · empty\.jpg: empty file/],
  // annotations (issue 31 item 1): a photo's animals, a decision about one, its candidates
  ['GET', `/api/photos/${NONE}/annotations`, undefined, 404, /^photo 999999 not found$/],
  ['GET', '/api/photos/1/annotations?all=1', undefined, 400, /^querystring\/all: unknown field/],
  ['POST', '/api/photos/1/annotations/1/decision', {}, 400, /^body\/action: required$/],
  ['POST', '/api/photos/1/annotations/1/decision', { action: 'merge' }, 400, /^body\/action must be equal to one of the allowed values \(received "merge"\)$/],
  ['POST', '/api/photos/1/annotations/1/decision', { action: 'confirm' }, 400, /^body\/individualId: required for action confirm \(the individual the annotation shows\)$/],
  ['POST', '/api/photos/1/annotations/1/decision', { action: 'skip', name: 'Salt' }, 400, /^body\/name: not a field of action skip \(it takes no other field\)$/],
  ['POST', (i) => `/api/photos/${i.pending}/annotations/${NONE}/decision`, { action: 'skip' }, 404, /^photo \d+ has no annotation 999999$/],
  ['GET', '/api/photos/1/annotations/0/candidates', undefined, 400, /^params\/aid must be >= 1 \(received 0\)$/],
  ['GET', '/api/photos/1/annotations/1/candidates?k=0', undefined, 400, /^querystring\/k must be >= 1 \(received 0\)$/],
  ['GET', '/api/photos/1/annotations/1/crop.jpg?width=8', undefined, 400, /^querystring\/width must be >= 16 \(received 8\)$/],
  ['GET', `/api/photos/1/annotations/${NONE}/crop.jpg`, undefined, 404, /^photo 1 has no annotation 999999$/],
];

describe('bad input through every endpoint: status, one clear line, catalog byte-identical', () => {
  let ids: Ids;
  /**
   * The catalog's files (database, WAL, photo folder: the files beside the catalog named after
   * it), each with its SHA-256. Only those are read: the folder also holds the fixture's photos,
   * run and image cache (140 more files, 4 MB), and hashing the whole folder twice per case took
   * half of the file's 40 s (measured, loaded machine). The -shm file is SQLite's shared-memory
   * index, which readers write to: not the catalog's data.
   */
  const catalogFiles = (): Record<string, string> => {
    const base = path.basename(svc.catalog.file);
    return snapshotFiles(path.dirname(svc.catalog.file), (rel) => rel.startsWith(base) && !rel.endsWith('-shm'));
  };

  beforeAll(async () => {
    svc = await startTestService({ tokenAttempts: { attempts: 1000, windowMs: 60_000 } });
    const headers = { authorization: `Bearer ${svc.token}` };
    const f = new FormData();
    f.append('photo', new Blob([new Uint8Array(await scenePhoto(90))], { type: 'image/jpeg' }), 'pending.jpg');
    const pending = ((await (await fetch(`${svc.url}/api/photos`, { method: 'POST', body: f, headers })).json()) as { results: { photo: { id: number } }[] }).results[0].photo.id;
    const [a, b, c] = (await svc.catalog.listIndividuals({ limit: 3 })).items;
    await svc.catalog.merge(b.id, c.id, { by: 'fixture' });
    const identified = (await svc.catalog.listPhotos({ status: 'identified', limit: 1 })).items[0].id;
    ids = { pending, identified, individual: a.id, other: b.id, merged: c.id, otherName: b.name };
  }, 240_000);

  it('covers every endpoint', async () => {
    const doc = (await (await fetch(`${svc.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const covered = new Set(CASES.map(([method, p]) => `${method} ${(typeof p === 'string' ? p : p({ pending: 1, identified: 1, individual: 1, other: 1, merged: 1, otherName: '' })).split('?')[0].replace(/\/(\d+|abc|1\.5)(?=\/|$)/g, '/{id}').replace('/annotations/{id}', '/annotations/{aid}')}`));
    const routes = Object.entries(doc.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`));
    expect(routes.filter((r) => !covered.has(r) && !['GET /api/health'].includes(r))).toEqual([]);
  });

  it.each(CASES.map((c, k) => [`${c[0]} ${typeof c[1] === 'string' ? c[1].slice(0, 60) : c[1].toString().replace(/^.*=> `|`$/g, '')} #${k}`, c] as const))('%s', async (_name, [method, where, body, status, message, headers]) => {
    const url = typeof where === 'string' ? where : where(ids);
    const value = typeof body === 'function' ? (body as (i: Ids) => unknown)(ids) : body;
    const raw = value === undefined || typeof value === 'string' || value instanceof FormData || value instanceof Uint8Array;
    const sent = raw ? value as RequestInit['body'] : JSON.stringify(value);
    const h: Record<string, string> = { authorization: `Bearer ${svc.token}`, ...(raw ? (typeof value === 'string' ? { 'content-type': 'application/json' } : {}) : { 'content-type': 'application/json' }), ...headers };
    if (h.authorization === '') delete h.authorization;
    const before = catalogFiles();
    const revision = await svc.catalog.revision();
    const res = await fetch(`${svc.url}${url}`, { method, body: sent, headers: h });
    const answer = (await res.json()) as { error?: string; results?: { error?: string }[] };
    const line = answer.error ?? (answer.results ?? []).map((r) => r.error).join(' · ');
    expect(res.status, line).toBe(status);
    expect(line).toMatch(message);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).not.toMatch(/internal error/);
    expect(catalogFiles()).toEqual(before);
    expect(await svc.catalog.revision()).toBe(revision);
  });
});
