import { sql, type RawBuilder } from 'kysely';
import { boxKey } from './box-key.js';
import type { CatalogDb } from './catalog-db.js';
import { boundingBox, haversineKm, speciesInScope, viewpointsCompatible, type MatchScope } from '../data/match-scope.js';

/** A number column as text that reads back to the same double (SQLite `%!.17g`, PostgreSQL's shortest exact float text). */
const num = (db: CatalogDb, column: string): RawBuilder<unknown> => (db.backend === 'postgres' ? sql`${sql.ref(column)}::text` : sql`printf('%!.17g', ${sql.ref(column)})`);

/** A gallery photo as the identifier reads it. */
export interface GalleryEntry {
  photoId: number;
  individualId: number;
  /** {@link boxKey} of its box. */
  boxKey: string;
}

/**
 * The gallery (identified photos of live individuals, by photo id) in one packed value: the
 * database joins each row's id, individual and box into text and those into one string, which is
 * split here. Why packed: a million rows as objects through the query builder took 3 to 5 s of
 * CPU at a service's start (bench:scale --vectors), the packed text a fifth of that. The box
 * corners travel as text that reads back to the same double (SQLite `%!.17g`, PostgreSQL's
 * shortest exact float text), so the key is {@link boxKey}'s spelling of the stored numbers.
 *
 * @param db - the catalog's database
 * @returns the gallery's rows, ascending by photo id
 * @throws Error from the database, or when its text is not the packed rows this writes
 * @example
 * const rows = await readGallery(db); // [{ photoId: 1, individualId: 7, boxKey: '10,20,300,200' }, ...]
 */
export async function readGallery(db: CatalogDb): Promise<GalleryEntry[]> {
  const row = sql`${sql.ref('p.id')} || ' ' || ${sql.ref('p.individual_id')} || CASE WHEN ${sql.ref('p.box_x0')} IS NULL THEN '' ELSE ' ' || ${num(db, 'p.box_x0')} || ' ' || ${num(db, 'p.box_y0')} || ' ' || ${num(db, 'p.box_x1')} || ' ' || ${num(db, 'p.box_y1')} END`;
  const result = await sql<{ g: string | null }>`SELECT string_agg(${row}, ';' ORDER BY p.id) AS g FROM photos p INNER JOIN individuals i ON i.id = p.individual_id WHERE p.status = 'identified' AND i.merged_into IS NULL`.execute(db.q());
  const text = result.rows[0]?.g;
  if (!text) return [];
  const out: GalleryEntry[] = [];
  // fields by index, not split(): a million rows without an array and strings per row
  for (let at = 0; at <= text.length; ) {
    let end = text.indexOf(';', at);
    if (end < 0) end = text.length;
    const s1 = text.indexOf(' ', at);
    const s2 = s1 < 0 || s1 > end ? -1 : text.indexOf(' ', s1 + 1);
    const boxed = s2 >= 0 && s2 < end;
    const photoId = Number(text.slice(at, s1));
    const individualId = Number(text.slice(s1 + 1, boxed ? s2 : end));
    const corners = boxed ? text.slice(s2 + 1, end).split(' ').map(Number) : [];
    if (s1 < 0 || s1 > end || !Number.isSafeInteger(photoId) || !Number.isSafeInteger(individualId) || (boxed && (corners.length !== 4 || !corners.every(Number.isFinite)))) {
      throw new Error(`gallery: unexpected packed row '${text.slice(at, Math.min(end, at + 80))}'`);
    }
    out.push({ photoId, individualId, boxKey: boxed ? boxKey({ x0: corners[0], y0: corners[1], x1: corners[2], y1: corners[3] }) : '' });
    at = end + 1;
  }
  return out;
}

/**
 * The gallery rows in a query's scope (see `match-scope.ts` for the rules), in one query over the
 * annotations and their photos. Ids are gallery ids (gallery-ids.ts): a photo's id for its first
 * annotation, minus the annotation's id for a further one, each judged by its own species and
 * viewpoint (a superset of the gallery's rows is harmless: the set only filters them). Species and viewpoint by the lists of stored spellings
 * the rules admit (read from the distinct stored values first, so the rules are written once, in
 * TypeScript), location and days by plain comparisons, a radius by the box around its circle in
 * SQL and the haversine here. The ids come back packed like {@link readGallery}'s rows: a
 * million-photo gallery is one string, not a million row objects.
 *
 * @param db - the catalog's database
 * @param scope - the resolved scope
 * @returns the ids of the gallery photos in scope
 * @throws Error from the database
 * @example
 * const allowed = await readScopedPhotoIds(db, resolveScope({ km: 50 }, query, 'photo 42'));
 */
export async function readScopedPhotoIds(db: CatalogDb, scope: MatchScope): Promise<Set<number>> {
  const where: RawBuilder<unknown>[] = [sql`(a.ordinal > 0 OR p.status = 'identified')`, sql`i.merged_into IS NULL`];
  if (scope.species !== null || scope.viewpoint !== null) {
    const kinds = await sql<{ species: string; viewpoint: string }>`SELECT DISTINCT species, viewpoint FROM annotations WHERE individual_id IS NOT NULL`.execute(db.q());
    const species = [...new Set(kinds.rows.map((r) => r.species))].filter((s) => speciesInScope(scope, s));
    const views = [...new Set(kinds.rows.map((r) => r.viewpoint))].filter((v) => scope.viewpoint === null || viewpointsCompatible(scope.viewpoint, v));
    if (species.length === 0 || views.length === 0) return new Set();
    if (scope.species !== null) where.push(sql`a.species IN (${sql.join(species)})`);
    if (scope.viewpoint !== null) where.push(sql`a.viewpoint IN (${sql.join(views)})`);
  }
  if (scope.location !== null) where.push(sql`p.location = ${scope.location}`);
  if (scope.from !== null) where.push(sql`substr(p.taken_on, 1, 10) >= ${scope.from}`);
  if (scope.to !== null) where.push(sql`substr(p.taken_on, 1, 10) <= ${scope.to}`);
  const id = sql`CASE WHEN ${sql.ref('a.ordinal')} = 0 THEN ${sql.ref('p.id')} ELSE -${sql.ref('a.id')} END`;
  let row = sql`${id} || ''`;
  if (scope.near) {
    const b = boundingBox(scope.near);
    where.push(sql`p.latitude BETWEEN ${b.minLat} AND ${b.maxLat}`);
    if (b.lon) where.push(sql`p.longitude BETWEEN ${b.lon.min} AND ${b.lon.max}`);
    else where.push(sql`p.longitude IS NOT NULL`);
    row = sql`${id} || ' ' || ${num(db, 'p.latitude')} || ' ' || ${num(db, 'p.longitude')}`;
  }
  const result = await sql<{ g: string | null }>`SELECT string_agg(${row}, ';') AS g FROM annotations a INNER JOIN photos p ON p.id = a.photo_id INNER JOIN individuals i ON i.id = a.individual_id WHERE ${sql.join(where, sql` AND `)}`.execute(db.q());
  const text = result.rows[0]?.g;
  const out = new Set<number>();
  if (!text) return out;
  for (const item of text.split(';')) {
    if (!scope.near) {
      out.add(Number(item));
      continue;
    }
    const [id, lat, lon] = item.split(' ').map(Number);
    if (haversineKm(scope.near.latitude, scope.near.longitude, lat, lon) <= scope.near.km) out.add(id);
  }
  return out;
}
