/**
 * `whaleid model calibrate --matcher K`: any matcher's calibration (its new-individual threshold
 * and, for the fused matchers, the fusion) fitted by `evaluate-open`'s protocol (seeded split of
 * the individuals into a calibration and a test part) on the user's own labelled photos: a
 * labelled dataset, or the photos of a catalog whose individual a person set (see
 * catalog-labels.ts). The calibration file is written by matcher-calibration.ts, as predict and
 * serve read it.
 */
import { promises as fs } from 'node:fs';
import type { Catalog } from '../catalog/catalog.js';
import { evaluateOpenMatcher } from '../eval/evaluate-matchers.js';
import type { OpenRunOptions } from '../eval/evaluate-run.js';
import { planOpenSet, type OpenSetResult } from '../eval/open-set.js';
import type { Precision } from '../infer/int8-branch.js';
import { writeMatcherCalibration, type MatcherCalibration } from '../infer/matchers/matcher-calibration.js';
import { checkModelCount, type MatcherKind } from '../infer/matchers/matcher-registry.js';
import { WhaleidError } from '../util/errors.js';
import { catalogLabels, labelName, writeLabelledDataset } from './catalog-labels.js';
import type { PipelineReport } from './pipeline-report.js';

/** Where the labelled photos come from: a dataset folder, or an open catalog's decided photos. */
export type LabelledSource =
  | { data: string; boxes?: string; rotate?: string }
  /** `name`: how the catalog is shown; `imports`: its imported individuals count too. */
  | { catalog: Catalog; name: string; imports?: boolean };

/** Options of {@link calibrateMatcher}. */
export interface CalibrateMatcherOptions {
  /** The learned models (runs or imported model folders), as many as the matcher takes. */
  models: readonly string[];
  matcher: MatcherKind;
  source: LabelledSource;
  /** The calibration file to write. */
  out: string;
  /** Replace `out` when it exists (default false: refused). */
  force?: boolean;
  /** The split's seed, shares of new and calibration individuals (evaluate-open's defaults). */
  seed?: number;
  newShare?: number;
  calibrationShare?: number;
  cacheDir?: string;
  precision?: Precision;
}

/** What {@link calibrateMatcher} fitted, measured and wrote. */
export interface CalibrateMatcherResult {
  calibration: MatcherCalibration;
  /** The protocol's result: the threshold's calibration part, and the test part identified with it. */
  result: OpenSetResult;
  /** Labelled photos, and the individuals with 2 photos or more that the split shared out. */
  photos: number;
  individuals: number;
  file: string;
}

/**
 * Refuses, in one line naming the catalog and its counts, a labelled set the protocol cannot
 * split: it needs individuals with two photos or more in both the calibration and the test part.
 */
function checkSplittable(name: string, ids: readonly string[], o: CalibrateMatcherOptions, what: string): void {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  const multi = [...counts.values()].filter((n) => n >= 2).length;
  try {
    planOpenSet(ids, { seed: o.seed, newShare: o.newShare, calibrationShare: o.calibrationShare });
  } catch (e) {
    if (!(e instanceof WhaleidError)) throw e;
    throw new WhaleidError(`${name}: ${ids.length} photos of ${counts.size} individuals ${what} (${multi} with 2 photos or more); calibrating --matcher ${o.matcher} needs individuals with 2 photos or more in both its calibration and its test part (at least 2, more with --calibration-share near 0 or 1)`);
  }
}

/**
 * Fits a matcher's calibration on labelled photos by the open-set protocol and writes it.
 *
 * @param o - models, matcher, source, output file, split, cache
 * @param report - detail lines and the features' progress
 * @returns the calibration, the protocol's figures, the photos and individuals, the file written
 * @throws {@link WhaleidError} for a model count the matcher does not take, too few labelled
 *   individuals, an existing file without `force`, or an unusable model
 * @example
 * const r = await calibrateMatcher({ models: ['runs/a', 'models/vit'], matcher: 'fused', source: { catalog, name: 'whales.db' }, out: 'fused.matcher.json' }, report);
 * r.calibration.threshold; r.result.test.top1;
 */
export async function calibrateMatcher(o: CalibrateMatcherOptions, report: PipelineReport): Promise<CalibrateMatcherResult> {
  checkModelCount(o.matcher, o.models.length);
  if (!o.force) await fs.access(o.out).then(() => { throw new WhaleidError(`${o.out}: exists; give --force to replace the matcher calibration there`); }, () => {});
  const [runDir, ...moreModels] = o.models;
  const base: Omit<OpenRunOptions, 'data'> = {
    runDir, moreModels, seed: o.seed, newShare: o.newShare, calibrationShare: o.calibrationShare, cacheDir: o.cacheDir, precision: o.precision,
    onMessage: (l) => report.detail(l), onFeatures: report.progress('features'),
  };
  let matched: Awaited<ReturnType<typeof evaluateOpenMatcher>>;
  if ('data' in o.source) {
    matched = await evaluateOpenMatcher({ ...base, data: o.source.data, boxes: o.source.boxes, rotate: o.source.rotate }, o.matcher);
  } else {
    const { labels, individuals: n, importsLeftOut } = await catalogLabels(o.source.catalog, { imports: o.source.imports });
    const what = o.source.imports ? 'identified by a decision or their import' : `identified by a person's decision${importsLeftOut ? ` (${importsLeftOut} photos identified by their import left out: --with-imports counts them)` : ''}`;
    checkSplittable(o.source.name, labels.map((l) => labelName(l.individualId)), o, what);
    report.detail(`${o.source.name}: ${labels.length} photos of ${n} individuals ${what}`);
    const { dir, turnedBoxes } = await writeLabelledDataset(o.source.catalog, labels);
    if (turnedBoxes > 0) report.detail(`${turnedBoxes} photos have a turned box: they are cut upright here`);
    try {
      matched = await evaluateOpenMatcher({ ...base, data: dir }, o.matcher);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  await writeMatcherCalibration(o.out, matched.calibration, { replace: o.force === true });
  const { plan } = matched.result;
  return { calibration: matched.calibration, result: matched.result, photos: plan.gallery.length + plan.queries.length, individuals: plan.individuals.calibration.total + plan.individuals.test.total, file: o.out };
}
