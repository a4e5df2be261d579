import type { CropRequest, CropSettings } from '../image/crop.js';
import { decodeSideFor } from '../image/crop.js';
import { randomAugmentation } from '../image/affine.js';
import { createRng } from '../util/random.js';
import { invalidParameterError } from '../util/errors.js';
import { createImageCache } from '../image/image-cache.js';
import { scorePair, type HeadWeights } from '../model/network/head-weights.js';
import { loadRunModel, type RunModel } from '../predict/run-model.js';
import { scoreQueries } from '../infer/score-matrix.js';
import type { Precision } from '../infer/int8-branch.js';

/** A trained run, ready to score photos against photos. */
export interface RunScorer {
  run: RunModel;
  crop: CropSettings;
  head: HeadWeights;
  /** How features are computed, for the user (see `openRunInference`). */
  engine: string;
  /** Branch features of photos, n*F floats (with test-time augmentation, the mean over the copies). */
  featuresOf(requests: readonly CropRequest[]): Promise<Float32Array>;
  /** Head scores of every query against every gallery photo, nq*ng row-major. */
  scoreMatrix(queries: readonly CropRequest[], gallery: readonly CropRequest[]): Promise<Float32Array>;
  /** Head scores of photo pairs; each distinct photo's features are computed once. */
  scorePairs(pairs: readonly (readonly [CropRequest, CropRequest])[]): Promise<Float32Array>;
  /** Frees the ONNX session. */
  dispose(): Promise<void>;
}

/** Options of {@link openRunScorer}. */
export interface RunScorerOptions {
  /** Decoded-photo cache folder (none: decode in memory only). */
  cacheDir?: string;
  /** tfjs backend, only for a run trained before the ONNX export (its network is exported from model/). */
  backend?: 'wasm' | 'cpu';
  /** The branch's precision (float32 by default; int8 needs the run's onnx/branch.int8.onnx). */
  precision?: Precision;
  /** Receives warnings (a run without a manifest); default stderr. */
  onWarning?: (line: string) => void;
  onFeatures?: (done: number, total: number) => void;
  /**
   * Test-time augmentation: each photo's features are the mean over the photo and `tta` copies
   * under the method's random affine augmentation; default 0. Each copy's augmentation is drawn
   * from the seed and the photo, so a photo gets the same copies in every batch and trial.
   * Why features and not scores (as `predict --tta` averages): on Omniglot one-shot trials the
   * mean features of every photo gained 1.8 points with 4 copies, the mean score of the query's
   * copies lost 0.7 (bench/accuracy.md).
   */
  tta?: number;
  /** Seed of the augmentations; default 0. */
  seed?: number;
}

const keyOf = (r: CropRequest): string => `${r.file}|${r.rotate180 ? 1 : 0}|${r.box ? `${r.box.x0},${r.box.y0},${r.box.x1},${r.box.y1}` : ''}`;

/**
 * Opens a training run for evaluation as `whaleid predict` does (see `openRunInference`):
 * features with ONNX Runtime, pair scores with the head's weights.
 *
 * @param runDir - the run folder written by `whaleid train`
 * @param options - cache folder, feature progress, test-time augmentation
 * @returns the scorer; call `dispose()` when done
 * @throws {@link WhaleidError} when the run is unfinished or not a run, or `tta` is not a non-negative integer
 * @example
 * const scorer = await openRunScorer('runs/a');
 * const s = await scorer.scorePairs([[{ file: 'a.png' }, { file: 'b.png' }]]);
 * await scorer.dispose();
 */
export async function openRunScorer(runDir: string, options: RunScorerOptions = {}): Promise<RunScorer> {
  // checked before the run is opened: a refused value would leave its ONNX session open
  const tta = options.tta ?? 0;
  if (!Number.isSafeInteger(tta) || tta < 0) throw invalidParameterError('tta', 'a non-negative integer', tta);
  const run = await loadRunModel(runDir, { backend: options.backend, precision: options.precision, onWarning: options.onWarning });
  const cache = createImageCache({ dir: options.cacheDir, maxSide: decodeSideFor(run.crop.size) });
  const head = run.inference.head;
  const seed = createRng(options.seed ?? 0).fork('tta');
  const F = head.features;
  const plainFeatures = (requests: readonly CropRequest[]): Promise<Float32Array> => run.inference.features(cache, requests, run.crop, options.onFeatures);
  const featuresOf = async (requests: readonly CropRequest[]): Promise<Float32Array> => {
    const mean = await plainFeatures(requests);
    if (tta === 0) return mean;
    for (let copy = 1; copy <= tta; copy++) {
      const f = await plainFeatures(requests.map((r) => ({ ...r, augmentation: randomAugmentation(seed.fork(`${keyOf(r)}#${copy}`)) })));
      for (let i = 0; i < mean.length; i++) mean[i] += f[i];
    }
    for (let i = 0; i < mean.length; i++) mean[i] /= tta + 1;
    return mean;
  };
  return {
    run,
    crop: run.crop,
    head,
    engine: run.inference.engine,
    featuresOf,
    async scoreMatrix(queries, gallery) {
      // one feature pass over the distinct photos of both sides
      const { unique, index } = distinct([...queries, ...gallery]);
      const f = await featuresOf(unique);
      const rows = (list: readonly CropRequest[]): Float32Array => {
        const out = new Float32Array(list.length * F);
        list.forEach((r, i) => out.set(f.subarray(index.get(keyOf(r))! * F, (index.get(keyOf(r))! + 1) * F), i * F));
        return out;
      };
      return scoreQueries(rows(queries), rows(gallery), head);
    },
    async scorePairs(pairs) {
      const { unique, index } = distinct(pairs.flat());
      const f = await featuresOf(unique);
      const at = (r: CropRequest): Float32Array => {
        const i = index.get(keyOf(r))!;
        return f.subarray(i * F, (i + 1) * F);
      };
      return Float32Array.from(pairs, ([a, b]) => scorePair(head, at(a), at(b)));
    },
    async dispose() {
      await run.inference.dispose();
    },
  };
}

function distinct(requests: readonly CropRequest[]): { unique: CropRequest[]; index: Map<string, number> } {
  const index = new Map<string, number>();
  const unique: CropRequest[] = [];
  for (const r of requests) {
    const k = keyOf(r);
    if (!index.has(k)) {
      index.set(k, unique.length);
      unique.push({ file: r.file, box: r.box, rotate180: r.rotate180 });
    }
  }
  return { unique, index };
}
