/**
 * The processes of a load check: whaleid commands (the real CLI, from the sources through tsx) in
 * child processes, each with its output kept, waited for by a line it prints, stopped by a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** A whaleid command running in a child process. */
export interface CliProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the first match of `re` in its output (rejects when it exits or after `ms`). */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves when it has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
  /**
   * Sends `signal` the moment its output (from now on) matches `re`: in the handler of the output
   * itself, so the process is stopped within a millisecond of printing it.
   * @returns the match
   */
  killWhen(re: RegExp, signal: NodeJS.Signals, ms?: number): Promise<RegExpMatchArray>;
}

/**
 * Writes the launcher the children run (`main` of src/cli through tsx) into `dir`.
 *
 * @param dir - a work folder
 * @returns the script's path
 */
export function cliLauncher(dir: string): string {
  const script = path.join(dir, 'whaleid.mts');
  writeFileSync(script, `import { main } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../src/cli/main.ts'))};\nprocess.exitCode = await main(process.argv);\n`);
  return script;
}

/**
 * Starts `whaleid <args>` in a child process.
 *
 * @param launcher - from {@link cliLauncher}
 * @param name - how it is called in messages
 * @param args - the command line after `whaleid`
 * @returns the process
 */
export function startCli(launcher: string, name: string, args: string[]): CliProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', launcher, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WHALEID_TOKEN: undefined } });
  let text = '';
  const add = (b: Buffer): void => {
    text = (text + b.toString()).slice(-200_000);
  };
  child.stdout!.on('data', add);
  child.stderr!.on('data', add);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const killWhen = (re: RegExp, signal: NodeJS.Signals, ms = 60_000): Promise<RegExpMatchArray> => new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      child.stderr!.off('data', look);
      reject(new Error(`${name}: no ${re} within ${ms} ms`));
    }, ms);
    const look = (b: Buffer): void => {
      seen += b.toString();
      const m = re.exec(seen);
      if (!m) return;
      child.kill(signal);
      clearTimeout(timer);
      child.stderr!.off('data', look);
      resolve(m);
    };
    child.stderr!.on('data', look);
  });
  return {
    name,
    child,
    killWhen,
    exited,
    output: () => text,
    kill: (signal) => void child.kill(signal),
    waitFor(re, ms = 120_000) {
      const end = Date.now() + ms;
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(text);
          if (m) return resolve(m);
          if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before printing ${re}:\n${text.slice(-3000)}`));
          if (Date.now() > end) return reject(new Error(`${name}: no ${re} within ${ms} ms:\n${text.slice(-3000)}`));
          setTimeout(check, 100);
        };
        check();
      });
    },
  };
}

/**
 * Polls `ok` until it is true.
 *
 * @param what - named in the timeout's error
 * @param ok - the condition
 * @param ms - how long at most
 */
export async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
