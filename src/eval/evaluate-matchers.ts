/**
 * `whaleid evaluate-open --matcher local|fused`: the open-set protocol with the local-feature
 * matcher alone or fused with a trained run's Siamese score, on a dataset on disk.
 */
import { loadUsableDataset } from '../data/dataset.js';
import { loadPhotoExtras } from '../image/photo-extras.js';
import type { CropRequest } from '../image/crop.js';
import { DEFAULT_LOCAL } from '../infer/local/local-features.js';
import type { FusionModel, MatcherKind } from '../infer/fusion/fusion-model.js';
import { WhaleidError } from '../util/errors.js';
import { evaluateOpenSetMatchers } from './matched-open-set.js';
import { localSideFor } from '../infer/fusion/gallery-scores.js';
import type { OpenSetResult } from './open-set.js';
import type { OpenRunOptions } from './evaluate-run.js';
import { openRunScorer } from './run-scorer.js';

/** What {@link evaluateOpenRunMatched} found, and the calibration a later `predict` can reuse. */
export interface MatchedOpenRun {
  result: OpenSetResult;
  /** The matcher's calibration: its threshold and, for `fused`, the fitted fusion. */
  calibration: MatcherCalibration;
}

/** A matcher's calibration file (`<out>.matcher.json` of evaluate-open). */
export interface MatcherCalibration {
  matcher: MatcherKind;
  /** new_whale threshold on the matcher's score, calibrated on the calibration part. */
  threshold: number;
  fusion?: FusionModel;
}

/**
 * The open-set protocol with one matcher (any of the three; `siamese` gives the figures of
 * `evaluateOpenRun`).
 *
 * @param o - run (for siamese and fused), dataset, shares, seed, boxes/rotate lists, cache
 * @param matcher - which matcher
 * @returns the protocol's result and the matcher's calibration
 * @throws {@link WhaleidError} for an unusable run or dataset, or too few individuals with 2+ photos
 * @example
 * const r = await evaluateOpenRunMatched({ runDir: 'runs/a', data: 'nyala-test' }, 'fused');
 */
export async function evaluateOpenRunMatched(o: OpenRunOptions, matcher: MatcherKind): Promise<MatchedOpenRun> {
  const say = o.onMessage ?? (() => {});
  const ds = await loadUsableDataset(o.data, say);
  if (ds.train.length === 0) throw new WhaleidError(`${o.data}: no labelled photos (expected one folder per individual, or train/ with train.csv)`);
  const extras = await loadPhotoExtras(ds.root, { boxes: o.boxes, rotate: o.rotate });
  const photos = ds.train;
  const requests: CropRequest[] = photos.map((p) => ({ file: p.file, ...extras.of(p.image) }));
  const scorer = matcher === 'local' ? null : await openRunScorer(o.runDir, { cacheDir: o.cacheDir, onFeatures: o.onFeatures });
  try {
    say(`${photos.length} labelled photos of ${new Set(photos.map((p) => p.id)).size} ids; matcher ${matcher}`);
    const r = await evaluateOpenSetMatchers(photos, requests, [matcher], { siamese: scorer ? (q, g) => scorer.scoreMatrix(q, g) : undefined, local: matcher === 'siamese' ? undefined : localSideFor(o.cacheDir, DEFAULT_LOCAL, o.onFeatures) }, o);
    const result = r.results[matcher]!;
    return { result, calibration: { matcher, threshold: result.calibration.threshold, ...(r.fusion ? { fusion: r.fusion } : {}) } };
  } finally {
    await scorer?.dispose();
  }
}
