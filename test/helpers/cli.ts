import { main } from '../../src/cli/main.js';

/** Runs the real CLI in-process and captures its output and exit code. */
export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['node', 'whaleid', ...args], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
    setExitCode: () => {},
    progress: false,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
