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
  return text.split(';').map((r) => {
    const f = r.split(' ');
    const n = f.map(Number);
    if ((f.length !== 2 && f.length !== 6) || n.some((x) => !Number.isFinite(x))) throw new Error(`gallery: unexpected packed row '${r.slice(0, 80)}'`);
    return { photoId: n[0], individualId: n[1], boxKey: f.length === 6 ? boxKey({ x0: n[2], y0: n[3], x1: n[4], y1: n[5] }) : '' };
  });
}
