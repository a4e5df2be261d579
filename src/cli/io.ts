/**
 * Where a command writes. Commands never call `console`/`process.exit` directly so that tests can
 * run the real CLI in-process and read what it printed and the exit code it chose.
 */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  setExitCode(code: number): void;
  /** Progress displays on (false under `--quiet` and in tests). */
  progress: boolean;
  /** The command line being run (set by main), to tell the user the command that continues it. */
  argv?: readonly string[];
}
