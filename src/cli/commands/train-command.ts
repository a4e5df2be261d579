import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { text } from '../option-field.js';
import { common } from '../common-options.js';
import { ALL_TRAIN_OPTIONS, trainSettings, trainingEngine } from '../train-options.js';
import { WhaleidError } from '../../util/errors.js';
import { trainHooks } from '../train-hooks.js';
import { stopOnInterrupt } from '../interrupt.js';
import type { CliIo } from '../io.js';
import { readRunConfig } from '../../model/run-folder.js';

/** The stored replica count of the run in `runDir` (none when there is no run: the trainer says so). */
function storedReplicas(runDir: string): number | undefined {
  const replicas = readRunConfig(runDir)?.replicas;
  return typeof replicas === 'number' ? replicas : undefined;
}

const TRAIN_COMMAND_OPTIONS = {
  data: common.data.describedAs('dataset to train on (Kaggle layout or one folder per individual)'),
  out: text('--out <path>', 'run folder (checkpoints, log.jsonl, report.html, model/)').asOutput({ kind: 'work' }),
  resume: text('--resume <runDir>', 'continue an interrupted run from its last checkpoint'),
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
    run: async (o) => {
      const resume = o.resume;
      if (resume && o.out && o.out !== resume) throw new WhaleidError('give either --resume RUN_DIR or --out RUN_DIR, not both');
      if (resume && o.recipe) throw new WhaleidError('--recipe starts a new run; a resumed run keeps its stored configuration');
      const runDir = resume ?? o.out;
      if (!runDir) throw new WhaleidError('missing --out: the run folder to write');
      const data = resume ? (o.data ?? '') : o.data;
      if (!resume && !data) throw new WhaleidError('missing --data: the dataset to train on');
      const settings = { ...trainSettings(o), data: data ?? '' };
      const { initEngine } = await import('../../model/engine.js');
      // replicas run single-threaded each (a resumed run keeps its own count)
      const replicas = o.replicas ?? (resume ? (storedReplicas(resume) ?? 1) : 1);
      const engine = await initEngine(trainingEngine(o, replicas));
      io.out(`engine: tfjs ${engine.backend}, ${engine.threads} thread(s)${replicas > 1 ? ` x ${replicas} replicas` : ''}`);
      const { startTraining, resumeTraining } = await import('../../train/trainer.js');
      const hooks = trainHooks(io, io.progress && !o.quiet);
      if (o.recipe) io.out(`recipe ${o.recipe}: ${JSON.stringify({ ...settings, data: undefined, cacheDir: undefined, schedule: undefined })}`);
      const stop = stopOnInterrupt(io, 'stopping after this step; the last checkpoint is kept (Ctrl-C again to quit now)');
      const options = { ...hooks, signal: stop.signal };
      let result;
      try {
        result = resume ? await resumeTraining(runDir, options) : await startTraining(runDir, settings, options);
      } finally {
        stop.release();
        hooks.done();
      }
      if (result.stopped) {
        io.out(`stopped after ${result.epochs} epochs; continue with: whaleid train --resume ${runDir}`);
        io.setExitCode(130);
        return;
      }
      const v = result.validation;
      io.out(`trained ${result.epochs} epochs in ${(result.seconds / 60).toFixed(1)} min; ${v ? `validation MAP@5 ${v.map5.toFixed(4)} (threshold ${v.threshold}), top-1 ${v.top1.toFixed(3)}` : 'no validation queries'}; report: ${runDir}/report.html`);
    },
  });
}
