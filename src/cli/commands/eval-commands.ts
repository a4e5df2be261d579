import path from 'node:path';
import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { commaList, int, num, switchOn, text } from '../option-field.js';
import { common } from '../common-options.js';
import { WhaleidError } from '../../util/errors.js';
import { createPassProgress } from '../../util/progress.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { MATCHER_KINDS, matcherOf } from '../../infer/matchers/matcher-registry.js';
import type { CliIo } from '../io.js';

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

/** A progress bar for feature extraction that restarts for each pass. */
function featureProgress(io: CliIo, quiet: boolean | undefined): (done: number, total: number) => void {
  return createPassProgress('features', io.progress && !quiet);
}

const backend = common.backend.describedAs('tfjs backend, only for a run trained before the ONNX export (its network is exported from model/; features always use ONNX Runtime)');

// features, not scores, averaged over the copies: see RunScorerOptions.tta
const tta = common.tta.describedAs('augmented copies of every photo: its features are the mean over the photo and them (Omniglot one-shot: +1.8 points with 4)').withDefault(0);

const OPEN_OPTIONS = {
  model: common.models.required('the training run (or imported model) folder; repeat --model to fuse several with --matcher fused or fused-learned'),
  data: common.data.describedAs('labelled dataset not used in training').required('a labelled dataset that was not used in training'),
  splitSeed: int('--split-seed <n>', 'seed of the gallery/query/calibration split').withDefault(0),
  newShare: num('--new-share <x>', 'share of individuals that keep no gallery photo (their queries are new_whale)', 0, 0.95).withDefault(0.3),
  calibrationShare: num('--calibration-share <x>', 'share of individuals whose queries calibrate the threshold (never the scored queries)', 0.01, 0.99).withDefault(0.3),
  out: common.outFile('per-query results CSV; a summary goes to <out>.json and the calibration of the matcher (threshold; fusion), for predict and serve, to <out>.matcher.json', ['.json', '.matcher.json']).withDefaultFrom((v) => path.join(String((v.model as string[] | undefined)?.[0]), 'evaluate-open.csv'), '<first model>/evaluate-open.csv'),
  matcher: common.matcher,
  tta,
  boxes: common.boxes,
  rotate: common.rotate,
  backend,
  precision: common.precision,
  cache: common.cache,
  quiet: common.quiet,
};

const ONESHOT_OPTIONS = {
  model: common.models.required('the training run (or imported model) folder (one: fusing several models needs a calibration part, which the one-shot task has not)'),
  runs: text('--runs <dir>', 'folder of runNN/ folders (training/classMM.png, test/itemKK.png, class_labels.txt)').asInput('folder'),
  data: common.data.describedAs('labelled dataset to draw trials from (instead of --runs)'),
  ways: int('--ways <n>', 'with --data: classes per trial', 2, 10000).withDefault(20),
  trials: int('--trials <n>', 'with --data: number of trials (one query each)', 1, 1_000_000).withDefault(400),
  sameGroup: switchOn('--same-group', "with --data: the classes of a trial share their top-level folder (Omniglot: one alphabet), as in Lake's runs"),
  only: commaList('--only <folders>', 'with --data: comma-separated top-level folders to draw from'),
  out: common.outFile('per-query results CSV (optional)'),
  matcher: common.matcher.describedAs('which score identifies: siamese or local (fused needs a calibration part, which the one-shot task has not)'),
  seed: common.seed,
  precision: common.precision,
  tta,
  backend,
  cache: common.cache,
  quiet: common.quiet,
};

/**
 * Registers `whaleid evaluate-open` and `whaleid evaluate-oneshot`, the evaluation protocols of a
 * trained run on labelled data it was not trained on.
 *
 * @param program - the whaleid program
 * @param io - where output goes
 * @example
 * registerEvalCommands(program, io);
 */
