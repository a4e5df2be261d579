import { now, pageArgs, type CatalogDb } from './catalog-db.js';
import { decisionOf, insertSql, type DecisionRow } from './catalog-rows.js';
import type { DecisionContext, DecisionRecord } from './catalog-types.js';
import { textField } from './text-fields.js';

/** The decision log: every import, confirmation, new individual, skip, merge and undo, with who and which model. */
export interface DecisionLog {
  /** Appends a decision (call inside a write); `undoes`: the decision an undo reverts. */
  record(photoId: number | null, action: DecisionRecord['action'], individualId: number | null, other: number | null, ctx: DecisionContext, undoes?: number): DecisionRecord;
  /** Every decision of a photo, oldest first. */
  history(photoId: number): DecisionRecord[];
  /** The newest decisions (of one photo when `photoId` is given), newest first. */
  decisions(q: { photoId?: number; limit?: number }): DecisionRecord[];
  /** How many decisions the log holds (of one action when given). */
  countDecisions(action?: DecisionRecord['action']): number;
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
 * @param db - the catalog's connection
 * @returns the log
 * @example
 * const log = createDecisionLog(db);
 * db.write(() => log.record(1, 'confirm', 3, null, { by: 'ann' }));
 */
export function createDecisionLog(db: CatalogDb): DecisionLog {
  const { sql } = db;
  const insert = sql.prepare(insertSql('decisions', ['photo_id', 'action', 'individual_id', 'other_individual_id', 'score', 'model_version', 'decided_by', 'decided_at', 'undoes']));
  const getDecision = sql.prepare<[number | bigint], DecisionRow>('SELECT * FROM decisions WHERE id = ?');
  const newest = sql.prepare<[number], DecisionRow>('SELECT * FROM decisions ORDER BY id DESC LIMIT ?');
  const ofPhoto = sql.prepare<[number], DecisionRow>('SELECT * FROM decisions WHERE photo_id = ? ORDER BY id');
  const newestOfPhoto = sql.prepare<[number, number], DecisionRow>('SELECT * FROM decisions WHERE photo_id = ? ORDER BY id DESC LIMIT ?');
  return {
    record(photoId, action, individualId, other, ctx, undoes) {
      const info = insert.run({
        photo_id: photoId, action, individual_id: individualId, other_individual_id: other, score: ctx.score ?? null,
        model_version: ctx.modelVersion ?? null, decided_by: textField('by', ctx.by, 100), decided_at: now(), undoes: undoes ?? null,
      });
      return decisionOf(getDecision.get(info.lastInsertRowid)!);
    },
    history: (photoId) => ofPhoto.all(photoId).map(decisionOf),
    decisions(q) {
      const [limit] = pageArgs(q);
      const rows = q.photoId === undefined ? newest.all(limit) : newestOfPhoto.all(q.photoId, limit);
      return rows.map(decisionOf);
    },
    countDecisions(action) {
      const count = action === undefined ? sql.prepare('SELECT COUNT(*) AS n FROM decisions').get() : sql.prepare('SELECT COUNT(*) AS n FROM decisions WHERE action = ?').get(action);
      return (count as { n: number }).n;
    },
  };
}
