import { createPassProgress, createProgress, type Progress } from '../util/progress.js';
import type { TrainHooks } from '../train/trainer.js';
import type { PipelineReport } from '../pipeline/pipeline-report.js';
import type { CliIo } from './io.js';

/**
 * The training progress display shared by every command that trains: a bar over all steps of the
 * schedule (starting where a resumed run stands), the loss and last validation in its text, and
 * the trainer's messages on stderr.
 *
 * @param io - output sinks
 * @param enabled - bar on or off
 * @param indent - prefix of message lines (commands that run steps indent them)
 * @param deadline - the end of the run's time budget (ms since the epoch): the ETA never passes it
 * @returns hooks for startTraining/resumeTraining, and `done()` to close the bar
 * @example
 * const hooks = trainHooks(io, true);
 * await startTraining(runDir, config, hooks);
 * hooks.done();
 */
export function trainHooks(io: CliIo, enabled: boolean, indent = '', deadline?: number): TrainHooks & { done(): void } {
  let bar: Progress | null = null;
  return {
    onMessage: (l) => io.err(`${indent}${l}`),
    onStart: (total, done) => {
      bar = createProgress('train', total, { enabled, start: done, deadline });
    },
    onStep: (status) => bar?.tick(1, status),
    done: () => (bar as Progress | null)?.stop(),
  };
}

/**
 * A pipeline's report on the terminal: step lines on stdout, details on stderr (indented under
 * their step), progress bars on stderr unless `--quiet` or not wanted.
 *
 * @param io - output sinks
 * @param quiet - `--quiet` given
 * @param indent - prefix of detail lines
 * @returns the report
 * @example
 * await runKaggle(options, cliReport(io, o.quiet));
 */
export function cliReport(io: CliIo, quiet: boolean, indent = '  '): PipelineReport {
  const bars = io.progress && !quiet;
  return {
    step: (line) => io.out(line),
    detail: (line) => io.err(`${indent}${line}`),
    progress: (label) => createPassProgress(label, bars),
    training: (options) => trainHooks(io, bars, indent, options?.deadline),
  };
}
