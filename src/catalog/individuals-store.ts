import { WhaleidError } from '../util/errors.js';
import { likePattern, now, pageArgs, type CatalogDb } from './catalog-db.js';
import { individualOf, insertSql, type IndividualRow } from './catalog-rows.js';
import type { IndividualRecord, Page } from './catalog-types.js';
import { NotFoundError } from './not-found-error.js';
import { textField } from './text-fields.js';

/** The individuals of a catalog, as the catalog's users see them. */
export interface IndividualsStore {
  /** Creates an individual; `null` name: the next free automatic name (W00001, ...). */
  createIndividual(name: string | null, notes: string, by: string): IndividualRecord;
  individual(id: number): IndividualRecord;
  individualByName(name: string): IndividualRecord | undefined;
  listIndividuals(q: { search?: string; limit?: number; offset?: number }): Page<IndividualRecord>;
  updateIndividual(id: number, change: { name?: string; notes?: string }): IndividualRecord;
}

/** {@link IndividualsStore} and what the other stores use inside their own writes. */
export interface Individuals {
  readonly api: IndividualsStore;
  /** Inserts an individual (call inside a write). */
  insert(name: string | null, notes: string, by: string): IndividualRecord;
  /** The individual, refused when it was merged into another. */
  live(id: number): IndividualRecord;
  /** The live individual a name leads to (following merges), created when none has it (inside a write). */
  resolveName(name: string, by: string): { individual: IndividualRecord; created: boolean };
  /** The individual an id leads to after merges. */
  current(id: number): IndividualRecord;
  /** Marks `sourceId` merged into `targetId` (inside a write). */
  markMerged(targetId: number, sourceId: number): void;
}

const autoName = (k: number): string => `W${String(k).padStart(5, '0')}`;

/**
 * The individuals store: names unique, automatic names, notes, merge marks.
 *
 * @param db - the catalog's connection
 * @returns the store and its helpers for the other stores
 * @example
 * const individuals = createIndividuals(db);
 * individuals.api.createIndividual('Salt', '', 'ann');
 */
export function createIndividuals(db: CatalogDb): Individuals {
  const { sql } = db;
  const withCount = `SELECT i.*, (SELECT COUNT(*) FROM photos p WHERE p.individual_id = i.id) AS photo_count,
    (SELECT MAX(p.taken_on) FROM photos p WHERE p.individual_id = i.id) AS last_seen,
    (SELECT MIN(p.id) FROM photos p WHERE p.individual_id = i.id) AS cover_photo_id FROM individuals i`;
  const getIndividual = sql.prepare<[number], IndividualRow>(`${withCount} WHERE i.id = ?`);
  const getByName = sql.prepare<[string], IndividualRow>('SELECT * FROM individuals WHERE name = ?');
  const insertRow = sql.prepare(insertSql('individuals', ['name', 'notes', 'created_at', 'created_by']));

  const individual = (id: number): IndividualRecord => {
    const r = getIndividual.get(id);
    if (!r) throw new NotFoundError(`individual ${id} not found`);
    return individualOf(r);
  };
  const live = (id: number): IndividualRecord => {
    const ind = individual(id);
    if (ind.mergedInto !== null) throw new WhaleidError(`individual ${id} (${ind.name}) was merged into ${ind.mergedInto}; use that one`);
    return ind;
  };
  const current = (id: number): IndividualRecord => {
    let ind = individual(id);
    while (ind.mergedInto !== null) ind = individual(ind.mergedInto);
    return ind;
  };
  const insert = (name: string | null, notes: string, by: string): IndividualRecord => {
    const n = textField('notes', notes, 10_000, true);
    const who = textField('by', by, 100, true);
    let finalName: string;
    if (name === null) {
      // automatic names W00001, W00002, ...: the next free one after the highest id
      let k = (sql.prepare('SELECT COALESCE(MAX(id), 0) AS m FROM individuals').get() as { m: number }).m + 1;
      while (getByName.get(autoName(k))) k++;
      finalName = autoName(k);
    } else {
      finalName = textField('name', name, 200);
      if (getByName.get(finalName)) throw new WhaleidError(`an individual named ${JSON.stringify(finalName)} exists already`);
    }
    const info = insertRow.run({ name: finalName, notes: n, created_at: now(), created_by: who });
    return individual(Number(info.lastInsertRowid));
  };

  const api: IndividualsStore = {
    createIndividual: (name, notes, by) => db.write(() => insert(name, notes, by)),
    individual,
    individualByName: (name) => {
      const r = getByName.get(name);
      return r ? individualOf(r) : undefined;
    },
    listIndividuals(q) {
      const args: string[] = [];
      let w = 'WHERE merged_into IS NULL';
      if (q.search) {
        w += " AND (name LIKE ? ESCAPE '\\' OR notes LIKE ? ESCAPE '\\')";
        const like = likePattern(q.search);
        args.push(like, like);
      }
      const total = (sql.prepare(`SELECT COUNT(*) AS n FROM individuals ${w}`).get(...args) as { n: number }).n;
      const items = sql.prepare<unknown[], IndividualRow>(`${withCount} ${w} ORDER BY i.name LIMIT ? OFFSET ?`).all(...args, ...pageArgs(q)).map(individualOf);
      return { total, items };
    },
    updateIndividual: (id, change) => db.write(() => {
      const ind = individual(id);
      const name = change.name === undefined ? ind.name : textField('name', change.name, 200);
      const notes = change.notes === undefined ? ind.notes : textField('notes', change.notes, 10_000, true);
      const other = getByName.get(name);
      if (other && other.id !== id) throw new WhaleidError(`an individual named ${JSON.stringify(name)} exists already`);
      sql.prepare('UPDATE individuals SET name = ?, notes = ? WHERE id = ?').run(name, notes, id);
      return individual(id);
    }),
  };

  return {
    api,
    insert,
    live,
    current,
    resolveName(name, by) {
      const known = getByName.get(name);
      if (known) return { individual: current(known.id), created: false };
      return { individual: insert(name, '', by), created: true };
    },
    markMerged: (targetId, sourceId) => {
      sql.prepare('UPDATE individuals SET merged_into = ? WHERE id = ?').run(targetId, sourceId);
    },
  };
}