export function registerEvalCommands(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'evaluate-open',
    description: 'open-set identification on labelled data not used in training: MAP@5, top-1/5, calibrated threshold, new-individual precision/recall',
    example: 'whaleid evaluate-open --model runs/a --model models/resnet --matcher fused --data ../shared/datasets/nyala-train --split-seed 1 --new-share 0.3',
    options: OPEN_OPTIONS,
    run: async (opts) => {
      const { model: [runDir, ...moreModels], data, out } = opts;
      const { evaluateOpenMatcher } = await import('../../eval/evaluate-matchers.js');
      const { calibrationFileOf, writeMatcherCalibration } = await import('../../infer/matchers/matcher-calibration.js');
      const runOptions = {
        runDir, moreModels, data, backend: opts.backend, precision: opts.precision, seed: opts.splitSeed, newShare: opts.newShare, calibrationShare: opts.calibrationShare, boxes: opts.boxes, rotate: opts.rotate, cacheDir: opts.cache, tta: opts.tta,
        onMessage: (l: string) => io.err(l), onFeatures: featureProgress(io, opts.quiet),
      };
      const matched = await evaluateOpenMatcher(runOptions, opts.matcher);
      const res = matched.result;
      const { plan, calibration: cal, test, newWhale: nw } = res;
      io.out(`gallery ${plan.gallery.length} photos; calibration ${cal.queries} queries of ${plan.individuals.calibration.total} individuals (${plan.individuals.calibration.new} new); test ${test.count} queries of ${plan.individuals.test.total} individuals (${plan.individuals.test.new} new)`);
      io.out(`threshold ${cal.threshold.toPrecision(6)} (calibrated on the calibration part: MAP@5 ${cal.map5.toFixed(4)})`);
      io.out(`test: MAP@5 ${test.map5.toFixed(4)}  top-1 ${pct(test.top1)}  top-5 ${pct(test.top5)}`);
      io.out(`new individual: precision ${pct(nw.precision)} (${nw.correct}/${nw.predicted})  recall ${pct(nw.recall)} (${nw.correct}/${nw.actual})`);
      const { writeCsvFile } = await import('../../data/csv-file.js');
      await writeCsvFile(out, ['Image', 'Part', 'Truth', 'Predicted', 'AP', 'BestScore'], res.queries.map((q) => [q.image, q.part, q.truth, q.predicted.join(' '), q.ap, q.bestScore]));
      await writeMatcherCalibration(calibrationFileOf(out), matched.calibration);
      io.out(`wrote the ${opts.matcher} matcher's calibration (threshold${matched.calibration.fusion ? ', fusion' : ''}) to ${calibrationFileOf(out)}`);
      const summary = { model: opts.model.length > 1 ? opts.model : runDir, data, matcher: opts.matcher, splitSeed: opts.splitSeed, newShare: opts.newShare, calibrationShare: opts.calibrationShare, gallery: plan.gallery.length, individuals: plan.individuals, calibration: cal, test, newWhale: nw };
      await writeFileAtomic(`${out}.json`, JSON.stringify(summary, null, 1));
      io.out(`wrote ${res.queries.length} per-query results to ${out}`);
    },
  });

  defineCommand(program, {
    name: 'evaluate-oneshot',
    description: "N-way one-shot accuracy (Lake et al.'s task): on runNN/ folders, or on trials drawn from a labelled dataset",
    example: 'whaleid evaluate-oneshot --model runs/omni --data images_background_small2 --only Tagalog,Sanskrit --ways 20 --trials 400 --same-group',
    options: ONESHOT_OPTIONS,
    check: (opts) => {
      if (opts.model.length > 1) throw new WhaleidError(`evaluate-oneshot takes one --model (got ${opts.model.length}): fusing several models needs a calibration part to fit the fusion on, which the one-shot task has not; evaluate-open --matcher fused-learned measures them fused`);
      if (opts.runs && opts.data) throw new WhaleidError('give --runs or --data, not both');
      if (!opts.runs && !opts.data) throw new WhaleidError('missing --runs or --data: one-shot run folders, or a labelled dataset to draw trials from');
    },
    run: async (opts) => {
      const [runDir] = opts.model;
      const matcher = matcherOf(opts.matcher);
      if (!matcher.oneShot) throw new WhaleidError(`evaluate-oneshot --matcher ${opts.matcher}: the one-shot task has no calibration part to fit the fusion on; use ${MATCHER_KINDS.filter((k) => matcherOf(k).oneShot).join(' or ')} (evaluate-open measures ${opts.matcher})`);
      const { evaluateOneShotRun } = await import('../../eval/evaluate-run.js');
      const { localPairScorer } = await import('../../eval/evaluate-matchers.js');
      const { localSideFor } = await import('../../infer/fusion/gallery-scores.js');
      const res = await evaluateOneShotRun({
        runDir, backend: opts.backend, precision: opts.precision, runs: opts.runs, data: opts.data, only: opts.only, ways: opts.ways, trials: opts.trials, sameGroup: opts.sameGroup, seed: opts.seed, cacheDir: opts.cache, tta: opts.tta,
        scorePairs: matcher.describes.local ? localPairScorer(localSideFor(opts.cache)) : undefined,
        onMessage: (l) => io.err(l), onFeatures: featureProgress(io, opts.quiet),
      });
      // Lake's runs are few and named: one line each; drawn trials have one query each, so only the total
      if (opts.runs) for (const r of res.runs) io.out(`${r.name}: ${pct(r.accuracy)} (${r.correct}/${r.count})`);
      const ways = opts.runs ? '' : `${opts.ways}-way `;
      io.out(`${ways}one-shot accuracy: mean over ${res.runs.length} run(s) ${pct(res.meanAccuracy)}; ${res.items.length} queries ${pct(res.pooledAccuracy)} +- ${pct(1.96 * res.standardError)} (95%)`);
      if (opts.out) {
        const { writeCsvFile } = await import('../../data/csv-file.js');
        await writeCsvFile(opts.out, ['Run', 'Query', 'Truth', 'Predicted', 'Correct', 'Rank'], res.items.map((i) => [i.trial, i.query, i.truth, i.predicted, i.correct, i.rank]));
        io.out(`wrote ${res.items.length} per-query results to ${opts.out}`);
      }
    },
  });
}
