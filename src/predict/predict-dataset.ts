import { loadUsableDataset, datasetPhotos } from '../data/dataset.js';
import { NEW_WHALE } from '../data/labels.js';
import type { Prediction } from '../data/submission.js';
import { loadPhotoExtras } from '../image/photo-extras.js';
import { createImageCache } from '../image/image-cache.js';
import { decodeSideFor, type CropRequest } from '../image/crop.js';
import { findDuplicates } from '../image/duplicates.js';
import { WhaleidError } from '../util/errors.js';
import { runPaths } from '../model/folders/run-folder.js';
import { loadRunModel, trainedWithBoxes, type RunModel } from './run-model.js';
import { identify, type PhotoCandidate, type KnownPhoto, type QueryPhoto } from './identify.js';
import { walkPredictions } from '../infer/walk.js';
import { newIndividualThreshold } from '../infer/threshold.js';
import { checkModelCount, matcherOf, type MatcherKind } from '../infer/matchers/matcher-registry.js';
import { checkFusionModels } from '../infer/fusion/fusion-model.js';
import { checkCalibrationFor, readMatcherCalibration, type MatcherCalibration } from '../infer/matchers/matcher-calibration.js';
import { fillMissingBoxes } from '../boxes/box-fallback.js';
import type { Box } from '../image/affine.js';
import { applyMatcher, type MatchedCandidate } from './matched-predictions.js';
import type { Precision } from '../infer/int8-branch.js';
import { maskIndices, scopeMasks, scopedTop, scopeSummary, type PredictScope } from './scoped-predictions.js';

/** Options of {@link predictDataset}. */
export interface PredictOptions {
  runDir: string;
  /**
   * The other learned models (runs or imported model folders: the second `--model` on), fused
   * with `runDir`'s by `--matcher fused` or `fused-learned`.
   */
  moreModels?: readonly string[];
  data: string;
  /** Fixed threshold; default by the one rule ({@link newIndividualThreshold}): the calibration file's, the run's, the method's. */
  threshold?: number;
  /** Or: the share of test photos that should get new_whale first. */
  newShare?: number;
  tta?: number;
  seed?: number;
  topK?: number;
  boxes?: string;
  rotate?: string;
  cacheDir?: string;
  /** tfjs backend, only for a run trained before the ONNX export (its network is exported from model/). */
  backend?: 'wasm' | 'cpu';
  /** The branch's precision (float32 by default; int8 needs the run's onnx/branch.int8.onnx). */
  precision?: Precision;
  /**
   * Box model for photos the boxes CSV does not cover: a folder or `.onnx` file, or `none` to use
   * them whole; default the model shipped with whaleid.
   */
  boxModel?: string;
  /** Cache of predicted boxes by photo content; default `<runDir>/predicted-boxes.json`. */
  boxCacheFile?: string;
  /** Which score identifies (default siamese). */
  matcher?: MatcherKind;
  /** The matcher's calibration file (`evaluate-open --matcher` writes it): its threshold, and the fusion a fused matcher needs. */
  matcherCalibration?: string;
  /** Scoped matching: each test photo matched only against the known photos in its scope (the dataset's photo details). */
  scope?: PredictScope;
  onMessage?: (line: string) => void;
  onFeatures?: (done: number, total: number) => void;
  onBoxes?: (done: number, total: number) => void;
}

/** A submission and how it was made. */
export interface PredictResult {
  predictions: Prediction[];
  top: { image: string; candidates: (PhotoCandidate | MatchedCandidate)[] }[];
  threshold: number;
  newFirstShare: number;
  /** The share of new individuals among the run's validation queries (what newFirstShare is to be read against), when known. */
  validationNewShare: number | null;
  duplicates: number;
  /** Boxes the fluke detector gave photos without a CSV box, by image name. */
  predictedBoxes: Map<string, Box>;
}

/**
 * Predicts the test photos of a dataset with a trained run: known photos are the labelled ones
 * (new_whale photos excluded), test photos that duplicate a labelled photo are answered from it.
 *
 * @param o - see {@link PredictOptions}
 * @returns the submission rows, top candidates and the threshold used
 * @throws {@link WhaleidError} for an unusable dataset or run, or a dataset without test photos
 * @example
 * const res = await predictDataset({ runDir: 'runs/a', data: 'catalog', tta: 4 });
 */
export async function predictDataset(o: PredictOptions): Promise<PredictResult> {
  const say = o.onMessage ?? (() => {});
  // refused before any model is opened
  checkModelCount(o.matcher ?? 'siamese', 1 + (o.moreModels?.length ?? 0));
  const runs: RunModel[] = [];
  try {
    for (const dir of [o.runDir, ...(o.moreModels ?? [])]) runs.push(await loadRunModel(dir, { backend: o.backend, precision: o.precision, onWarning: say }));
    // the calibration checked against the models before any photo is read
    const kind = matcherOf(o.matcher ?? 'siamese').kind;
    const calibration = o.matcherCalibration ? await readMatcherCalibration(o.matcherCalibration, kind) : undefined;
    checkCalibrationFor(kind, calibration);
    if (calibration?.fusion) checkFusionModels(calibration.fusion, runs.map((r) => r.inference.modelVersion), o.matcherCalibration!);
    return await predictWith(runs, o, calibration, say);
  } finally {
    for (const r of runs) await r.inference.dispose();
  }
}

