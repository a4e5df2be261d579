import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { commaList, int, num, text } from '../option-field.js';
import { common } from '../common-options.js';
import { newFirstLine, PREDICTION_SUFFIXES } from '../../pipeline/prediction-files.js';
import { WhaleidError } from '../../util/errors.js';
import { DEFAULT_NEW_WHALE_THRESHOLD } from '../../infer/walk.js';
import { createPassProgress } from '../../util/progress.js';
import type { CliIo } from '../io.js';
import { checkScopeMatches } from '../../predict/scope-options.js';

const PREDICT_OPTIONS = {
  model: common.models.required('the training run (or imported model) folder; repeat --model to fuse several with --matcher fused or fused-learned'),
  data: common.data.describedAs('dataset with the test photos').required('the dataset with the test photos'),
  out: common.outFile('submission CSV; the top candidates go to <out>.top.json', PREDICTION_SUFFIXES).required('the submission CSV to write'),
  threshold: num('--threshold <x>', 'new-individual threshold (new_whale in the submission)', 0, 10).showingDefault(`the run's calibrated one, else ${DEFAULT_NEW_WHALE_THRESHOLD}`),
  newShare: num('--new-share <x>', 'choose the threshold so this share of photos gets new_whale first', 0, 1),
  tta: common.tta.withDefault(0),
  matcher: common.matcher,
  matcherCalibration: text('--matcher-calibration <file>', "the <out>.matcher.json of evaluate-open --matcher: its threshold (before the run's), and the fusion of --matcher fused").asInput('file'),
  topK: int('--top-k <n>', 'candidates per photo in <out>.top.json', 1, 1000).withDefault(20),
  scope: commaList('--scope <what>', "scoped matching: what a known photo must share with the test photo, any of species, viewpoint (compatible: left never with right), location (the same location id); read from the dataset's photo_details.csv"),
  scopeKm: num('--scope-km <km>', 'scoped matching: known photos within this many km of the test photo (latitude, longitude columns)', 0),
  scopeDays: int('--scope-days <n>', 'scoped matching: known photos taken within this many days of the test photo (date column)', 0, 36500),
  photoDetails: text('--photo-details <file>', 'the per-photo details CSV of --scope (Image and any of species, viewpoint, location, date, latitude, longitude); default <data>/photo_details.csv').asInput('file'),
  boxes: common.boxes,
  rotate: common.rotate,
  boxModel: text('--box-model <dir>', 'fluke detector for photos without a CSV box (default: the shipped one when the run was trained with boxes, else none); "none": use them whole; its boxes go to <out>.boxes.csv').asInput('folder'),
  backend: common.backend.describedAs('tfjs backend, only for a run trained before the ONNX export (its network is exported from model/; features always use ONNX Runtime)'),
  precision: common.precision,
  cache: common.cache,
  seed: common.seed,
  quiet: common.quiet,
};

/** `whaleid predict`: a Kaggle submission for the test photos of a dataset. */
export function registerPredictCommand(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'predict',
    description: 'identify test photos against the catalog and write a submission (new_whale at the threshold)',
    example: 'whaleid predict --model runs/a --model models/resnet --matcher fused --matcher-calibration eval.csv.matcher.json --data ./catalog --out submission.csv',
    options: PREDICT_OPTIONS,
    check: (opts) => {
      if (opts.threshold !== undefined && opts.newShare !== undefined) throw new WhaleidError('give --threshold or --new-share, not both');
      checkScopeMatches(opts.scope ?? []);
      if (opts.scopeKm === 0) throw new WhaleidError('--scope-km: expected a positive number of km but received 0');
      if (opts.photoDetails !== undefined && !opts.scope && opts.scopeKm === undefined && opts.scopeDays === undefined) throw new WhaleidError('--photo-details is read by --scope, --scope-km or --scope-days; give one of them');
    },
    run: async (opts) => {
      const { model: [runDir, ...moreModels], data, out } = opts;
      const { predictDataset } = await import('../../predict/predict-dataset.js');
      const res = await predictDataset({
        runDir, moreModels, data, threshold: opts.threshold, newShare: opts.newShare, tta: opts.tta, seed: opts.seed, topK: opts.topK,
        boxes: opts.boxes, rotate: opts.rotate, cacheDir: opts.cache, boxModel: opts.boxModel, backend: opts.backend, precision: opts.precision,
        matcher: opts.matcher, matcherCalibration: opts.matcherCalibration,
        scope: opts.scope || opts.scopeKm !== undefined || opts.scopeDays !== undefined ? { match: checkScopeMatches(opts.scope ?? []), km: opts.scopeKm, days: opts.scopeDays, detailsFile: opts.photoDetails } : undefined,
        onMessage: (l) => io.err(l),
        onFeatures: createPassProgress('features', io.progress && !opts.quiet),
        onBoxes: createPassProgress('boxes', io.progress && !opts.quiet),
      });
      const { writePrediction } = await import('../../pipeline/prediction-files.js');
      await writePrediction(out, res);
      io.out(`wrote ${res.predictions.length} predictions to ${out} (threshold ${res.threshold.toPrecision(6)}, ${newFirstLine(res)}, ${res.duplicates} answered from duplicates)`);
      const truth = path.join(data, 'test_truth.csv');
      if (existsSync(truth)) {
        const { scoreSubmissionFiles } = await import('../../eval/submission-files.js');
        const { formatScores } = await import('./score-commands.js');
        io.out(`against ${truth}: ${formatScores(await scoreSubmissionFiles(out, truth))}`);
      }
    },
  });
}
