/**
 * The new_whale threshold of prediction when it is not the run's calibrated one: the threshold
 * that gives a target share of queries new_whale as their first answer.
 */

/**
 * The threshold that makes a target share of queries get new_whale as their first answer: the
 * matching quantile of each query's best score (no labels needed; Kaggle teams used ~28%).
 *
 * @param scores - nq*nk scores
 * @param nk - known photos
 * @param share - target share in [0, 1]
 * @returns the threshold
 * @example
 * thresholdForNewShare(result.scores, known.length, 0.28);
 */
export function thresholdForNewShare(scores: Float32Array, nk: number, share: number): number {
  const nq = nk ? scores.length / nk : 0;
  if (nq === 0) return 0.5;
  const best = Array.from({ length: nq }, (_, q) => {
    let m = -Infinity;
    for (let j = 0; j < nk; j++) m = Math.max(m, scores[q * nk + j]);
    return m;
  }).sort((a, b) => a - b);
  const k = Math.min(nq - 1, Math.max(0, Math.round(share * nq)));
  // new_whale first <=> best < threshold: put the threshold just above the k-th best score
  return k === 0 ? best[0] : (best[k - 1] + best[k]) / 2;
}
