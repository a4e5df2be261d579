/**
 * `whaleid predict --matcher local|fused|fused-learned`: the test photos identified by the
 * local-feature matcher alone, by its score fused with one or several learned models' scores, or
 * by several learned models fused without it, with the threshold and fusion that
 * `evaluate-open --matcher ...` calibrated on held-out individuals (`<out>.matcher.json`).
 */
import type { Prediction } from '../data/submission.js';
import { NEW_WHALE } from '../data/labels.js';
import type { FusionModel } from '../infer/fusion/fusion-model.js';
import { localSideFor, scoreGallery, type LocalSide } from '../infer/fusion/gallery-scores.js';
import { matcherOf, type MatcherKind } from '../infer/matchers/matcher-registry.js';
import { checkCalibrationFor, type MatcherCalibration } from '../infer/matchers/matcher-calibration.js';
import { newIndividualThreshold } from '../infer/threshold.js';
import { walkPredictions } from '../infer/walk.js';
import type { KnownPhoto, QueryPhoto } from './identify.js';
import { WhaleidError } from '../util/errors.js';
import { groupsByMask } from './scoped-predictions.js';

/** A candidate of `<out>.top.json` with every score behind it. */
export interface MatchedCandidate {
  id: string;
  /** The photo shown for it: the local matcher's best verified photo, else the first learned model's best. */
  image: string;
  /** The score the matcher ranks by. */
  score: number;
  /** The first learned model's score. */
  siamese: number;
  /** The other learned models' scores, in `--model` order (several models fused). */
  learned?: number[];
  /** The local score (matchers that use the local features). */
  local?: number;
  /** The LNBNN score before verification: what orders individuals the local score leaves tied (matchers that use the local features). */
  localRaw?: number;
  /** Keypoints of `image` that agree with the query under one affine map (0: not verified). */
  inliers?: number;
  fused?: number;
}

/** Inputs of {@link predictWithMatcher}. */
export interface MatchedPredictInput {
  /** A matcher not ranked by the run's own score: one that uses the local features, or a fusion. */
  matcher: MatcherKind;
  known: readonly KnownPhoto[];
  queries: readonly QueryPhoto[];
  /** The first learned model's scores, queries x known photos (TTA-averaged; duplicates at 2), as identify gives them. */
  siameseScores: Float32Array;
  /** The other learned models' scores, each as `siameseScores` (several models fused). */
  learnedScores?: readonly Float32Array[];
  /** The local side (matchers that use the local features). */
  local?: LocalSide;
  /** The fusion (required for `fused`). */
  fusion?: FusionModel;
  /** new_whale threshold on the matcher's score. */
  threshold: number;
  /** Candidates per query in the top list. */
  topK: number;
}

/**
 * Identifies queries with a matcher not ranked by the run's own score (local, fused,
 * fused-learned): per individual, each learned model's score of its best photo and (with local
 * features) the local score from one index over the known photos, then the matcher's
 * score and the walk with new_whale at the threshold. A query that duplicates a known photo
 * still gets that photo's individual first (above any score), as the Siamese path does.
 *
 * @param input - matcher, photos, Siamese scores, local side, fusion, threshold
 * @returns submission rows, per-individual scores (for a share-based threshold) and top candidates
 * @throws {@link WhaleidError} for `fused` without a fusion
 */
