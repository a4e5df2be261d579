/**
 * How a pipeline tells its caller what it does, without knowing who listens: the CLI prints the
 * lines and draws the bars, a test or a service may collect them or stay silent. Pipelines never
 * print and never read the command line.
 */
import type { TrainHooks } from '../train/trainer.js';

/** The callbacks of a pipeline. */
export interface PipelineReport {
  /** A step's line (started, skipped, done, its result): what the user follows. */
  step(line: string): void;
  /** A detail line (dataset problems, trainer messages, unreadable photos). */
  detail(line: string): void;
  /** A progress callback `(done, total)` for a counted pass (hashing, features, boxes). */
  progress(label: string): (done: number, total: number) => void;
  /**
   * Hooks for one training run (its progress over the schedule); `done()` when it ends. A run
   * with a time budget gives its `deadline` (ms since the epoch): it ends by then at the latest.
   */
  training(options?: { deadline?: number }): TrainHooks & { done(): void };
}

/**
 * A report that says nothing (tests, library use).
 *
 * @returns the report
 * @example
 * await runKaggle(options, silentReport());
 */
export function silentReport(): PipelineReport {
  return { step: () => {}, detail: () => {}, progress: () => () => {}, training: () => ({ done: () => {} }) };
}
