import type { CropRequest } from '../image/crop.js';
import type { HeadWeights } from '../model/network/head-weights.js';
import type { Augmentation } from '../image/affine.js';
import { randomAugmentation } from '../image/affine.js';
import { scoreQueriesParallel } from '../infer/score-matrix.js';
import { walkPredictions } from '../infer/walk.js';
import type { Prediction } from '../data/submission.js';
import { createRng } from '../util/random.js';

/** Computes branch features of photos (tfjs or ONNX Runtime): n*F floats. */
export type FeatureFunction = (requests: readonly CropRequest[]) => Promise<Float32Array>;

/** A known (catalog) photo. */
export interface KnownPhoto extends CropRequest {
  image: string;
  id: string;
}

/** A photo to identify; `duplicateOf` lists ids of training photos it duplicates (free answers). */
export interface QueryPhoto extends CropRequest {
  image: string;
  duplicateOf?: string[];
}

/** A known photo in a query's top-K list, written for inspection (the service's candidates are individuals). */
export interface PhotoCandidate {
  id: string;
  image: string;
  score: number;
}

/** Options of {@link identify}. */
export interface IdentifyOptions {
  /** new_whale threshold. */
  threshold: number;
  /** Augmented copies per query (test-time augmentation); 0 = the original only. */
  tta?: number;
  seed?: number;
  /** Candidates kept per query for inspection. Default 20. */
  topK?: number;
}

/** Scores of every query against every known photo, and what they lead to. */
export interface IdentifyResult {
  /** nq*nk probabilities (TTA-averaged); duplicates of a known photo score 2, as in the kernel. */
  scores: Float32Array;
  predictions: Prediction[];
  top: { image: string; candidates: PhotoCandidate[] }[];
}

/**
 * Identifies query photos against known photos with the method: features of every photo once,
 * the head on every (query, known) pair, TTA by averaging the scores of the original and N
 * augmented copies of each query (deterministic for a seed), then the walk with new_whale at the
 * threshold. A query that duplicates a training photo gets score 2 for that photo's id, so it is
 * answered first, as the kernel does with its "free" answers.
 *
 * @param known - catalog photos (new_whale-labelled ones should be left out by the caller)
 * @param queries - photos to identify
 * @param featuresOf - feature extractor
 * @param head - head weights for pair scores
 * @param options - threshold, TTA, seed, top-K
 * @returns scores, submission rows and top candidates
 * @example
 * const res = await identify(known, queries, (r) => computeFeatures(branch, cache, r, crop), readHeadWeights(head), { threshold: 0.99 });
 */
export async function identify(known: readonly KnownPhoto[], queries: readonly QueryPhoto[], featuresOf: FeatureFunction, head: HeadWeights, options: IdentifyOptions): Promise<IdentifyResult> {
  const nk = known.length;
  const nq = queries.length;
  const tta = options.tta ?? 0;
  const knownFeatures = await featuresOf(known.map(({ file, box, rotate180 }) => ({ file, box, rotate180 })));
  const scores = new Float32Array(nq * nk);
  const rng = createRng(options.seed ?? 0).fork('tta');
  for (let copy = 0; copy <= tta; copy++) {
    // copy 0 is the original; the augmentations of a copy are drawn in query order, so a seed fixes them
    const augs: (Augmentation | undefined)[] = queries.map(() => (copy === 0 ? undefined : randomAugmentation(rng)));
    const qf = await featuresOf(queries.map(({ file, box, rotate180 }, i) => ({ file, box, rotate180, augmentation: augs[i] })));
    const s = await scoreQueriesParallel(qf, knownFeatures, head);
    for (let i = 0; i < s.length; i++) scores[i] += s[i] / (tta + 1);
  }
  const knownIds = known.map((k) => k.id);
  queries.forEach((q, qi) => {
    if (!q.duplicateOf?.length) return;
    const dup = new Set(q.duplicateOf);
    for (let j = 0; j < nk; j++) if (dup.has(knownIds[j])) scores[qi * nk + j] = 2;
  });
  const topK = options.topK ?? 20;
  const predictions: Prediction[] = [];
  const top: IdentifyResult['top'] = [];
  for (let qi = 0; qi < nq; qi++) {
    const row = scores.subarray(qi * nk, (qi + 1) * nk);
    predictions.push({ image: queries[qi].image, ids: walkPredictions(row, knownIds, options.threshold) });
    const order = Array.from({ length: nk }, (_, j) => j).sort((a, b) => row[b] - row[a] || a - b).slice(0, topK);
    top.push({ image: queries[qi].image, candidates: order.map((j) => ({ id: knownIds[j], image: known[j].image, score: row[j] })) });
  }
  return { scores, predictions, top };
}
