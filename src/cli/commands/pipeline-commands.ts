import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { defineCommand, commonFlags, requireOption } from '../options.js';
import { parseIntOption, parseNumberOption } from '../../util/errors.js';
import { trainHooks } from '../train-hooks.js';
import { defaultCacheDir } from './image-commands.js';
import type { CliIo } from '../io.js';

/** `whaleid bootstrap` and `whaleid kaggle`. */
export function registerPipelineCommands(program: Command, io: CliIo): void {
  defineCommand(program, 'bootstrap', 'pseudo-label confident test photos and train again from scratch with them', 'whaleid bootstrap --model runs/a --data ./catalog --min-score 0.999999 --out runs/a-boot')
    .addOption(new Option('--model <runDir>', 'trained run'))
    .addOption(commonFlags.data())
    .addOption(commonFlags.out('new run folder (pseudo-labels.csv lists the labels and scores)'))
    .addOption(new Option('--min-score <x>', 'best score a test photo needs to be labelled').default(0.999999).argParser((v) => parseNumberOption('--min-score', v, 0, 1)))
    .addOption(new Option('--tta <n>', 'test-time augmentation for the scores').default(0).argParser((v) => parseIntOption('--tta', v, 0, 64)))
    .addOption(new Option('--cache <dir>', 'decoded-photo cache folder').default(defaultCacheDir()))
    .addOption(commonFlags.seed())
    .addOption(commonFlags.quiet())
    .action(async (opts: { model?: string; data?: string; out?: string; minScore: number; tta: number; cache: string; seed: number; quiet?: boolean }) => {
      const { initEngine } = await import('../../model/engine.js');
      await initEngine({ backend: 'wasm' });
      const { bootstrapRun } = await import('../../predict/bootstrap.js');
      const hooks = trainHooks(io, io.progress && !opts.quiet, '  ');
      const { labels, result } = await bootstrapRun({
        runDir: requireOption(opts.model, '--model', 'the trained run'),
        data: requireOption(opts.data, '--data', 'the dataset with test photos'),
        out: requireOption(opts.out, '--out', 'the new run folder'),
        minScore: opts.minScore, tta: opts.tta, seed: opts.seed, cacheDir: opts.cache, hooks,
      });
      hooks.done();
      io.out(`${labels.length} test photos pseudo-labelled (score > ${opts.minScore}); retrained ${result.epochs} epochs; validation MAP@5 ${result.validation?.map5.toFixed(4) ?? '-'}`);
    });

  defineCommand(program, 'kaggle', 'the whole pipeline as resumable steps: dedup, train, predict+TTA, bootstrap, predict, ensemble', 'whaleid kaggle --data ./humpback --out ./work --boxes bounding_boxes.csv --preset kernel --schedule kernel')
    .addOption(commonFlags.data())
    .addOption(commonFlags.out('working folder (each step is skipped when its output is there)'))
    .addOption(new Option('--boxes <csv>', 'boxes CSV (Image,x0,y0,x1,y1)'))
    .addOption(new Option('--rotate <list>', 'photos to turn 180 degrees'))
    .addOption(new Option('--exclude <list>', 'photos to leave out of training'))
    .addOption(new Option('--preset <name>', 'model preset').choices(['kernel', 'cpu', 'tiny']).default('cpu'))
    .addOption(new Option('--schedule <name>', 'training schedule').default('short'))
    .addOption(new Option('--tta <n>', 'test-time augmentation copies').default(4).argParser((v) => parseIntOption('--tta', v, 0, 64)))
    .addOption(new Option('--min-score <x>', 'bootstrapping: best score needed for a pseudo-label').default(0.999999).argParser((v) => parseNumberOption('--min-score', v, 0, 1)))
    .addOption(new Option('--cache <dir>', 'decoded-photo cache folder').default(defaultCacheDir()))
    .addOption(commonFlags.seed())
    .addOption(commonFlags.threads())
    .addOption(commonFlags.quiet())
    .action(async (opts: { data?: string; out?: string; boxes?: string; rotate?: string; exclude?: string; preset: string; schedule: string; tta: number; minScore: number; cache: string; seed: number; threads: number; quiet?: boolean }) => {
      const data = requireOption(opts.data, '--data', 'the Kaggle dataset folder');
      const work = requireOption(opts.out, '--out', 'the working folder');
      const { initEngine } = await import('../../model/engine.js');
      await initEngine({ backend: 'wasm', threads: opts.threads });
      const { findDuplicatesStep, trainStep, predictStep, bootstrapStep, ensembleStep } = await import('../kaggle-steps.js');
      const ctx = { io, data, work, opts, hooks: () => trainHooks(io, io.progress && !opts.quiet, '  ') };
      await findDuplicatesStep(ctx);
      await trainStep(ctx, 'run1');
      await predictStep(ctx, 'run1');
      await bootstrapStep(ctx, 'run1', 'run2');
      await predictStep(ctx, 'run2');
      await ensembleStep(ctx, ['run1', 'run2']);
      io.out(`done: ${path.join(work, 'submission.csv')}${existsSync(path.join(data, 'test_truth.csv')) ? '' : ''}`);
    });
}
