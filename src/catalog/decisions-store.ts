import { WhaleidError } from '../util/errors.js';
import type { CatalogDb } from './catalog-db.js';
import type { DecisionContext, DecisionRecord, IndividualRecord } from './catalog-types.js';
import type { DecisionLog } from './decision-log.js';
import type { Individuals } from './individuals-store.js';
import type { Photos } from './photos-store.js';

/** What people decide about photos and individuals, each recorded with who, when and which model. */
export interface DecisionsStore extends Pick<DecisionLog, 'decisions' | 'countDecisions'> {
  /** Assigns a photo to an individual (a person confirmed the match). */
  confirm(photoId: number, individualId: number, ctx: DecisionContext): Promise<DecisionRecord>;
  /** Creates an individual for the photo and assigns it, in one transaction. */
  newIndividual(photoId: number, name: string | null, notes: string, ctx: DecisionContext): Promise<{ individual: IndividualRecord; decision: DecisionRecord }>;
  /** Sets the photo aside; like every decision it replaces the photo's earlier one (an identified photo leaves its individual). */
  skip(photoId: number, ctx: DecisionContext): Promise<DecisionRecord>;
  /**
   * Reverts the photo's last decision still in force (confirm, new individual or skip): the photo
   * returns to its state before it (pending, skipped, or its earlier individual, followed through
   * merges). Recorded as an `undo` naming the decision; undoing again goes one further back. An
   * individual the reverted decision created stays, without that photo.
   * @throws {@link WhaleidError} when the photo has no such decision (an import is where it came from)
   */
  undo(photoId: number, ctx: DecisionContext): Promise<DecisionRecord>;
  /** Moves every photo of `sourceId` to `targetId` and marks the source merged. */
  merge(targetId: number, sourceId: number, ctx: DecisionContext): Promise<DecisionRecord>;
}

/** A photo's decisions still in force, oldest first: neither undos nor undone. */
function inForce(history: readonly DecisionRecord[]): DecisionRecord[] {
  const undone = new Set(history.filter((d) => d.action === 'undo').map((d) => d.undoes));
  return history.filter((d) => d.action !== 'undo' && !undone.has(d.id));
}

/**
 * The decisions store: each decision changes photos and individuals and appends to the log in
 * one transaction, so the log always explains the catalog's state.
 *
 * @param db - the catalog's database
 * @param deps - the photos and individuals it changes, the log it appends to
 * @returns the store
 * @example
 * const decisions = createDecisions(db, { photos, individuals, log });
 * await decisions.confirm(12, 3, { by: 'ann', score: 0.97 });
 */
export function createDecisions(db: CatalogDb, deps: { photos: Photos; individuals: Individuals; log: DecisionLog }): DecisionsStore {
  const { photos, individuals, log } = deps;
  return {
    confirm: (photoId, individualId, ctx) => db.write(async () => {
      await photos.api.photo(photoId);
      await individuals.live(individualId);
      await photos.assign(photoId, individualId, 'identified');
      return log.record(photoId, 'confirm', individualId, null, ctx);
    }),
    newIndividual: (photoId, name, notes, ctx) => db.write(async () => {
      await photos.api.photo(photoId);
      const ind = await individuals.insert(name, notes, ctx.by);
      await photos.assign(photoId, ind.id, 'identified');
      const decision = await log.record(photoId, 'new-individual', ind.id, null, ctx);
      return { individual: await individuals.api.individual(ind.id), decision };
    }),
    skip: (photoId, ctx) => db.write(async () => {
      await photos.api.photo(photoId);
      await photos.assign(photoId, null, 'skipped');
      return log.record(photoId, 'skip', null, null, ctx);
    }),
    undo: (photoId, ctx) => db.write(async () => {
      await photos.api.photo(photoId);
      const live = inForce(await log.history(photoId));
      const last = live.at(-1);
      if (!last || last.action === 'import') throw new WhaleidError(`photo ${photoId}: no decision to undo${last ? ' (only its import, which is where it came from)' : ''}`);
      const before = live.at(-2);
      const individualId = before && before.action !== 'skip' ? (await individuals.current(before.individualId!)).id : null;
      await photos.assign(photoId, individualId, before === undefined ? 'pending' : before.action === 'skip' ? 'skipped' : 'identified');
      return log.record(photoId, 'undo', individualId, last.individualId, ctx, last.id);
    }),
    merge: (targetId, sourceId, ctx) => db.write(async () => {
      if (targetId === sourceId) throw new WhaleidError('cannot merge an individual into itself');
      await individuals.live(targetId);
      await individuals.live(sourceId);
      await photos.moveAll(targetId, sourceId);
      await individuals.markMerged(targetId, sourceId);
      return log.record(null, 'merge', targetId, sourceId, ctx);
    }),
    decisions: (q) => log.decisions(q),
    countDecisions: (action) => log.countDecisions(action),
  };
}
