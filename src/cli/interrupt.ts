import type { CliIo } from './io.js';

/** A stop signal tied to Ctrl-C, and how to let go of it. */
export interface InterruptStop {
  /** Aborted at the first Ctrl-C (SIGINT). */
  readonly signal: AbortSignal;
  /** Removes the handler (a later Ctrl-C ends the process as usual). */
  release(): void;
}

/**
 * Turns the first Ctrl-C into a stop signal for a long command (training): it finishes the step
 * in progress and ends cleanly, keeping the last checkpoint; a second Ctrl-C ends the process at
 * once (the handler is gone after the first).
 *
 * @param io - where the notice goes
 * @param notice - the line printed at the first Ctrl-C
 * @returns the signal and its release
 * @example
 * const stop = stopOnInterrupt(io, 'stopping after this step (Ctrl-C again to quit now)');
 * try { await resumeTraining(run, { signal: stop.signal }); } finally { stop.release(); }
 */
export function stopOnInterrupt(io: CliIo, notice: string): InterruptStop {
  const controller = new AbortController();
  const onInterrupt = (): void => {
    io.err(notice);
    controller.abort();
  };
  process.once('SIGINT', onInterrupt);
  return { signal: controller.signal, release: () => process.off('SIGINT', onInterrupt) };
}

/**
 * The command line being run, as the user would type it again (`whaleid kaggle --data d ...`):
 * what a stopped command tells the user to run to continue.
 *
 * @param io - the CLI's io (main sets the command line)
 * @returns the command, arguments quoted where the shell needs it
 * @example
 * io.out(`continue with: ${commandLine(io)}`);
 */
export function commandLine(io: CliIo): string {
  const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  return ['whaleid', ...(io.argv ?? []).slice(2)].map(quote).join(' ');
}