export async function predictWithMatcher(input: MatchedPredictInput): Promise<{ predictions: Prediction[]; scores: Float64Array[]; individuals: string[]; top: { image: string; candidates: MatchedCandidate[] }[] }> {
  const matcher = matcherOf(input.matcher);
  const nk = input.known.length;
  const g = await scoreGallery({
    queries: input.queries,
    gallery: input.known,
    galleryIds: input.known.map((k) => k.id),
    siamese: async () => input.siameseScores,
    learned: input.learnedScores?.map((m) => async () => m),
    local: matcher.describes.local ? input.local : undefined,
  });
  if (matcher.describes.local && !g.local) throw new WhaleidError(`--matcher ${matcher.kind} needs the local side (keypoints and descriptors)`);
  const predictions: Prediction[] = [];
  const scores: Float64Array[] = [];
  const top: { image: string; candidates: MatchedCandidate[] }[] = [];
  input.queries.forEach((q, qi) => {
    const s = g.scores[qi];
    const { score: per, fused } = matcher.rank(s, input.fusion);
    if (q.duplicateOf?.length) {
      const first = Math.max(0, ...per) + 1;
      for (const id of q.duplicateOf) if (g.individuals.includes(id)) per[g.individuals.indexOf(id)] = first;
    }
    scores.push(per);
    predictions.push({ image: q.image, ids: walkPredictions(per, g.individuals, input.threshold) });
    const order = Array.from(per, (_, i) => i).sort((a, b) => per[b] - per[a] || a - b).slice(0, input.topK);
    const m = g.local?.matches[qi];
    top.push({
      image: q.image,
      candidates: order.map((i) => ({
        id: g.individuals[i],
        image: input.known[m && m.bestPhoto[i] >= 0 ? m.bestPhoto[i] : bestSiamesePhoto(input.siameseScores, qi, nk, g.individualOf, i)].image,
        score: per[i],
        siamese: s.siamese[i],
        ...(s.learned ? { learned: s.learned.map((v) => v[i]) } : {}),
        ...(m ? { local: s.local[i], localRaw: s.localRaw[i], inliers: m.inliers[i] } : {}),
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

/** What predictDataset hands over for a matcher not ranked by the run's own score. */
export interface MatcherRequest {
  matcher: MatcherKind;
  /** The matcher's calibration (its threshold; the fusion where its ranking needs one). */
  calibration?: MatcherCalibration;
  threshold?: number;
  newShare?: number;
  topK?: number;
  cacheDir?: string;
  onMessage?: (line: string) => void;
}

/**
 * Replaces the Siamese predictions of predictDataset by those of a matcher not ranked by the
 * run's own score (local features, or a fusion), its threshold by the one rule
 * ({@link newIndividualThreshold}).
 *
 * @param r - matcher, calibration, threshold options, cache
 * @param known - known photos
 * @param queries - test photos
 * @param siameseScores - the first learned model's scores identify computed
 * @param learnedScores - the other learned models' scores (several models fused)
 * @param masks - scoped matching (predict --scope): per query, the known photos in its scope
 * @returns predictions, top candidates with every score, and the threshold used
 * @throws {@link WhaleidError} when no threshold can be had, or the matcher needs a fusion the calibration lacks
 */
export async function applyMatcher(r: MatcherRequest, known: readonly KnownPhoto[], queries: readonly QueryPhoto[], siameseScores: Float32Array, learnedScores: readonly Float32Array[] = [], masks?: readonly Uint8Array[]): Promise<{ predictions: Prediction[]; top: { image: string; candidates: MatchedCandidate[] }[]; threshold: number }> {
  const matcher = matcherOf(r.matcher);
  const sources = { given: r.threshold, newShare: r.newShare, calibration: r.calibration };
  // checked before the keypoints are computed: a matcher with nothing to go by is refused at once
  checkCalibrationFor(matcher.kind, r.calibration);
  if (r.newShare === undefined) newIndividualThreshold({ kind: matcher.kind, ...matcher.calibration }, sources);
  if (matcher.describes.local) r.onMessage?.(`matcher ${r.matcher}: keypoints of ${known.length + queries.length} photos (cached by content)`);
  const local = matcher.describes.local ? localSideFor(r.cacheDir) : undefined;
  const input = { matcher: r.matcher, local, fusion: r.calibration?.fusion, topK: r.topK ?? 20, threshold: Infinity };
  // per query: its per-individual scores and the individuals they are of (scoped: its group's)
  const perQuery: { scores: Float64Array; individuals: string[] }[] = new Array(queries.length);
  const top: { image: string; candidates: MatchedCandidate[] }[] = new Array(queries.length);
  // scoped (predict --scope): the queries of one scope matched against its known photos only, one index per scope
  const groups = masks ? groupsByMask(masks) : [{ queries: queries.map((_, qi) => qi), known: known.map((_, j) => j) }];
  for (const g of groups) {
    if (g.known.length === 0) {
      for (const qi of g.queries) {
        perQuery[qi] = { scores: new Float64Array(0), individuals: [] };
        top[qi] = { image: queries[qi].image, candidates: [] };
      }
      continue;
    }
    const sub = (m: Float32Array): Float32Array => (masks ? subMatrix(m, known.length, g.queries, g.known) : m);
    const first = await predictWithMatcher({ ...input, known: masks ? g.known.map((j) => known[j]) : known, queries: masks ? g.queries.map((qi) => queries[qi]) : queries, siameseScores: sub(siameseScores), learnedScores: learnedScores.map(sub) });
    g.queries.forEach((qi, i) => {
      perQuery[qi] = { scores: first.scores[i], individuals: first.individuals };
      top[qi] = first.top[i];
    });
  }
  const { threshold } = newIndividualThreshold({ kind: matcher.kind, ...matcher.calibration }, { ...sources, scores: () => perQuery.map((p) => p.scores) });
  const predictions = queries.map((q, qi) => ({ image: q.image, ids: walkPredictions(perQuery[qi].scores, perQuery[qi].individuals, threshold) }));
  return { predictions, top, threshold };
}

/** The rows and columns of a queries x known matrix a scope group keeps. */
function subMatrix(m: Float32Array, nk: number, rows: readonly number[], cols: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * cols.length);
  rows.forEach((q, i) => cols.forEach((j, c) => (out[i * cols.length + c] = m[q * nk + j])));
  return out;
}

/** Share of predictions answering new_whale first. */
export const newFirstShare = (p: readonly Prediction[]): number => p.filter((x) => x.ids[0] === NEW_WHALE).length / Math.max(1, p.length);
