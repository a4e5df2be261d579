import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { num, text } from '../option-field.js';
import { common } from '../common-options.js';
import { ALL_TRAIN_OPTIONS, engineChoice, trainSettings } from '../train-options.js';
import { cliReport } from '../cli-report.js';
import { commandLine, stopOnInterrupt } from '../interrupt.js';
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
    description: "pseudo-label confident test photos and train again from scratch with them (training flags given replace the run's own)",
    example: 'whaleid bootstrap --model runs/a --data ./catalog --min-score 0.999999 --out runs/a-boot',
    options: BOOTSTRAP_OPTIONS,
    run: async (o) => {
      const { bootstrapRun } = await import('../../pipeline/bootstrap.js');
      const train = trainSettings(o);
      const stop = stopOnInterrupt(io, 'stopping after this step; the pseudo-labels and the last checkpoint are kept (Ctrl-C again to quit now)');
      const { labels, result } = await bootstrapRun(
        { runDir: o.model, data: o.data, out: o.out, minScore: o.minScore, tta: o.tta, seed: o.seed ?? TRAIN_DEFAULTS.seed, cacheDir: o.cacheDir, train, engine: engineChoice(o), signal: stop.signal },
        cliReport(io, o.quiet),
      ).finally(() => stop.release());
      if (!result) {
        io.out(`no test photo scored above ${o.minScore}: no pseudo-labels, so no second run (it would train on the same data as ${o.model}); ${o.out} holds the empty label lists`);
        return;
      }
      if (result.stopped) {
        io.out(`stopped after ${result.epochs} epochs; continue with: ${commandLine(io)}`);
        io.setExitCode(130);
        return;
      }
      io.out(`${labels.length} test photos pseudo-labelled (score > ${o.minScore}); retrained ${result.epochs} epochs; validation MAP@5 ${result.validation?.map5.toFixed(4) ?? '-'}`);
    },
  });

  defineCommand(program, {
    name: 'kaggle',
    description: 'the whole pipeline as resumable steps: dedup, train, predict+TTA, bootstrap, predict, ensemble',
    example: 'whaleid kaggle --data ./humpback --out ./work --boxes bounding_boxes.csv --preset method --schedule method',
    options: KAGGLE_OPTIONS,
    run: async (o) => {
      const { runKaggle } = await import('../../pipeline/kaggle.js');
      const stop = stopOnInterrupt(io, 'stopping after the step in progress (a training: after its current step); what is done is kept (Ctrl-C again to quit now)');
      const outcome = await runKaggle({ data: o.data, work: o.out, train: trainSettings(o), engine: engineChoice(o), tta: o.tta, minScore: o.minScore }, cliReport(io, o.quiet), stop.signal).finally(() => stop.release());
      if (outcome.stopped) {
        io.out(`stopped; kept: ${outcome.kept.join(', ') || 'nothing yet'}; continue with: ${commandLine(io)}`);
        io.setExitCode(130);
        return;
      }
      io.out(`done: ${outcome.submission}`);
    },
  });
}
