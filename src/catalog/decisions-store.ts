import { WhaleidError } from '../util/errors.js';
import type { CatalogDb } from './catalog-db.js';
import type { DecisionContext, DecisionRecord, IndividualRecord, PhotoStatus } from './catalog-types.js';
import type { Annotations } from './annotations-store.js';
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
  /**
   * A decision about one annotation of a photo: confirm, new individual, skip or undo, as the
   * photo's own decisions, setting that annotation's individual and recording the annotation. The
   * photo's first annotation is the photo (its decisions are the photo's: status and individual
   * change with it); a further one has no review state of its own: skip leaves it without an
   * individual, undo returns it to the individual before its last decision in force.
   * @throws {@link NotFoundError} when the photo has no such annotation; {@link WhaleidError} as the photo's decisions
   */
  decideAnnotation(photoId: number, annotationId: number, decision: AnnotationDecision, ctx: DecisionContext): Promise<{ decision: DecisionRecord; individual?: IndividualRecord }>;
}

/** What {@link DecisionsStore.decideAnnotation} decides. */
export type AnnotationDecision =
  | { action: 'confirm'; individualId: number }
  | { action: 'new-individual'; name: string | null; notes: string }
  | { action: 'skip' }
  | { action: 'undo' };

/** The annotation a decision is about, and whether it is its photo's first (the photo itself). */
interface Target {
  photoId: number;
  annotationId: number;
  first: boolean;
}

/** An annotation's decisions still in force, oldest first: neither undos nor undone. */
function inForce(history: readonly DecisionRecord[]): DecisionRecord[] {
  const undone = new Set(history.filter((d) => d.action === 'undo').map((d) => d.undoes));
  return history.filter((d) => d.action !== 'undo' && !undone.has(d.id));
}

/**
 * The decisions store: each decision changes photos and individuals and appends to the log in
 * one transaction, so the log always explains the catalog's state.
 *
 * @param db - the catalog's database
 * @param deps - the photos, annotations and individuals it changes, the log it appends to
 * @returns the store
 * @example
 * const decisions = createDecisions(db, { photos, individuals, log, annotations });
 * await decisions.confirm(12, 3, { by: 'ann', score: 0.97 });
 */
export function createDecisions(db: CatalogDb, deps: { photos: Photos; individuals: Individuals; log: DecisionLog; annotations: Annotations }): DecisionsStore {
  const { photos, individuals, log, annotations } = deps;
  /** The annotation a decision is about: the photo's first (the photo) unless another is named. */
  const targetOf = async (photoId: number, annotationId?: number): Promise<Target> => {
    if (annotationId === undefined) {
      await photos.api.photo(photoId);
      return { photoId, annotationId: (await annotations.api.annotations(photoId))[0].id, first: true };
    }
    const a = await annotations.api.annotation(photoId, annotationId);
    return { photoId, annotationId, first: a.ordinal === 0 };
  };
  /** Sets the target's individual: the photo's (with its review state, mirrored to its first annotation) or a further annotation's own. */
  const assign = async (t: Target, individualId: number | null, status: PhotoStatus): Promise<void> => {
    if (t.first) await photos.assign(t.photoId, individualId, status);
    else await annotations.assignIndividual(t.annotationId, individualId);
  };
  const confirm = async (t: Target, individualId: number, ctx: DecisionContext): Promise<DecisionRecord> => {
    await individuals.live(individualId);
    await assign(t, individualId, 'identified');
    return log.record(t.photoId, 'confirm', individualId, null, ctx, undefined, t.annotationId);
  };
  const newIndividual = async (t: Target, name: string | null, notes: string, ctx: DecisionContext): Promise<{ individual: IndividualRecord; decision: DecisionRecord }> => {
    const ind = await individuals.insert(name, notes, ctx.by);
    await assign(t, ind.id, 'identified');
    const decision = await log.record(t.photoId, 'new-individual', ind.id, null, ctx, undefined, t.annotationId);
    return { individual: await individuals.api.individual(ind.id), decision };
  };
  const skip = async (t: Target, ctx: DecisionContext): Promise<DecisionRecord> => {
    await assign(t, null, 'skipped');
    return log.record(t.photoId, 'skip', null, null, ctx, undefined, t.annotationId);
  };
  const undo = async (t: Target, ctx: DecisionContext): Promise<DecisionRecord> => {
    const live = inForce(await log.history(t.annotationId));
    const last = live.at(-1);
    const what = t.first ? `photo ${t.photoId}` : `annotation ${t.annotationId} of photo ${t.photoId}`;
    if (!last || last.action === 'import') throw new WhaleidError(`${what}: no decision to undo${last ? ' (only its import, which is where it came from)' : ''}`);
    const before = live.at(-2);
    const individualId = before && before.action !== 'skip' ? (await individuals.current(before.individualId!)).id : null;
    await assign(t, individualId, before === undefined ? 'pending' : before.action === 'skip' ? 'skipped' : 'identified');
    return log.record(t.photoId, 'undo', individualId, last.individualId, ctx, last.id, t.annotationId);
  };
  return {
    confirm: (photoId, individualId, ctx) => db.write(async () => confirm(await targetOf(photoId), individualId, ctx)),
    newIndividual: (photoId, name, notes, ctx) => db.write(async () => newIndividual(await targetOf(photoId), name, notes, ctx)),
    skip: (photoId, ctx) => db.write(async () => skip(await targetOf(photoId), ctx)),
    undo: (photoId, ctx) => db.write(async () => undo(await targetOf(photoId), ctx)),
    decideAnnotation: (photoId, annotationId, d, ctx) => db.write(async () => {
      const t = await targetOf(photoId, annotationId);
      if (d.action === 'confirm') return { decision: await confirm(t, d.individualId, ctx) };
      if (d.action === 'new-individual') return newIndividual(t, d.name, d.notes, ctx);
      return { decision: d.action === 'skip' ? await skip(t, ctx) : await undo(t, ctx) };
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
