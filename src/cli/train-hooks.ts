import { createProgress, type Progress } from '../util/progress.js';
import type { TrainHooks } from '../train/trainer.js';
import type { CliIo } from './io.js';

/**
 * The training progress display shared by `train`, `bootstrap`, `kaggle` and `demo`: a bar over
 * all steps of the schedule (starting where a resumed run stands), the loss and last validation
 * in its text, and the trainer's messages on stderr.
 *
 * @param io - output sinks
 * @param enabled - bar on or off
 * @param indent - prefix of message lines (commands that run steps indent them)
 * @returns hooks for startTraining/resumeTraining, and `done()` to close the bar
 * @example
 * const hooks = trainHooks(io, true);
 * await startTraining(runDir, config, hooks);
 * hooks.done();
 */
export function trainHooks(io: CliIo, enabled: boolean, indent = ''): TrainHooks & { done(): void } {
  let bar: Progress | null = null;
  return {
    onMessage: (l) => io.err(`${indent}${l}`),
    onStart: (total, done) => {
      bar = createProgress('train', total, { enabled, start: done });
    },
    onStep: (status) => bar?.tick(1, status),
    done: () => (bar as Progress | null)?.stop(),
  };
}
