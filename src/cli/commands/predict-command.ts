import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { defineCommand, commonFlags, requireOption } from '../options.js';
import { parseIntOption, parseNumberOption, WhaleidError } from '../../util/errors.js';
import { createPassProgress } from '../../util/progress.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { defaultCacheDir } from './image-commands.js';
import type { CliIo } from '../io.js';

/** `whaleid predict`: a Kaggle submission for the test photos of a dataset. */
export function registerPredictCommand(program: Command, io: CliIo): void {
  defineCommand(program, 'predict', 'identify test photos against the catalog and write a submission (new_whale at the threshold)', 'whaleid predict --model runs/a --data ./catalog --out submission.csv --tta 4')
    .addOption(new Option('--model <runDir>', 'training run folder'))
    .addOption(commonFlags.data())
    .addOption(commonFlags.out('submission CSV; the top candidates go to <out>.top.json'))
    .addOption(new Option('--threshold <x>', 'new_whale threshold (default: the run\'s calibrated one, else 0.99)').argParser((v) => parseNumberOption('--threshold', v, 0, 10)))
    .addOption(new Option('--new-share <x>', 'choose the threshold so this share of photos gets new_whale first').argParser((v) => parseNumberOption('--new-share', v, 0, 1)))
    .addOption(new Option('--tta <n>', 'augmented copies per test photo, averaged with the original').default(0).argParser((v) => parseIntOption('--tta', v, 0, 64)))
    .addOption(new Option('--top-k <n>', 'candidates per photo in <out>.top.json').default(20).argParser((v) => parseIntOption('--top-k', v, 1, 1000)))
    .addOption(new Option('--boxes <csv>', 'boxes CSV (default: <data>/bounding_boxes.csv if present)'))
    .addOption(new Option('--rotate <list>', 'photos to turn 180 degrees (default: <data>/rotate.txt if present)'))
    .addOption(new Option('--box-model <dir>', 'fluke detector for photos without a CSV box (default: the shipped one when the run was trained with boxes, else none); "none": use them whole; its boxes go to <out>.boxes.csv'))
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['wasm', 'cpu']).default('wasm'))
    .addOption(new Option('--cache <dir>', 'decoded-photo cache folder').default(defaultCacheDir()))
    .addOption(commonFlags.seed())
    .addOption(commonFlags.quiet())
    .action(async (opts: { model?: string; data?: string; out?: string; threshold?: number; newShare?: number; tta: number; topK: number; boxes?: string; rotate?: string; boxModel?: string; backend: 'wasm' | 'cpu'; cache: string; seed: number; quiet?: boolean }) => {
      const runDir = requireOption(opts.model, '--model', 'the training run folder');
      const data = requireOption(opts.data, '--data', 'the dataset with the test photos');
      const out = requireOption(opts.out, '--out', 'the submission CSV to write');
      if (opts.threshold !== undefined && opts.newShare !== undefined) throw new WhaleidError('give --threshold or --new-share, not both');
      const { initEngine } = await import('../../model/engine.js');
      await initEngine({ backend: opts.backend });
      const { predictDataset } = await import('../../predict/predict-dataset.js');
      const res = await predictDataset({
        runDir, data, threshold: opts.threshold, newShare: opts.newShare, tta: opts.tta, seed: opts.seed, topK: opts.topK,
        boxes: opts.boxes, rotate: opts.rotate, cacheDir: opts.cache, boxModel: opts.boxModel,
        onMessage: (l) => io.err(l),
        onFeatures: createPassProgress('features', io.progress && !opts.quiet),
        onBoxes: createPassProgress('boxes', io.progress && !opts.quiet),
      });
      const { writeSubmission } = await import('../../data/submission.js');
      await writeSubmission(out, res.predictions);
      await writeFileAtomic(`${out}.top.json`, JSON.stringify(res.top, null, 1));
      if (res.predictedBoxes.size > 0) {
        const { writeBoxes } = await import('../../image/boxes.js');
        await writeBoxes(`${out}.boxes.csv`, res.predictedBoxes);
      }
      io.out(`wrote ${res.predictions.length} predictions to ${out} (threshold ${res.threshold.toPrecision(6)}, ${(res.newFirstShare * 100).toFixed(1)}% new_whale first, ${res.duplicates} answered from duplicates)`);
      const truth = path.join(data, 'test_truth.csv');
      if (existsSync(truth)) {
        const { evaluateFiles, formatScores } = await import('./score-commands.js');
        io.out(`against ${truth}: ${formatScores(await evaluateFiles(out, truth))}`);
      }
    });
}
