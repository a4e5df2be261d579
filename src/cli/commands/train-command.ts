import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { num, text } from '../option-field.js';
import { common } from '../common-options.js';
import { ALL_TRAIN_OPTIONS, engineChoice, trainSettings } from '../train-options.js';
import { WhaleidError } from '../../util/errors.js';
import { cliReport } from '../cli-report.js';
import { stopOnInterrupt } from '../interrupt.js';
import type { CliIo } from '../io.js';

const TRAIN_COMMAND_OPTIONS = {
  data: common.data.describedAs('dataset to train on (Kaggle layout or one folder per individual)'),
  out: text('--out <path>', 'run folder (checkpoints, log.jsonl, report.html, model/)').asOutput({ kind: 'work' }),
  resume: text('--resume <runDir>', 'continue an interrupted run from its last checkpoint (with its stored settings)'),
  moreMinutes: num('--more-minutes <n>', 'with --resume of a run its time budget finished: train on for this many more minutes (replacing its model/ and onnx/)', 0.01, 100_000),
  ...ALL_TRAIN_OPTIONS,
  quiet: common.quiet,
};

/** `whaleid train`: the Siamese network with the method's pair mining and schedule. */
export function registerTrainCommand(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'train',
    description: 'train a Siamese network (LAP-mined pairs, schedule, checkpoints, validation MAP@5)',
    example: 'whaleid train --data ./catalog --out runs/a --preset cpu --schedule short',
    options: TRAIN_COMMAND_OPTIONS,
    check: (o) => {
      if (o.resume && o.out && o.out !== o.resume) throw new WhaleidError('give either --resume RUN_DIR or --out RUN_DIR, not both');
      if (o.resume && o.recipe) throw new WhaleidError('--recipe starts a new run; a resumed run keeps its stored configuration');
      if (o.moreMinutes !== undefined && !o.resume) throw new WhaleidError('--more-minutes: goes with --resume RUN_DIR (a new budget for a finished run)');
      if (!o.resume && !o.out) throw new WhaleidError('missing --out: the run folder to write');
      if (!o.resume && !o.data) throw new WhaleidError('missing --data: the dataset to train on');
    },
    run: async (o) => {
      const resume = o.resume;
      const runDir = resume ?? o.out ?? '';
      const settings = { ...trainSettings(o), data: o.data ?? '' };
      const { trainRun } = await import('../../pipeline/train-run.js');
      const stop = stopOnInterrupt(io, 'stopping after this step; the last checkpoint is kept (Ctrl-C again to quit now)');
      const { result } = await trainRun(runDir, settings, {
        resume: Boolean(resume), moreMinutes: o.moreMinutes, engine: engineChoice(o), report: cliReport(io, o.quiet, ''), signal: stop.signal,
        // printed once the settings and the dataset passed their checks (a refusal prints one line only)
        onEngine: (e) => {
          if (o.recipe) io.out(`recipe ${o.recipe}: ${JSON.stringify({ ...settings, data: undefined, cacheDir: undefined, schedule: undefined })}`);
          io.out(`engine: ${e.description}`);
        },
      }).finally(() => stop.release());
      if (result.stopped) {
        io.out(`stopped after ${result.epochs} epochs; continue with: whaleid train --resume ${runDir}`);
        io.setExitCode(130);
        return;
      }
      const v = result.validation;
      if (result.skipped > 0) {
        io.err(`${result.skipped} photos were left out of training (see the errors above)`);
        io.setExitCode(1);
      }
      const time = resume ? `${(result.totalSeconds / 60).toFixed(1)} min (this resume: ${(result.seconds / 60).toFixed(1)} min)` : `${(result.seconds / 60).toFixed(1)} min`;
      io.out(`trained ${result.epochs} epochs in ${time}; ${v ? `validation MAP@5 ${v.map5.toFixed(4)} (threshold ${v.threshold}), top-1 ${v.top1.toFixed(3)}` : 'no validation queries'}; report: ${runDir}/report.html`);
    },
  });
}
