import { WhaleidError } from '../util/errors.js';
import { sql } from 'kysely';
import { containsText, now, pageArgs, type CatalogDb } from './catalog-db.js';
import { individualOf, type IndividualRow } from './catalog-rows.js';
import type { IndividualRecord, Page } from './catalog-types.js';
import { NotFoundError } from './not-found-error.js';
import { textField } from './text-fields.js';

/** The individuals of a catalog, as the catalog's users see them. */
export interface IndividualsStore {
  /** Creates an individual; `null` name: the next free automatic name (W00001, ...). */
  createIndividual(name: string | null, notes: string, by: string): Promise<IndividualRecord>;
  individual(id: number): Promise<IndividualRecord>;
  individualByName(name: string): Promise<IndividualRecord | undefined>;
  listIndividuals(q: { search?: string; limit?: number; offset?: number }): Promise<Page<IndividualRecord>>;
  updateIndividual(id: number, change: { name?: string; notes?: string }): Promise<IndividualRecord>;
}

/** {@link IndividualsStore} and what the other stores use inside their own writes. */
export interface Individuals {
  readonly api: IndividualsStore;
  /** Inserts an individual (call inside a write). */
  insert(name: string | null, notes: string, by: string): Promise<IndividualRecord>;
  /** The individual, refused when it was merged into another. */
  live(id: number): Promise<IndividualRecord>;
  /** The live individual a name leads to (following merges), created when none has it (inside a write). */
  resolveName(name: string, by: string): Promise<{ individual: IndividualRecord; created: boolean }>;
  /** The individual an id leads to after merges. */
  current(id: number): Promise<IndividualRecord>;
  /** Marks `sourceId` merged into `targetId` (inside a write). */
  markMerged(targetId: number, sourceId: number): Promise<void>;
}

const autoName = (k: number): string => `W${String(k).padStart(5, '0')}`;

/**
 * The individuals store: names unique, automatic names, notes, merge marks.
 *
 * @param db - the catalog's database
 * @returns the store and its helpers for the other stores
 * @example
 * const individuals = createIndividuals(db);
 * await individuals.api.createIndividual('Salt', '', 'ann');
 */
export function createIndividuals(db: CatalogDb): Individuals {
  // each individual with its photo count, last date seen and cover photo
  const withCount = () => db.q().selectFrom('individuals as i').selectAll('i').select((eb) => [
    eb.selectFrom('photos as p').whereRef('p.individual_id', '=', 'i.id').select((e) => e.fn.countAll<number>().as('n')).as('photo_count'),
    eb.selectFrom('photos as p').whereRef('p.individual_id', '=', 'i.id').select((e) => e.fn.max('p.taken_on').as('d')).as('last_seen'),
    eb.selectFrom('photos as p').whereRef('p.individual_id', '=', 'i.id').select((e) => e.fn.min('p.id').as('m')).as('cover_photo_id'),
  ]);
  const byName = (name: string) => db.q().selectFrom('individuals').selectAll().where('name', '=', name).executeTakeFirst();
  const counted = (r: Omit<IndividualRow, 'photo_count'> & { photo_count: number | string | null }): IndividualRecord => individualOf({ ...r, photo_count: Number(r.photo_count ?? 0) });

  const individual = async (id: number): Promise<IndividualRecord> => {
    const r = await withCount().where('i.id', '=', id).executeTakeFirst();
    if (!r) throw new NotFoundError(`individual ${id} not found`);
    return counted(r);
  };
  const live = async (id: number): Promise<IndividualRecord> => {
    const ind = await individual(id);
    // the end of the merge chain: the one it was merged into may have been merged in turn
    if (ind.mergedInto !== null) throw new WhaleidError(`individual ${id} (${ind.name}) was merged into ${(await current(ind.mergedInto)).id}; use that one`);
    return ind;
  };
  const current = async (id: number): Promise<IndividualRecord> => {
    let ind = await individual(id);
    while (ind.mergedInto !== null) ind = await individual(ind.mergedInto);
    return ind;
  };
  const insert = async (name: string | null, notes: string, by: string): Promise<IndividualRecord> => {
    const n = textField('notes', notes, 10_000, true);
    const who = textField('by', by, 100, true);
    let finalName: string;
    if (name === null) {
      // automatic names W00001, W00002, ...: the next free one after the highest id
      const top = await db.q().selectFrom('individuals').select((eb) => eb.fn.max('id').as('m')).executeTakeFirst();
      let k = Number(top?.m ?? 0) + 1;
      while (await byName(autoName(k))) k++;
      finalName = autoName(k);
    } else {
      finalName = textField('name', name, 200, false, 'name');
      if (await byName(finalName)) throw new WhaleidError(`an individual named ${JSON.stringify(finalName)} exists already`);
    }
    const { id } = await db.q().insertInto('individuals').values({ name: finalName, notes: n, created_at: now(), created_by: who }).returning('id').executeTakeFirstOrThrow();
    return individual(id);
  };

  const api: IndividualsStore = {
    createIndividual: (name, notes, by) => db.write(() => insert(name, notes, by)),
    individual,
    individualByName: async (name) => {
      const r = await byName(name);
      return r ? individualOf(r) : undefined;
    },
    async listIndividuals(q) {
      const alive = sql<boolean>`${sql.ref('i.merged_into')} IS NULL`;
      const where = q.search ? sql<boolean>`${alive} AND (${containsText('i.name', q.search)} OR ${containsText('i.notes', q.search)})` : alive;
      const [limit, offset] = pageArgs(q);
      const total = await db.q().selectFrom('individuals as i').where(where).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      const items = await withCount().where(where).orderBy('i.name').limit(limit).offset(offset).execute();
      return { total: Number(total.n), items: items.map(counted) };
    },
    updateIndividual: (id, change) => db.write(async () => {
      const ind = await individual(id);
      const name = change.name === undefined ? ind.name : textField('name', change.name, 200, false, 'name');
      const notes = change.notes === undefined ? ind.notes : textField('notes', change.notes, 10_000, true);
      const other = await byName(name);
      if (other && other.id !== id) throw new WhaleidError(`an individual named ${JSON.stringify(name)} exists already`);
      await db.q().updateTable('individuals').set({ name, notes }).where('id', '=', id).execute();
      return individual(id);
    }),
  };

  return {
    api,
    insert,
    live,
    current,
    async resolveName(name, by) {
      const known = await byName(name);
      if (known) return { individual: await current(known.id), created: false };
      return { individual: await insert(name, '', by), created: true };
    },
    markMerged: async (targetId, sourceId) => {
      await db.q().updateTable('individuals').set({ merged_into: targetId }).where('id', '=', sourceId).execute();
    },
  };
}
