import path from 'node:path';
import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { num, text } from '../option-field.js';
import { common } from '../common-options.js';
import { ALL_TRAIN_OPTIONS, trainSettings, trainingEngine } from '../train-options.js';
import { trainHooks } from '../train-hooks.js';
import { TRAIN_DEFAULTS } from '../../train/train-config.js';
import type { CliIo } from '../io.js';

const minScore = num('--min-score <x>', 'bootstrapping: best score a test photo needs to be pseudo-labelled', 0, 1).withDefault(0.999999);

const BOOTSTRAP_OPTIONS = {
  model: common.model.describedAs('trained run whose confident answers become labels').required('the trained run'),
  data: common.data.describedAs('dataset with test photos').required('the dataset with test photos'),
  out: text('--out <path>', 'new run folder (pseudo-labels.csv lists the labels and scores)').asOutput({ kind: 'work' }).required('the new run folder'),
  minScore,
  tta: common.tta.describedAs('test-time augmentation for the scores').withDefault(0),
  ...ALL_TRAIN_OPTIONS,
  quiet: common.quiet,
};

const KAGGLE_OPTIONS = {
  data: common.data.describedAs('the Kaggle dataset folder').required('the Kaggle dataset folder'),
  out: text('--out <path>', 'working folder (each step is skipped when its output is there)').asOutput({ kind: 'work' }).required('the working folder'),
  tta: common.tta.describedAs('test-time augmentation copies').withDefault(4),
  minScore,
  ...ALL_TRAIN_OPTIONS,
  quiet: common.quiet,
};

/** `whaleid bootstrap` and `whaleid kaggle`. */
export function registerPipelineCommands(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'bootstrap',
    description: 'pseudo-label confident test photos and train again from scratch with them (training flags given replace the run\'s own)',
    example: 'whaleid bootstrap --model runs/a --data ./catalog --min-score 0.999999 --out runs/a-boot',
    options: BOOTSTRAP_OPTIONS,
    run: async (o) => {
      const train = trainSettings(o);
      const { initEngine } = await import('../../model/engine.js');
      await initEngine(trainingEngine(o, train.replicas));
      const { bootstrapRun } = await import('../../predict/bootstrap.js');
      const hooks = trainHooks(io, io.progress && !o.quiet, '  ');
      const { labels, result } = await bootstrapRun({
        runDir: o.model, data: o.data, out: o.out, minScore: o.minScore, tta: o.tta, seed: o.seed ?? TRAIN_DEFAULTS.seed, cacheDir: o.cacheDir, train, hooks,
      });
      hooks.done();
      io.out(`${labels.length} test photos pseudo-labelled (score > ${o.minScore}); retrained ${result.epochs} epochs; validation MAP@5 ${result.validation?.map5.toFixed(4) ?? '-'}`);
    },
  });

  defineCommand(program, {
    name: 'kaggle',
    description: 'the whole pipeline as resumable steps: dedup, train, predict+TTA, bootstrap, predict, ensemble',
    example: 'whaleid kaggle --data ./humpback --out ./work --boxes bounding_boxes.csv --preset method --schedule method',
    options: KAGGLE_OPTIONS,
    run: async (o) => {
      const train = trainSettings(o);
      const { checkSettings, findDuplicatesStep, trainStep, predictStep, bootstrapStep, ensembleStep } = await import('../kaggle-steps.js');
      const ctx = { io, data: o.data, work: o.out, train, opts: { tta: o.tta, minScore: o.minScore, seed: o.seed ?? TRAIN_DEFAULTS.seed, cache: o.cacheDir, boxes: o.boxes, rotate: o.rotate }, hooks: () => trainHooks(io, io.progress && !o.quiet, '  ') };
      checkSettings(ctx);
      const { initEngine } = await import('../../model/engine.js');
      await initEngine(trainingEngine(o, train.replicas));
      await findDuplicatesStep(ctx);
      await trainStep(ctx, 'run1');
      await predictStep(ctx, 'run1');
      await bootstrapStep(ctx, 'run1', 'run2');
      await predictStep(ctx, 'run2');
      await ensembleStep(ctx, ['run1', 'run2']);
      io.out(`done: ${path.join(o.out, 'submission.csv')}`);
    },
  });
}
