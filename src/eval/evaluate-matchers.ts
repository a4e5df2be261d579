/**
 * `whaleid evaluate-open --matcher local|fused`: the open-set protocol with the local-feature
 * matcher alone or fused with a trained run's Siamese score, on a dataset on disk.
 */
import { loadUsableDataset } from '../data/dataset.js';
import { loadPhotoExtras } from '../image/photo-extras.js';
import type { CropRequest } from '../image/crop.js';
import { DEFAULT_LOCAL } from '../infer/local/local-features.js';
import { checkModelCount, matcherOf, type MatcherKind } from '../infer/matchers/matcher-registry.js';
import type { MatcherCalibration } from '../infer/matchers/matcher-calibration.js';
import { WhaleidError } from '../util/errors.js';
import { evaluateOpenSetMatchers } from './matched-open-set.js';
import { localSideFor, type LocalSide } from '../infer/fusion/gallery-scores.js';
import { describePhotos } from '../infer/local/local-feature-store.js';
import { createLocalMatcher } from '../infer/local/local-matcher.js';
import { loadOpenCv } from '../infer/local/opencv.js';
import type { PairScoreFunction } from './one-shot.js';
import type { OpenSetResult } from './open-set.js';
import { evaluateOpenRun, type OpenRunOptions } from './evaluate-run.js';
import { openRunScorer, type RunScorer } from './run-scorer.js';

/** What {@link evaluateOpenRunMatched} found, and the calibration a later `predict` can reuse. */
export interface MatchedOpenRun {
  result: OpenSetResult;
  /** The matcher's calibration: its threshold and, for `fused`, the fitted fusion. */
  calibration: MatcherCalibration;
}

/**
 * The open-set protocol with any matcher, and its calibration: a matcher that needs no local
 * features is measured by {@link evaluateOpenRun} (the run's own protocol, TTA included), the
 * others by {@link evaluateOpenRunMatched}.
 *
 * @param o - run, dataset, shares, seed, boxes/rotate lists, cache
 * @param matcher - which matcher
 * @returns the protocol's result and the matcher's calibration (for predict and serve)
 * @throws {@link WhaleidError} for an unusable run or dataset
 * @example
 * const { result, calibration } = await evaluateOpenMatcher({ runDir: 'runs/a', data: 'nyala-test' }, 'siamese');
 */
export async function evaluateOpenMatcher(o: OpenRunOptions, matcher: MatcherKind): Promise<MatchedOpenRun> {
  checkModelCount(matcher, 1 + (o.moreModels?.length ?? 0));
  const m = matcherOf(matcher);
  if (m.describes.local || m.calibration.fusion) return evaluateOpenRunMatched(o, matcher);
  const result = await evaluateOpenRun(o);
  return { result, calibration: { matcher, threshold: result.calibration.threshold } };
}

/**
 * The open-set protocol with one matcher (any; `siamese` gives the figures of
 * `evaluateOpenRun`): the learned models (`runDir`, then `moreModels`) score the same plan's
 * queries against its gallery, and a fused matcher's fusion is fitted over all of them.
 *
 * @param o - run(s) (for the matchers with a learned embedding), dataset, shares, seed, boxes/rotate lists, cache
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
  const { describes } = matcherOf(matcher);
  const scorers: RunScorer[] = [];
  try {
    if (describes.embedding) {
      for (const dir of [o.runDir, ...(o.moreModels ?? [])]) scorers.push(await openRunScorer(dir, { cacheDir: o.cacheDir, backend: o.backend, precision: o.precision, onWarning: say, onFeatures: o.onFeatures, tta: o.tta, seed: o.seed }));
    }
    const [first, ...others] = scorers.map((s) => (q: readonly CropRequest[], g: readonly CropRequest[]) => s.scoreMatrix(q, g));
    const modelVersions = scorers.map((s) => s.run.inference.modelVersion);
    say(`${photos.length} labelled photos of ${new Set(photos.map((p) => p.id)).size} ids; matcher ${matcher}${scorers.length > 1 ? ` over ${scorers.length} learned models (${modelVersions.join(', ')})` : ''}`);
    const sides = { siamese: first, learned: others.length ? others : undefined, local: !describes.local ? undefined : localSideFor(o.cacheDir, DEFAULT_LOCAL, o.onFeatures) };
    const r = await evaluateOpenSetMatchers(photos, requests, [matcher], sides, { ...o, modelVersions: scorers.length ? modelVersions : undefined });
    const result = r.results[matcher]!;
    const fusion = r.fusions[matcher];
    return { result, calibration: { matcher, threshold: result.calibration.threshold, ...(fusion ? { fusion } : {}) } };
  } finally {
    for (const s of scorers) await s.dispose();
  }
}

/**
 * Pair scores of the local matcher for the one-shot task: the pairs come query by query (a
 * query against its trial's N support photos, consecutive), so each query is matched
 * one-vs-many against an index of its own trial's support photos, and a pair's score is the
 * support photo's local score (verified LNBNN, the LNBNN score breaking ties among unverified).
 * Every photo is described once (cached by content).
 *
 * @param side - the local side
 * @returns a pair scorer for {@link evaluateOneShot}
 * @example
 * const res = await evaluateOneShot(trials, localPairScorer(localSideFor(cacheDir)));
 */
export function localPairScorer(side: LocalSide): PairScoreFunction {
  return async (pairs) => {
    const files = [...new Set(pairs.flat())];
    const at = new Map(files.map((f, i) => [f, i]));
    const features = await describePhotos(side.cache, files.map((file) => ({ file })), side.settings, { cacheDir: side.cacheDir, onProgress: side.onProgress });
    const cv = await loadOpenCv();
    const out = new Float32Array(pairs.length);
    for (let i = 0; i < pairs.length; ) {
      // one block: the same query against distinct support photos
      let j = i;
      const seen = new Set<string>();
      while (j < pairs.length && pairs[j][0] === pairs[i][0] && !seen.has(pairs[j][1])) seen.add(pairs[j++][1]);
      const support = pairs.slice(i, j).map((p) => p[1]);
      const matcher = createLocalMatcher(cv, support.map((f) => features[at.get(f)!]), support, side.matcher);
      const r = matcher.match(features[at.get(pairs[i][0])!]);
      support.forEach((f, k) => (out[i + k] = r.verified[k] + 1e-9 * r.raw[k]));
      i = j;
    }
    return out;
  };
}
