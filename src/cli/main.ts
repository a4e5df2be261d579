import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { WhaleidError } from '../util/errors.js';
import type { CliIo } from './io.js';

/** A command file's `register...` function: adds its commands to the program. */
type Register = (program: Command, io: CliIo) => void;

/**
 * The command files, in the order help lists them, with the top-level commands each registers.
 * Imported only when needed: a command line loads only its command's file (and what that file
 * imports), so `whaleid --version` or `whaleid validate` does not load TensorFlow.js, kysely, ...
 * (whose loading took 1.3 s of CPU per start). test/cli/lazy-commands.test.ts holds the names to
 * what each file registers.
 */
export const COMMAND_FILES: readonly { readonly names: readonly string[]; readonly load: () => Promise<Register> }[] = [
  { names: ['synth'], load: async () => (await import('./commands/synth-command.js')).registerSynthCommand },
  { names: ['validate', 'baseline'], load: async () => (await import('./commands/data-commands.js')).registerDataCommands },
  { names: ['evaluate', 'ensemble'], load: async () => (await import('./commands/score-commands.js')).registerScoreCommands },
  { names: ['dedup', 'preview'], load: async () => (await import('./commands/image-commands.js')).registerImageCommands },
  { names: ['train'], load: async () => (await import('./commands/train-command.js')).registerTrainCommand },
  { names: ['predict'], load: async () => (await import('./commands/predict-command.js')).registerPredictCommand },
  { names: ['bootstrap', 'kaggle'], load: async () => (await import('./commands/pipeline-commands.js')).registerPipelineCommands },
  { names: ['evaluate-open', 'evaluate-oneshot'], load: async () => (await import('./commands/eval-commands.js')).registerEvalCommands },
  { names: ['boxes'], load: async () => (await import('./commands/boxes-command.js')).registerBoxesCommand },
  { names: ['model'], load: async () => (await import('./commands/model-command.js')).registerModelCommand },
  { names: ['catalog', 'serve'], load: async () => (await import('./commands/serve-commands.js')).registerServeCommands },
  { names: ['worker'], load: async () => (await import('./commands/worker-command.js')).registerWorkerCommand },
  { names: ['users'], load: async () => (await import('./commands/users-command.js')).registerUsersCommand },
  { names: ['quantize'], load: async () => (await import('./commands/quantize-command.js')).registerQuantizeCommand },
  { names: ['demo'], load: async () => (await import('./commands/demo-command.js')).registerDemoCommand },
  { names: ['doctor'], load: async () => (await import('./commands/doctor-command.js')).registerDoctorCommand },
];
const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/**
 * Which command files a command line needs: only its command's file when it names a known command
 * (`whaleid train ...`, `whaleid help train`), none for `whaleid --version`, all otherwise (the
 * program's help lists every command; an unknown name gets commander's suggestion).
 *
 * @param argv - `process.argv`-style arguments, or undefined for all commands
 * @returns the entries of {@link COMMAND_FILES} to load, in help order
 * @example
 * commandFilesFor(['node', 'whaleid', 'validate', '--data', 'x']); // the data commands' file
 */
export function commandFilesFor(argv?: readonly string[]): typeof COMMAND_FILES {
  if (argv === undefined) return COMMAND_FILES;
  // the program's only options (--verbose, --version, --help) take no value: the first word is the command
  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  if (name === undefined) return argv.slice(2).some((a) => a === '--version' || a === '-V') ? [] : COMMAND_FILES;
  const one = COMMAND_FILES.find((f) => f.names.includes(name));
  return one ? [one] : COMMAND_FILES;
}

/**
 * Builds the `whaleid` program. Kept separate from {@link main} so tests can inspect commands.
 *
 * @param io - where output goes
 * @param argv - the command line to build it for: only the commands it needs are loaded (default: all)
 * @returns the commander program
 * @example
 * (await buildProgram(io)).commands.map((c) => c.name());
 */
export async function buildProgram(io: CliIo, argv?: readonly string[]): Promise<Command> {
  const program = new Command('whaleid')
    .description('Identify individual whales (and other marked animals) from photos')
    .version(pkg.version)
    .option('--verbose', 'show stack traces of errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  program.addHelpText('after', '\nExample:\n  $ whaleid synth --out catalog --individuals 200 && whaleid validate --data catalog\n');
  const registers = await Promise.all(commandFilesFor(argv).map((f) => f.load()));
  for (const register of registers) register(program, io);
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
    await (await buildProgram(sink, argv)).parseAsync(argv);
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
