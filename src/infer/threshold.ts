/**
 * The new-individual threshold: the one rule of where it comes from ({@link newIndividualThreshold}),
 * and the threshold that gives a target share of queries new_whale as their first answer.
 */
import { invalidParameterError, WhaleidError } from '../util/errors.js';
import { DEFAULT_NEW_WHALE_THRESHOLD } from './walk.js';

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

/** Where a new-individual threshold can come from, in the order {@link newIndividualThreshold} takes them. */
export interface ThresholdSources {
  /** Given by the person (`--threshold`). */
  given?: number;
  /** A share of queries to answer new first (`--new-share`): needs each query's best scores. */
  newShare?: number;
  /** The queries' per-individual scores, for `newShare`. */
  scores?: () => readonly Float64Array[];
  /** The matcher's calibration file (`evaluate-open --matcher` wrote it). */
  calibration?: { threshold: number };
  /**
   * The run's own validation threshold (used only by a matcher its run calibrates), with the
   * number of validation queries it was chosen on and their share of new individuals.
   */
  validation?: { threshold: number; queries?: number; newWhaleBaseline?: number } | null;
}

/** Fewer validation queries than this cannot place a threshold: one query moves MAP@5 by 5% or more. */
export const MIN_THRESHOLD_QUERIES = 20;

/** A threshold and where it came from, for the person reading the output. */
export interface ChosenThreshold {
  threshold: number;
  source: 'given' | 'new-share' | 'calibration' | 'run' | 'run-share' | 'default';
  /** Why the rule did not take the source a person would expect (for a warning line). */
  note?: string;
}

/**
 * The one rule for the new-individual threshold: the one given, else the one that answers a
 * share of queries new, else the matcher's calibration file, else (for a matcher its run
 * calibrates) the run's validation threshold (when it rests on fewer than
 * {@link MIN_THRESHOLD_QUERIES} queries and the scores are at hand, the one that answers new for
 * the validation's share of new individuals), else (for such a matcher) the method's default.
 * A matcher without any of these is refused rather than given a threshold that means nothing on
 * its scale (the local score is a sum of keypoint weights).
 *
 * @param matcher - the matcher's name and whether its run calibrates it
 * @param sources - what is at hand
 * @returns the threshold and its source
 * @throws {@link WhaleidError} when the matcher has no threshold to go by
 * @example
 * newIndividualThreshold({ kind: 'siamese', byRun: true }, { validation: run.validation }); // { threshold: 0.97, source: 'run' }
 */
export function newIndividualThreshold(matcher: { kind: string; byRun: boolean }, sources: ThresholdSources): ChosenThreshold {
  if (sources.given !== undefined) return { threshold: sources.given, source: 'given' };
  if (sources.newShare !== undefined && sources.scores) return { threshold: thresholdForShare(sources.scores(), sources.newShare), source: 'new-share' };
  if (sources.calibration) return { threshold: sources.calibration.threshold, source: 'calibration' };
  const v = sources.validation;
  if (matcher.byRun && v && v.queries !== undefined && v.queries < MIN_THRESHOLD_QUERIES && v.newWhaleBaseline !== undefined && sources.scores) {
    // a threshold chosen on a handful of queries can put new first for every photo: answer new
    // for the share of new individuals the validation saw instead
    const note = `the run's threshold ${v.threshold} rests on ${v.queries} validation queries (fewer than ${MIN_THRESHOLD_QUERIES}): the threshold used answers new first for their share of new individuals, ${(100 * v.newWhaleBaseline).toFixed(1)}%`;
    return { threshold: thresholdForShare(sources.scores(), v.newWhaleBaseline), source: 'run-share', note };
  }
  if (matcher.byRun && v) return { threshold: v.threshold, source: 'run' };
  if (matcher.byRun) return { threshold: DEFAULT_NEW_WHALE_THRESHOLD, source: 'default' };
  throw new WhaleidError(`--matcher ${matcher.kind} needs a threshold: --threshold, --new-share, or --matcher-calibration FILE (evaluate-open --matcher ${matcher.kind} writes one)`);
}

/**
 * The threshold that puts new first for a share of the queries, on per-individual scores.
 *
 * @param scores - per query, the matcher's score per individual
 * @param share - target share in [0, 1]
 * @returns the threshold
 * @throws {@link WhaleidError} for a share outside [0, 1]
 * @example
 * thresholdForShare([Float64Array.of(0.2, 0.9), Float64Array.of(0.4, 0.1)], 0.5); // 0.65
 */
export function thresholdForShare(scores: readonly Float64Array[], share: number): number {
  if (!(share >= 0 && share <= 1)) throw invalidParameterError('newShare', 'a number between 0 and 1', share);
  const best = scores.map((s) => s.reduce((m, v) => Math.max(m, v), -Infinity)).sort((a, b) => a - b);
  if (best.length === 0) return 0.5;
  const k = Math.min(best.length - 1, Math.max(0, Math.round(share * best.length)));
  return k === 0 ? best[0] : (best[k - 1] + best[k]) / 2;
}
