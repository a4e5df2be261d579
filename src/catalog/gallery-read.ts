import { sql } from 'kysely';
import { boxKey } from './box-key.js';
import type { CatalogDb } from './catalog-db.js';

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
  const num = (column: string) => (db.backend === 'postgres' ? sql`${sql.ref(column)}::text` : sql`printf('%!.17g', ${sql.ref(column)})`);
  const row = sql`${sql.ref('p.id')} || ' ' || ${sql.ref('p.individual_id')} || CASE WHEN ${sql.ref('p.box_x0')} IS NULL THEN '' ELSE ' ' || ${num('p.box_x0')} || ' ' || ${num('p.box_y0')} || ' ' || ${num('p.box_x1')} || ' ' || ${num('p.box_y1')} END`;
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
