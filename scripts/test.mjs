#!/usr/bin/env node
// `npm test`: the type check (`npm run typecheck`) and the lint (`npm run lint`) run beside the
// test suite (`vitest run`, with any arguments given to this script) instead of before it, at a
// lower CPU priority while the suite runs, so on a 2-core machine they take the moments the suite's
// files spend waiting (on child processes, servers, Chromium) instead of a minute of their own
// before it (measured: 41 s and 27 s of CPU, one core each). Their output is printed after the suite's; the exit status is the first
// failure's: the suite's, then the type check's, then the lint's.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const scripts = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts;
// npm puts node_modules/.bin on PATH for `npm test`; for `node scripts/test.mjs`, so does this
const env = { ...process.env, PATH: `${path.join(root, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}` };

/** Sets a process's priority where permitted (raising one back needs privileges: then it stays lower). */
function setPriority(pid, priority) {
  try {
    os.setPriority(pid, Math.min(19, priority));
  } catch {
    // not permitted, or it has exited
  }
}

/** Runs a package.json script's command, its output kept; resolves with its exit status and output. */
function check(name) {
  // exec: the shell becomes the command, so its priority can be set by this pid
  const child = spawn(process.platform === 'win32' ? scripts[name] : `exec ${scripts[name]}`, { cwd: root, env, shell: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ name, code: code ?? (signal ? 1 : 0), out })));
  return { pid: child.pid, done };
}

const priority = os.getPriority();
const checks = [check('typecheck'), check('lint')];
// below the suite while it runs (nice 5: a quarter of the CPU where it competes with the suite's processes)
for (const c of checks) setPriority(c.pid, priority + 5);
const vitest = spawn('vitest', ['run', ...process.argv.slice(2)], { cwd: root, env, stdio: 'inherit', shell: process.platform === 'win32' });
const suite = await new Promise((resolve) => vitest.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
// the suite is done: what is left of the checks runs at this script's priority again
for (const c of checks) setPriority(c.pid, priority);
let status = suite;
for (const { name, code, out } of await Promise.all(checks.map((c) => c.done))) {
  console.log(`\nnpm run ${name} (${scripts[name]}): ${code === 0 ? 'passed' : `failed (exit ${code})`}`);
  if (out.trim()) console.log(out.trimEnd());
  if (status === 0) status = code;
}
process.exit(status);