async function predictWith(runs: readonly RunModel[], o: PredictOptions, calibration: MatcherCalibration | undefined, say: (line: string) => void): Promise<PredictResult> {
  const [run, ...others] = runs;
  const ds = await loadUsableDataset(o.data, say);
  if (ds.test.length === 0) throw new WhaleidError(`${o.data}: no test photos to identify`);
  const photoExtras = await loadPhotoExtras(ds.root, { boxes: o.boxes, rotate: o.rotate });
  const cache = createImageCache({ dir: o.cacheDir, maxSide: decodeSideFor(run.crop.size) });
  const knownPhotos = ds.train.filter((p) => p.id !== NEW_WHALE);
  if (knownPhotos.length === 0) {
    // every answer would be new_whale: the folder is most likely a part of a dataset (its test/)
    throw new WhaleidError(`${o.data}: no labelled photos to identify the ${ds.test.length} test photos against; give the dataset's root folder (train.csv with train/, or a folder per individual)`);
  }
  const filled = await fillMissingBoxes([...knownPhotos, ...ds.test], photoExtras.of, {
    // default: the shipped detector, but only for runs that learnt boxed crops
    boxModel: o.boxModel ?? (trainedWithBoxes(run.config) ? undefined : 'none'),
    cacheFile: o.boxCacheFile ?? runPaths(o.runDir).predictedBoxes,
    cacheDir: o.cacheDir,
    onProgress: o.onBoxes,
    onMessage: say,
  });
  const extrasOf = filled.of;
  const known: KnownPhoto[] = knownPhotos.map((p) => ({ image: p.image, id: p.id, file: p.file, ...extrasOf(p.image) }));
  const photos = datasetPhotos(ds);
  const byKey = new Map(photos.map((p) => [p.key, p]));
  const { groups } = await findDuplicates(photos, cache);
  const dupIds = new Map<string, string[]>();
  for (const g of groups) {
    const members = g.members.map((m) => byKey.get(m)!);
    const ids = [...new Set(members.map((p) => p.id).filter((id): id is string => id !== undefined && id !== NEW_WHALE))];
    if (ids.length) for (const p of members) if (p.set === 'test') dupIds.set(p.image, ids);
  }
  const queries: QueryPhoto[] = ds.test.map((p) => ({ image: p.image, file: p.file, duplicateOf: dupIds.get(p.image), ...extrasOf(p.image) }));
  say(`${known.length} known photos of ${new Set(known.map((k) => k.id)).size} individuals, ${queries.length} test photos (${dupIds.size} duplicate a known photo)`);
  // read and checked before any feature is computed: a bad details file fails at once
  const scoped = o.scope ? await scopeMasks(o.scope, ds.root, known, queries) : null;
  if (scoped) say(scopeSummary(scoped));
  say(`features with ${runs.map((r) => r.inference.engine).join('; ')}`);
  const featuresOf = (requests: readonly CropRequest[]): Promise<Float32Array> => run.inference.features(cache, requests, run.crop, o.onFeatures);
  const head = run.inference.head;
  const matcher = matcherOf(o.matcher ?? 'siamese');
  const sources = { given: o.threshold, newShare: o.newShare, calibration, validation: run.validation };
  // the threshold the walk starts with; a share of new answers is known only once the scores are
  let threshold = o.newShare === undefined && matcher.calibration.byRun ? newIndividualThreshold({ kind: matcher.kind, ...matcher.calibration }, sources).threshold : Infinity;
  const res = await identify(known, queries, featuresOf, head, { threshold, tta: o.tta, seed: o.seed, topK: o.topK });
  let predictions = res.predictions;
  let top: PredictResult['top'] = res.top;
  if (!matcher.calibration.byRun) {
    // the other learned models' scores of the same photos, each with its own decoded copies and crop
    const learned: Float32Array[] = [];
    for (const r of others) {
      const images = createImageCache({ dir: o.cacheDir, maxSide: decodeSideFor(r.crop.size) });
      learned.push((await identify(known, queries, (q) => r.inference.features(images, q, r.crop, o.onFeatures), r.inference.head, { threshold: Infinity, tta: o.tta, seed: o.seed, topK: 1 })).scores);
    }
    ({ predictions, top, threshold } = await applyMatcher({ matcher: matcher.kind, calibration, threshold: o.threshold, newShare: o.newShare, topK: o.topK, cacheDir: o.cacheDir, onMessage: say }, known, queries, res.scores, learned, scoped?.masks));
  } else {
    // the rule again with the scores at hand: a share of new answers, or a run threshold chosen on too few queries
    const nk = known.length;
    // scoped: each query's row holds only the known photos in its scope
    const picks = scoped ? scoped.masks.map(maskIndices) : null;
    const rows = queries.map((_, qi) => (picks ? Float64Array.from(picks[qi], (j) => res.scores[qi * nk + j]) : Float64Array.from(res.scores.subarray(qi * nk, (qi + 1) * nk))));
    const chosen = newIndividualThreshold({ kind: matcher.kind, ...matcher.calibration }, { ...sources, scores: () => rows });
    if (chosen.note) say(`warning: ${chosen.note}`);
    if (chosen.threshold !== threshold || picks) {
      threshold = chosen.threshold;
      const ids = known.map((k) => k.id);
      predictions = queries.map((q, qi) => ({ image: q.image, ids: walkPredictions(rows[qi], picks ? picks[qi].map((j) => ids[j]) : ids, threshold) }));
    }
    if (picks) top = scopedTop(res.scores, picks, known, queries, o.topK ?? 20);
  }
  const newFirst = predictions.filter((p) => p.ids[0] === NEW_WHALE).length / Math.max(1, predictions.length);
  const validationNewShare = typeof run.validation?.newWhaleBaseline === 'number' ? run.validation.newWhaleBaseline : null;
  return { predictions, top, threshold, newFirstShare: newFirst, validationNewShare, duplicates: dupIds.size, predictedBoxes: filled.predicted };
}
