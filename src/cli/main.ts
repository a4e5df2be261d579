import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { WhaleidError } from '../util/errors.js';
import type { CliIo } from './io.js';
import { registerDataCommands } from './commands/data-commands.js';
import { registerScoreCommands } from './commands/score-commands.js';
import { registerSynthCommand } from './commands/synth-command.js';
import { registerDemoCommand } from './commands/demo-command.js';
import { registerImageCommands } from './commands/image-commands.js';
import { registerTrainCommand } from './commands/train-command.js';
import { registerPredictCommand } from './commands/predict-command.js';
import { registerPipelineCommands } from './commands/pipeline-commands.js';
import { registerEvalCommands } from './commands/eval-commands.js';
import { registerBoxesCommand } from './commands/boxes-command.js';
import { registerModelCommand } from './commands/model-command.js';
import { registerServeCommands } from './commands/serve-commands.js';
import { registerDoctorCommand } from './commands/doctor-command.js';
import { registerWorkerCommand } from './commands/worker-command.js';
import { registerQuantizeCommand } from './commands/quantize-command.js';
import { registerUsersCommand } from './commands/users-command.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/**
 * Builds the `whaleid` program. Kept separate from {@link main} so tests can inspect commands.
 *
 * @param io - where output goes
 * @returns the commander program
 * @example
 * buildProgram(io).commands.map((c) => c.name());
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command('whaleid')
    .description('Identify individual whales (and other marked animals) from photos')
    .version(pkg.version)
    .option('--verbose', 'show stack traces of errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  program.addHelpText('after', '\nExample:\n  $ whaleid synth --out catalog --individuals 200 && whaleid validate --data catalog\n');
  registerSynthCommand(program, io);
  registerDataCommands(program, io);
  registerScoreCommands(program, io);
  registerImageCommands(program, io);
  registerTrainCommand(program, io);
  registerPredictCommand(program, io);
  registerPipelineCommands(program, io);
  registerEvalCommands(program, io);
  registerBoxesCommand(program, io);
  registerModelCommand(program, io);
  registerServeCommands(program, io);
  registerWorkerCommand(program, io);
  registerUsersCommand(program, io);
  registerQuantizeCommand(program, io);
  registerDemoCommand(program, io);
  registerDoctorCommand(program, io);
  for (const cmd of program.commands) cmd.exitOverride().configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  return program;
}

/**
 * Runs the CLI. User errors print one line on stderr and give exit code 2 (1 for failed checks);
 * stack traces only with `--verbose`.
 *
 * @param argv - `process.argv`-style arguments
 * @param io - output sinks (default: the process's stdout/stderr)
 * @returns the exit code
 * @example
 * process.exitCode = await main(process.argv);
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  let code = 0;
  const sink: CliIo = { ...io, argv, setExitCode: (c) => { code = c; io.setExitCode(c); } };
  const verbose = argv.includes('--verbose');
  try {
    await buildProgram(sink).parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its message (unknown option, missing argument, --help)
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof WhaleidError) {
      io.err(`whaleid: ${err.message}`);
      if (verbose && err.stack) io.err(err.stack);
      return err.exitCode;
    }
    const e = err as Error;
    io.err(`whaleid: internal error: ${e?.message ?? String(err)}${verbose ? '' : ' (run with --verbose for details)'}`);
    if (verbose && e?.stack) io.err(e.stack);
    return 70;
  }
}

function processIo(): CliIo {
  // `whaleid ... | head` closes the pipe early: that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  return {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    setExitCode: (c) => { process.exitCode = c; },
    progress: process.stderr.isTTY === true || process.env.CI !== 'true',
  };
}
