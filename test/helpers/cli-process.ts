/**
 * The processes of a load check: whaleid commands (the real CLI, from the sources through tsx) in
 * child processes, each with its output kept, waited for by a line it prints, stopped by a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
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

/** The repository. */
const ROOT = path.resolve(import.meta.dirname, '../..');

/** Every source module under `dir` (not tests, not declarations), recursively. */
function sourceModules(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.join(e.parentPath, e.name));
}

let compiled: boolean | undefined;

/**
 * Whether dist/ holds the current build of every source module (each .js at least as new as its
 * .ts): then child processes run the compiled CLI, which starts in a third of the time the sources
 * take through tsx (measured: 0.16 s against 0.6-0.8 s of CPU for `whaleid --version`; test files
 * start dozens of them). `npm ci` builds dist/ after the checkout (the `prepare` script), so CI
 * runs the compiled CLI; a source edited since the last `npm run build` sends every child back to
 * the sources, so a test never runs stale code.
 */
export function compiledCliIsCurrent(): boolean {
  if (compiled !== undefined) return compiled;
  const src = path.join(ROOT, 'src');
  compiled = existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')) && sourceModules(src).every((file) => {
    const built = path.join(ROOT, 'dist', path.relative(src, file)).replace(/\.ts$/, '.js');
    return existsSync(built) && statSync(built).mtimeMs >= statSync(file).mtimeMs;
  });
  return compiled;
}

/**
 * Writes the launcher the children run into `dir`: `main` of the compiled CLI when dist/ is
 * current ({@link compiledCliIsCurrent}), else of src/cli through tsx.
 *
 * @param dir - a work folder
 * @returns the script's path (run it with {@link launcherArgs})
 */
export function cliLauncher(dir: string): string {
  const compiledMain = compiledCliIsCurrent();
  const script = path.join(dir, compiledMain ? 'whaleid.mjs' : 'whaleid.mts');
  const main = compiledMain ? path.join(ROOT, 'dist', 'cli', 'main.js') : path.join(ROOT, 'src', 'cli', 'main.ts');
  writeFileSync(script, `import { main } from ${JSON.stringify(main)};\nprocess.exitCode = await main(process.argv);\n`);
  return script;
}

/**
 * Node's arguments that run a launcher: through tsx for the sources' one, as it is for the
 * compiled one.
 *
 * @param launcher - from {@link cliLauncher}
 * @returns the arguments before the command line
 * @example
 * spawn(process.execPath, [...launcherArgs(cliLauncher(dir)), 'train', '--help']);
 */
export function launcherArgs(launcher: string): string[] {
  return launcher.endsWith('.mts') ? ['--import', 'tsx', launcher] : [launcher];
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
  const child = spawn(process.execPath, [...launcherArgs(launcher), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WHALEID_TOKEN: undefined } });
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
