import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Command, Option } from 'commander';
import { WhaleidError, parseIntOption } from '../util/errors.js';

/**
 * Flags shared by every command, so they read the same everywhere: `--data`, `--out`, `--seed`,
 * `--config`, `--quiet`, `--verbose`.
 */
export const commonFlags = {
  data: () => new Option('--data <dir>', 'dataset folder (Kaggle layout or one folder per individual)'),
  out: (what: string) => new Option('--out <path>', what),
  seed: () => new Option('--seed <n>', 'random seed; the same seed gives the same result').default(0).argParser((v) => parseIntOption('--seed', v)),
  config: () => new Option('--config <file>', 'JSON file of option defaults (keys as camelCase option names); flags override it'),
  quiet: () => new Option('--quiet', 'no progress display'),
  /** tfjs wasm threads for commands that train: every core by default (the threaded build caps at 8). */
  threads: () =>
    new Option('--threads <n>', 'wasm threads for training (default: the cores, up to 8; 1 = the single-threaded build, e.g. for two runs side by side)')
      .default(Math.min(8, os.availableParallelism()))
      .argParser((v) => parseIntOption('--threads', v, 1, 8)),
};

/**
 * Creates a subcommand with the shared conventions: `--config` support, an example in `--help`.
 *
 * @param parent - the program
 * @param name - command name and arguments, e.g. `evaluate`
 * @param description - one line
 * @param example - a complete example invocation, shown in `--help`
 * @returns the command, to add options and an action to
 * @example
 * defineCommand(program, 'evaluate', 'score a submission', 'whaleid evaluate --submission s.csv --truth t.csv');
 */
export function defineCommand(parent: Command, name: string, description: string, example: string): Command {
  const cmd = parent.command(name).description(description);
  cmd.addHelpText('after', `\nExample:\n  $ ${example}\n`);
  cmd.addOption(commonFlags.config());
  cmd.hook('preAction', (thisCommand) => applyConfigFile(thisCommand));
  return cmd;
}

/**
 * Fills options not given on the command line from the `--config` JSON file. Unknown keys are an
 * error, so a typo in a config never silently does nothing.
 */
function applyConfigFile(cmd: Command): void {
  const file = cmd.opts().config as string | undefined;
  if (!file) return;
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new WhaleidError(`${file}: cannot read config (${(err as Error).message.split('\n')[0]}); expected a JSON object`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new WhaleidError(`${file}: expected a JSON object of option values`);
  }
  const known = new Map(cmd.options.map((o) => [o.attributeName(), o]));
  for (const [key, value] of Object.entries(config)) {
    const opt = known.get(key);
    if (!opt || key === 'config') {
      throw new WhaleidError(`${file}: unknown option "${key}" for "whaleid ${cmd.name()}"; expected one of ${[...known.keys()].filter((k) => k !== 'config').join(', ')}`);
    }
    const source = cmd.getOptionValueSource(key);
    if (source === 'cli' || source === 'env') continue;
    const parsed = opt.parseArg && typeof value === 'string' ? opt.parseArg(value, undefined) : value;
    const parsedFromNumber = opt.parseArg && typeof value === 'number' ? opt.parseArg(String(value), undefined) : parsed;
    cmd.setOptionValueWithSource(key, parsedFromNumber, 'config');
  }
}

/** Throws a clear error when a required flag is absent (after config files were applied). */
export function requireOption<T>(value: T | undefined, flag: string, what: string): T {
  if (value === undefined || value === null || value === '') throw new WhaleidError(`missing ${flag}: ${what}`);
  return value;
}
