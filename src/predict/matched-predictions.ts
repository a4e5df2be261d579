/**
 * `whaleid predict --matcher local|fused`: the test photos identified by the local-feature
 * matcher alone, or by its score fused with the Siamese one, with the threshold and fusion that
 * `evaluate-open --matcher ...` calibrated on held-out individuals (`<out>.matcher.json`).
 */
import { promises as fs } from 'node:fs';
import type { Prediction } from '../data/submission.js';
import { NEW_WHALE } from '../data/labels.js';
import { fusedScores, matcherScores, parseFusionModel, type FusionModel, type MatchScores, type MatcherKind } from '../infer/fusion/fusion-model.js';
import { localSideFor, scoreGallery, type LocalSide } from '../infer/fusion/gallery-scores.js';
import { walkPredictions } from '../infer/walk.js';
import { invalidParameterError, WhaleidError } from '../util/errors.js';
import type { KnownPhoto, QueryPhoto } from './identify.js';

/** A matcher's calibration as `evaluate-open --matcher` writes it. */
export interface MatcherCalibrationFile {
  matcher: MatcherKind;
  threshold: number;
  fusion?: FusionModel;
}

/**
 * Reads and checks `<out>.matcher.json`.
 *
 * @param file - the calibration file
 * @param matcher - the matcher it must be for
 * @returns the calibration
 * @throws {@link WhaleidError} naming the file and the field that is missing or wrong
 */
export async function readMatcherCalibration(file: string, matcher: MatcherKind): Promise<MatcherCalibrationFile> {
  let value: Partial<MatcherCalibrationFile>;
  try {
    value = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<MatcherCalibrationFile>;
  } catch (err) {
    throw new WhaleidError(`${file}: cannot read the matcher calibration (${(err as Error).message.split('\n')[0]}); expected the .matcher.json written by evaluate-open --matcher ${matcher}`);
  }
  if (value.matcher !== matcher) throw new WhaleidError(`${file}: field matcher: expected "${matcher}" (a calibration of the matcher asked for), got ${JSON.stringify(value.matcher)}`);
  if (!Number.isFinite(value.threshold)) throw new WhaleidError(`${file}: field threshold: expected a number`);
  const fusion = matcher === 'fused' ? parseFusionModel(value.fusion, `${file} (fusion)`) : undefined;
  return { matcher, threshold: value.threshold as number, ...(fusion ? { fusion } : {}) };
}

/**
 * What a matcher makes of one query's per-individual scores: the score it ranks by (and puts
 * new_whale against the threshold with) and, when a fusion is at hand, the fused score. The one
 * place prediction and the service turn scores into a ranking.
 *
 * @param kind - the matcher
 * @param s - the query's Siamese and local scores per individual
 * @param fusion - the fitted fusion (needed for `fused`; shown beside the others when given)
 * @returns the ranking score and the fused score per individual (a copy: free to change)
 * @throws {@link WhaleidError} for `fused` without a fusion
 * @example
 * const { score, fused } = matcherRanking('fused', scores, calibration.fusion);
 */
export function matcherRanking(kind: MatcherKind, s: MatchScores, fusion?: FusionModel): { score: Float64Array; fused?: Float64Array } {
  const fused = fusion ? fusedScores(fusion, s) : undefined;
  const score = kind === 'fused' && fused ? Float64Array.from(fused) : Float64Array.from(matcherScores(kind, s, fusion));
  return { score, ...(fused ? { fused } : {}) };
}

/** A candidate of `<out>.top.json` with every score behind it. */
export interface MatchedCandidate {
  id: string;
  /** The photo shown for it: the local matcher's best verified photo, else the Siamese best. */
  image: string;
  /** The score the matcher ranks by. */
  score: number;
  siamese: number;
  local: number;
  /** Keypoints of `image` that agree with the query under one affine map (0: not verified). */
  inliers: number;
  fused?: number;
}

/** Inputs of {@link predictWithMatcher}. */
export interface MatchedPredictInput {
  matcher: Exclude<MatcherKind, 'siamese'>;
  known: readonly KnownPhoto[];
  queries: readonly QueryPhoto[];
  /** Siamese scores, queries x known photos (TTA-averaged; duplicates at 2), as identify gives them. */
  siameseScores: Float32Array;
  local: LocalSide;
  /** The fusion (required for `fused`). */
  fusion?: FusionModel;
  /** new_whale threshold on the matcher's score. */
  threshold: number;
  /** Candidates per query in the top list. */
  topK: number;
}

/**
 * Identifies queries with the local or the fused matcher: per individual, the Siamese score of
 * its best photo and the local score from one index over the known photos, then the matcher's
 * score and the walk with new_whale at the threshold. A query that duplicates a known photo
 * still gets that photo's individual first (above any score), as the Siamese path does.
 *
 * @param input - matcher, photos, Siamese scores, local side, fusion, threshold
 * @returns submission rows, per-individual scores (for a share-based threshold) and top candidates
 * @throws {@link WhaleidError} for `fused` without a fusion
 */
