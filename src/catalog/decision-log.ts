import { now, pageArgs, type CatalogDb } from './catalog-db.js';
import { decisionOf } from './catalog-rows.js';
import type { DecisionContext, DecisionRecord } from './catalog-types.js';
import { textField } from './text-fields.js';

/** The decision log: every import, confirmation, new individual, skip, merge and undo, with who and which model. */
export interface DecisionLog {
  /**
   * Appends a decision (call inside a write); `undoes`: the decision an undo reverts; `annotationId`:
   * the annotation it is about, by default the photo's first (a photo's own decisions are its first annotation's).
   */
  record(photoId: number | null, action: DecisionRecord['action'], individualId: number | null, other: number | null, ctx: DecisionContext, undoes?: number, annotationId?: number): Promise<DecisionRecord>;
  /** Every decision about an annotation, oldest first. */
  history(annotationId: number): Promise<DecisionRecord[]>;
  /** The newest decisions (of one photo when `photoId` is given), newest first. */
  decisions(q: { photoId?: number; limit?: number }): Promise<DecisionRecord[]>;
  /** How many decisions the log holds (of one action when given). */
  countDecisions(action?: DecisionRecord['action']): Promise<number>;
}

/**
 * Who a decision is recorded under: the name the client gave with it, else the user header the
 * review page sends, else `anonymous`. Names are claims, not identities: the write token says
 * that a change is allowed, the name only who says they made it.
 *
 * @param given - the decision's own `by` field, if any
 * @param user - the client's user header, if any
 * @returns the name to record
 * @example
 * decisionAuthor(undefined, 'ann'); // 'ann'
 */
export function decisionAuthor(given: unknown, user: unknown): string {
  if (typeof given === 'string' && given.trim()) return given;
  return typeof user === 'string' && user.trim() ? user : 'anonymous';
}

/**
 * Opens the decision log of a catalog.
 *
 * @param db - the catalog's database
 * @returns the log
 * @example
 * const log = createDecisionLog(db);
 * await db.write(() => log.record(1, 'confirm', 3, null, { by: 'ann' }));
 */
export function createDecisionLog(db: CatalogDb): DecisionLog {
  const decisions = () => db.q().selectFrom('decisions').selectAll();
  return {
    async record(photoId, action, individualId, other, ctx, undoes, annotationId) {
      const first = async (id: number): Promise<number | null> => (await db.q().selectFrom('annotations').select('id').where('photo_id', '=', id).where('ordinal', '=', 0).executeTakeFirst())?.id ?? null;
      const row = await db.q().insertInto('decisions').values({
        photo_id: photoId, action, individual_id: individualId, other_individual_id: other, score: ctx.score ?? null,
        model_version: ctx.modelVersion ?? null, decided_by: textField('by', ctx.by, 100), decided_at: now(), undoes: undoes ?? null,
        annotation_id: annotationId ?? (photoId === null ? null : await first(photoId)),
      }).returningAll().executeTakeFirstOrThrow();
      return decisionOf(row);
    },
    history: async (annotationId) => (await decisions().where('annotation_id', '=', annotationId).orderBy('id').execute()).map(decisionOf),
    async decisions(q) {
      const [limit] = pageArgs(q);
      let query = decisions();
      if (q.photoId !== undefined) query = query.where('photo_id', '=', q.photoId);
      return (await query.orderBy('id', 'desc').limit(limit).execute()).map(decisionOf);
    },
    async countDecisions(action) {
      let query = db.q().selectFrom('decisions').select((eb) => eb.fn.countAll<number>().as('n'));
      if (action !== undefined) query = query.where('action', '=', action);
      return Number((await query.executeTakeFirstOrThrow()).n);
    },
  };
}
