import type { Prediction } from '../data/submission.js';
import { SUBMISSION_K } from '../data/submission.js';
import { WhaleidError } from '../util/errors.js';

/** One submission taking part in a vote, with its (leaderboard or validation) score. */
export interface WeightedSubmission {
  name: string;
  score: number;
  predictions: readonly Prediction[];
}

/**
 * Rank-vote ensemble of submissions, as in the method: a submission weighs its score squared; its
 * prediction at 0-based rank r adds weight/(r+1) to that id; the 5 ids with the largest sums win.
 * Ties are broken deterministically: the id that reached its best rank earliest (smallest best
 * rank), then the id first seen in argument order, so the output never depends on hash order.
 *
 * @param submissions - two or more submissions over the same photos
 * @returns the combined predictions, in the first submission's photo order
 * @throws {@link WhaleidError} when the submissions cover different photos, or a score is not positive
 * @example
 * ensembleSubmissions([{ name: 'a', score: 0.9, predictions: a }, { name: 'b', score: 0.91, predictions: b }]);
 */
export function ensembleSubmissions(submissions: readonly WeightedSubmission[]): Prediction[] {
  if (submissions.length === 0) throw new WhaleidError('ensemble needs at least one submission');
  for (const s of submissions) {
    if (!(s.score > 0) || !Number.isFinite(s.score)) throw new WhaleidError(`${s.name}: score must be a positive number but is ${s.score}`);
  }
  const first = submissions[0];
  const maps = submissions.map((s) => new Map(s.predictions.map((p) => [p.image, p.ids])));
  for (let i = 1; i < submissions.length; i++) {
    const m = maps[i];
    const missing = first.predictions.filter((p) => !m.has(p.image)).map((p) => p.image);
    const extra = submissions[i].predictions.filter((p) => !maps[0].has(p.image)).map((p) => p.image);
    if (missing.length || extra.length) {
      throw new WhaleidError(
        `${submissions[i].name} and ${first.name} cover different photos: ${missing.length} missing (e.g. ${missing.slice(0, 3).join(', ') || '-'}), ` +
          `${extra.length} extra (e.g. ${extra.slice(0, 3).join(', ') || '-'})`,
      );
    }
  }
  return first.predictions.map(({ image }) => {
    const votes = new Map<string, { sum: number; bestRank: number; order: number }>();
    let order = 0;
    submissions.forEach((s, si) => {
      const w = s.score * s.score;
      const ids = maps[si].get(image)!.slice(0, SUBMISSION_K);
      ids.forEach((id, r) => {
        if (ids.indexOf(id) !== r) return; // a repeated id votes once, at its first rank
        const v = votes.get(id) ?? { sum: 0, bestRank: r, order: order++ };
        v.sum += w / (r + 1);
        v.bestRank = Math.min(v.bestRank, r);
        votes.set(id, v);
      });
    });
    const ranked = [...votes.entries()].sort(
      (a, b) => b[1].sum - a[1].sum || a[1].bestRank - b[1].bestRank || a[1].order - b[1].order,
    );
    return { image, ids: ranked.slice(0, SUBMISSION_K).map(([id]) => id) };
  });
}