export async function predictWithMatcher(input: MatchedPredictInput): Promise<{ predictions: Prediction[]; scores: Float64Array[]; individuals: string[]; top: { image: string; candidates: MatchedCandidate[] }[] }> {
  if (input.matcher === 'fused' && !input.fusion) throw new WhaleidError('the fused matcher needs a fusion: pass the .matcher.json of evaluate-open --matcher fused');
  const nk = input.known.length;
  const g = await scoreGallery({
    queries: input.queries,
    gallery: input.known,
    galleryIds: input.known.map((k) => k.id),
    siamese: async () => input.siameseScores,
    local: input.local,
  });
  const predictions: Prediction[] = [];
  const scores: Float64Array[] = [];
  const top: { image: string; candidates: MatchedCandidate[] }[] = [];
  input.queries.forEach((q, qi) => {
    const s = g.scores[qi];
    const { score: per, fused } = matcherRanking(input.matcher, s, input.fusion);
    if (q.duplicateOf?.length) {
      const first = Math.max(0, ...per) + 1;
      for (const id of q.duplicateOf) if (g.individuals.includes(id)) per[g.individuals.indexOf(id)] = first;
    }
    scores.push(per);
    predictions.push({ image: q.image, ids: walkPredictions(per, g.individuals, input.threshold) });
    const order = Array.from(per, (_, i) => i).sort((a, b) => per[b] - per[a] || a - b).slice(0, input.topK);
    const best = g.local!.matches[qi].bestPhoto;
    top.push({
      image: q.image,
      candidates: order.map((i) => ({
        id: g.individuals[i],
        image: input.known[best[i] >= 0 ? best[i] : bestSiamesePhoto(input.siameseScores, qi, nk, g.individualOf, i)].image,
        score: per[i],
        siamese: s.siamese[i],
        local: s.local[i],
        inliers: g.local!.matches[qi].inliers[i],
        ...(fused ? { fused: fused[i] } : {}),
      })),
    });
  });
  return { predictions, scores, individuals: g.individuals, top };
}

function bestSiamesePhoto(scores: Float32Array, q: number, nk: number, individualOf: Int32Array, individual: number): number {
  let best = -1;
  for (let p = 0; p < nk; p++) if (individualOf[p] === individual && (best < 0 || scores[q * nk + p] > scores[q * nk + best])) best = p;
  return best;
}

/**
 * The threshold that puts new_whale first for a share of the queries, on per-individual scores.
 *
 * @param scores - per query, the matcher's score per individual
 * @param share - target share in [0, 1]
 * @returns the threshold
 * @throws {@link WhaleidError} for a share outside [0, 1]
 */
export function thresholdForShare(scores: readonly Float64Array[], share: number): number {
  if (!(share >= 0 && share <= 1)) throw invalidParameterError('newShare', 'a number between 0 and 1', share);
  const best = scores.map((s) => Math.max(-Infinity, ...s)).sort((a, b) => a - b);
  if (best.length === 0) return 0.5;
  const k = Math.min(best.length - 1, Math.max(0, Math.round(share * best.length)));
  return k === 0 ? best[0] : (best[k - 1] + best[k]) / 2;
}

/** What predictDataset hands over for `--matcher local|fused`. */
export interface MatcherRequest {
  matcher: Exclude<MatcherKind, 'siamese'>;
  /** `<out>.matcher.json` of evaluate-open (its threshold; the fusion for `fused`). */
  calibration?: string;
  threshold?: number;
  newShare?: number;
  topK?: number;
  cacheDir?: string;
  onMessage?: (line: string) => void;
}

/**
 * Replaces the Siamese predictions of predictDataset by the local or fused matcher's: threshold
 * from `threshold`, else from `newShare`, else from the calibration file.
 *
 * @param r - matcher, calibration file, threshold options, cache
 * @param known - known photos
 * @param queries - test photos
 * @param siameseScores - the Siamese scores identify computed
 * @returns predictions, top candidates with every score, and the threshold used
 * @throws {@link WhaleidError} when no threshold can be had or `fused` has no calibration file
 */
export async function applyMatcher(r: MatcherRequest, known: readonly KnownPhoto[], queries: readonly QueryPhoto[], siameseScores: Float32Array): Promise<{ predictions: Prediction[]; top: { image: string; candidates: MatchedCandidate[] }[]; threshold: number }> {
  const calibration = r.calibration ? await readMatcherCalibration(r.calibration, r.matcher) : undefined;
  if (r.matcher === 'fused' && !calibration) throw new WhaleidError('--matcher fused needs --matcher-calibration FILE: the .matcher.json that evaluate-open --matcher fused writes');
  if (r.threshold === undefined && r.newShare === undefined && !calibration) throw new WhaleidError(`--matcher ${r.matcher} needs a threshold: --threshold, --new-share, or --matcher-calibration FILE (evaluate-open --matcher ${r.matcher} writes one)`);
  r.onMessage?.(`matcher ${r.matcher}: keypoints of ${known.length + queries.length} photos (cached by content)`);
  const input = { matcher: r.matcher, known, queries, siameseScores, local: localSideFor(r.cacheDir), fusion: calibration?.fusion, topK: r.topK ?? 20 };
  const first = await predictWithMatcher({ ...input, threshold: r.threshold ?? calibration?.threshold ?? Infinity });
  if (r.threshold !== undefined || r.newShare === undefined) return { predictions: first.predictions, top: first.top, threshold: r.threshold ?? calibration!.threshold };
  const threshold = thresholdForShare(first.scores, r.newShare);
  const predictions = queries.map((q, qi) => ({ image: q.image, ids: walkPredictions(first.scores[qi], first.individuals, threshold) }));
  return { predictions, top: first.top, threshold };
}

/** Share of predictions answering new_whale first. */
export const newFirstShare = (p: readonly Prediction[]): number => p.filter((x) => x.ids[0] === NEW_WHALE).length / Math.max(1, p.length);
