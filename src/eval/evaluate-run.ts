/**
 * The evaluation protocols applied to a trained run and a dataset on disk: what
 * `whaleid evaluate-open` and `whaleid evaluate-oneshot` do, without the printing.
 */
import path from 'node:path';
import { loadUsableDataset, type LabelledPhoto } from '../data/dataset.js';
import { loadPhotoExtras } from '../image/photo-extras.js';
import type { CropRequest } from '../image/crop.js';
import { WhaleidError } from '../util/errors.js';
import { evaluateOpenSet, type OpenSetPlanOptions, type OpenSetResult } from './open-set.js';
import { buildOneShotTrials, evaluateOneShot, loadOneShotRuns, type BuildTrialsOptions, type OneShotResult, type PairScoreFunction } from './one-shot.js';
import { openRunScorer } from './run-scorer.js';
import type { Precision } from '../infer/int8-branch.js';

/** Options shared by both evaluations. */
export interface RunEvalOptions {
  runDir: string;
  /**
   * The other learned models (runs or imported model folders: the second `--model` on), fused
   * with `runDir`'s by the matchers that fuse several (`fused`, `fused-learned`).
   */
  moreModels?: readonly string[];
  cacheDir?: string;
  /** tfjs backend, only for a run trained before the ONNX export (its network is exported from model/). */
  backend?: 'wasm' | 'cpu';
  /** The branch's precision (float32 by default; int8 needs the run's onnx/branch.int8.onnx). */
  precision?: Precision;
  onMessage?: (line: string) => void;
  onFeatures?: (done: number, total: number) => void;
  /** Test-time augmentation of every photo's features (see `RunScorerOptions.tta`); default 0. */
  tta?: number;
}

/** Options of {@link evaluateOpenRun}. */
export interface OpenRunOptions extends RunEvalOptions, OpenSetPlanOptions {
  data: string;
  boxes?: string;
  rotate?: string;
}

/**
 * Loads a labelled dataset (either layout, labelled photos only) after reporting its problems.
 * Kaggle test photos have no labels, so they take no part in an evaluation.
 */
async function labelledPhotos(data: string, say: (l: string) => void): Promise<{ root: string; photos: LabelledPhoto[] }> {
  const ds = await loadUsableDataset(data, say);
  if (ds.train.length === 0) throw new WhaleidError(`${data}: no labelled photos (expected one folder per individual, or train/ with train.csv)`);
  return { root: ds.root, photos: ds.train };
}

/** Warns when the evaluation data is the training data: the figures would be optimistic. */
function warnIfTrainedOn(trainedOn: string, data: string, say: (l: string) => void): void {
  if (path.resolve(trainedOn) === path.resolve(data)) say(`warning: ${data} is the dataset this run was trained on; open-set and one-shot figures on it are optimistic`);
}

/**
 * The open-set protocol ({@link evaluateOpenSet}) with a trained run on a labelled dataset.
 *
 * @param o - run, dataset, shares, seed, boxes/rotate lists, cache
 * @returns the protocol's result
 * @throws {@link WhaleidError} for an unusable run or dataset, or too few individuals with 2+ photos
 * @example
 * const res = await evaluateOpenRun({ runDir: 'runs/a', data: 'nyala-test', newShare: 0.3, seed: 1 });
 */
export async function evaluateOpenRun(o: OpenRunOptions): Promise<OpenSetResult> {
  const say = o.onMessage ?? (() => {});
  const { root, photos } = await labelledPhotos(o.data, say);
  const extras = await loadPhotoExtras(root, { boxes: o.boxes, rotate: o.rotate });
  const requests: CropRequest[] = photos.map((p) => ({ file: p.file, ...extras.of(p.image) }));
  const scorer = await openRunScorer(o.runDir, { cacheDir: o.cacheDir, backend: o.backend, precision: o.precision, onWarning: say, onFeatures: o.onFeatures, tta: o.tta, seed: o.seed });
  try {
    warnIfTrainedOn(scorer.run.config.data, o.data, say);
    say(`${photos.length} labelled photos of ${new Set(photos.map((p) => p.id)).size} ids; features with ${scorer.engine}`);
    return await evaluateOpenSet(photos, (q, g) => scorer.scoreMatrix(q.map((i) => requests[i]), g.map((i) => requests[i])), o);
  } finally {
    await scorer.dispose();
  }
}

/** Options of {@link evaluateOneShotRun}: Lake's run folders, or trials drawn from a dataset. */
export interface OneShotRunOptions extends RunEvalOptions, BuildTrialsOptions {
  /** Folder of `runNN/` folders. */
  runs?: string;
  /** Or: a labelled dataset to draw trials from. */
  data?: string;
  /** With `data`: keep only individuals under these top-level folders (e.g. Omniglot alphabets). */
  only?: string[];
  /** Pair scorer to use instead of the run's network (the local matcher: `localPairScorer`). */
  scorePairs?: PairScoreFunction;
}

/**
 * The N-way one-shot task ({@link evaluateOneShot}) with a trained run, on Lake's run folders
 * or on trials drawn from a labelled dataset ({@link buildOneShotTrials}).
 *
 * @param o - run, then `runs`, or `data` with ways/trials/seed
 * @returns accuracy per run and overall
 * @throws {@link WhaleidError} when neither or both of `runs` and `data` are given, or they are unusable
 * @example
 * const res = await evaluateOneShotRun({ runDir: 'runs/omni', data: 'small2', only: ['Tagalog'], ways: 20, trials: 400 });
 */
export async function evaluateOneShotRun(o: OneShotRunOptions): Promise<OneShotResult> {
  const say = o.onMessage ?? (() => {});
  if ((o.runs === undefined) === (o.data === undefined)) throw new WhaleidError('give --runs (one-shot run folders) or --data (a labelled dataset to draw trials from), not both');
  let trials;
  if (o.runs !== undefined) {
    trials = await loadOneShotRuns(o.runs);
    say(`${trials.length} run(s) from ${o.runs}: ${trials.reduce((s, t) => s + t.queries.length, 0)} queries, ${trials[0].support.length}-way`);
  } else {
    let { photos } = await labelledPhotos(o.data!, say);
    if (o.only?.length) {
      const keep = new Set(o.only);
      const found = new Set(photos.map((p) => p.id.split('/')[0]));
      const missing = o.only.filter((g) => !found.has(g));
      if (missing.length) throw new WhaleidError(`${o.data}: no individuals under ${missing.join(', ')}; top-level folders are ${[...found].sort().slice(0, 12).join(', ')}`);
      photos = photos.filter((p) => keep.has(p.id.split('/')[0]));
    }
    trials = buildOneShotTrials(photos, o);
    say(`${trials.length} ${o.ways ?? 20}-way trials drawn from ${photos.length} photos of ${new Set(photos.map((p) => p.id)).size} individuals${o.sameGroup ? ' (classes of a trial share their group)' : ''}`);
  }
  if (o.scorePairs) return evaluateOneShot(trials, o.scorePairs);
  const scorer = await openRunScorer(o.runDir, { cacheDir: o.cacheDir, backend: o.backend, precision: o.precision, onWarning: say, onFeatures: o.onFeatures, tta: o.tta, seed: o.seed });
  try {
    if (o.data !== undefined) warnIfTrainedOn(scorer.run.config.data, o.data, say);
    return await evaluateOneShot(trials, (pairs) => scorer.scorePairs(pairs.map(([a, b]) => [{ file: a }, { file: b }] as const)));
  } finally {
    await scorer.dispose();
  }
}
