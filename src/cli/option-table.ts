/**
 * Options declared once. A command lists its options as a table of fields (option-field.ts); from
 * the table its commander options are declared, and before its action runs every value (command
 * line, environment, `--config` file, defaults) is parsed, checked, and given to the action as one
 * typed object: required options present, choices known, outputs neither an input nor an existing
 * file (unless `--force`). A command's action therefore starts only with valid options, and casts
 * nothing.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { WhaleidError } from '../util/errors.js';
import { flagName, switchOn, text, valueFromJson, type Field, type FieldSpec } from './option-field.js';
import { guardOutputs, type InputClaim, type OutputClaim } from './output-guard.js';
import { runFolderProblem } from '../model/folders/run-folder.js';

/** A command's options: table key -> field. The key is the name the action reads. */
export type OptionTable = Readonly<Record<string, Field<unknown>>>;

/** The values of a table's options, typed by their fields. */
export type OptionValues<T extends OptionTable> = { [K in keyof T]: T[K] extends Field<infer V> ? V : never };

/** A positional argument of a command (at most one, possibly variadic). */
export interface ArgumentSpec {
  /** As commander writes it, e.g. `<file:score...>`. */
  name: string;
  help: string;
  /** The input file a value names, for the output guard (e.g. `a.csv:0.9` -> `a.csv`). */
  input?: (value: string) => string;
}

/** A command: name, help, options, and what it does with their values. */
export interface CommandSpec<T extends OptionTable> {
  /** Command name, e.g. `predict`. */
  name: string;
  /** One line. */
  description: string;
  /** A complete example invocation, shown in `--help`. */
  example: string;
  options: T;
  argument?: ArgumentSpec;
  /** Checks of options together (e.g. two that exclude each other), before the paths are checked. */
  check?(values: OptionValues<T>): void;
  /** The action, given the checked values (and the positional values, if any). */
  run(values: OptionValues<T>, args: string[]): Promise<void> | void;
}

const CONFIG = text('--config <file>', 'JSON file of option defaults (keys as camelCase option names); flags override it');
const QUIET = switchOn('--quiet', 'no progress display (this command shows none)');
const FORCE = switchOn('--force', 'replace existing output files (an output that is one of the inputs is refused even so)');

/** The help line of a field: its help and the default it shows. */
function helpOf(spec: FieldSpec): string {
  const help = spec.choices ? `${spec.help}: ${spec.choices()}` : spec.help;
  return spec.defaultText === undefined || spec.kind !== 'value' ? help : `${help} (default: ${spec.defaultText})`;
}

/** Declares a field's commander option(s); returns the main one. */
function declare(cmd: Command, spec: FieldSpec): Option {
  const opt = new Option(spec.flag, helpOf(spec));
  if (spec.kind === 'value') {
    opt.argParser(spec.repeatable ? (raw: string, previous: unknown) => [...(Array.isArray(previous) ? previous : []), spec.parse(raw)] : (raw: string) => spec.parse(raw));
  }
  if (spec.env) opt.env(spec.env);
  cmd.addOption(opt);
  if (spec.negation) cmd.addOption(new Option(`--no-${flagName(spec).slice(2)}`, spec.negation.help));
  return opt;
}

/** The JSON object of a `--config` file, or an empty one. */
function readConfigFile(file: string | undefined): Record<string, unknown> {
  if (!file) return {};
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new WhaleidError(`${file}: cannot read config (${(err as Error).message.split('\n')[0]}); expected a JSON object`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new WhaleidError(`${file}: expected a JSON object of option values`);
  return Object.fromEntries(Object.entries(config));
}

/**
 * Reads and checks the values of a table after commander has parsed the command line: the
 * command line and environment first, then the `--config` file (unknown keys are an error, so a
 * typo in a config never silently does nothing), then defaults; then required options, the
 * outputs against the inputs and the disk, and that a run given is a run (naming the run a folder
 * is inside, or the runs a folder holds).
 *
 * @param cmd - the parsed command
 * @param spec - its spec (options, positional, checks of options together)
 * @param options - the commander option of each table row
 * @param args - positional values
 * @returns the values, keyed as the table
 * @throws {@link WhaleidError} naming the first bad option
 */
function readOptions<T extends OptionTable>(cmd: Command, spec: CommandSpec<T>, options: Map<string, Option>, args: string[]): OptionValues<T> {
  const { options: table, argument } = spec;
  const given = cmd.opts();
  const configFile = typeof given.config === 'string' ? given.config : undefined;
  const config = readConfigFile(configFile);
  const byAttribute = new Map([...options].map(([key, opt]) => [opt.attributeName(), key]));
  for (const key of Object.keys(config)) {
    if (!byAttribute.has(key)) throw new WhaleidError(`${configFile}: unknown option "${key}" for "whaleid ${cmd.name()}"; expected one of ${[...byAttribute.keys()].join(', ')}`);
  }
  const values: Record<string, unknown> = {};
  const unset: string[] = [];
  for (const [key, opt] of options) {
    const spec = table[key].spec;
    const attr = opt.attributeName();
    const source = cmd.getOptionValueSource(attr);
    if (source === 'cli' || source === 'env') {
      const raw: unknown = given[attr];
      values[key] = raw === false && spec.negation ? spec.negation.value : raw;
    } else if (Object.hasOwn(config, attr)) {
      values[key] = valueFromJson(spec, config[attr]);
    } else {
      unset.push(key);
    }
  }
  for (const key of unset) values[key] = table[key].spec.fallback?.(values);
  for (const [key, f] of Object.entries(table)) {
    if (f.spec.missing !== undefined && (values[key] === undefined || values[key] === '')) throw new WhaleidError(`missing ${flagName(f.spec)}: ${f.spec.missing}`);
  }
  // the one place where the table's field types are given to the values they produced
  const typed = values as OptionValues<T>;
  spec.check?.(typed);
  const inputs: InputClaim[] = [];
  const outputs: OutputClaim[] = [];
  for (const [key, f] of Object.entries(table)) {
    const v = values[key];
    for (const p of (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string')) {
      if (f.spec.input) inputs.push({ flag: flagName(f.spec), path: p, kind: f.spec.input });
      if (f.spec.output) outputs.push({ flag: flagName(f.spec), path: p, spec: f.spec.output });
    }
  }
  if (argument?.input) for (const a of args) inputs.push({ flag: `argument ${a}`, path: argument.input(a), kind: 'file' });
  guardOutputs(inputs, outputs, given.force === true);
  for (const input of inputs.filter((i) => i.kind === 'run')) {
    const problem = runFolderProblem(input.path);
    if (problem) throw new WhaleidError(`${input.flag}: ${problem}`);
  }
  return typed;
}

/**
 * Creates a subcommand from its spec: its options from the table (with `--config`, and `--force`
 * when it writes files), an example in `--help`, and an action that receives checked values.
 *
 * @param parent - the program or a command group
 * @param spec - see {@link CommandSpec}
 * @returns the command
 * @example
 * defineCommand(program, {
 *   name: 'evaluate', description: 'score a submission', example: 'whaleid evaluate --submission s.csv --truth t.csv',
 *   options: { submission: text('--submission <file>', 'submission CSV').required('the submission') },
 *   run: async (o) => { ... },
 * });
 */
export function defineCommand<T extends OptionTable>(parent: Command, spec: CommandSpec<T>): Command {
  const cmd = parent.command(spec.name).description(spec.description);
  cmd.addHelpText('after', `\nExample:\n  $ ${spec.example}\n`);
  if (spec.argument) cmd.argument(spec.argument.name, spec.argument.help);
  const options = new Map(Object.entries(spec.options).map(([key, f]) => [key, declare(cmd, f.spec)]));
  declare(cmd, CONFIG.spec);
  // --quiet is shared (README): a command without a progress display takes it and has nothing to quiet
  if (!Object.values(spec.options).some((f) => f.spec.flag.startsWith('--quiet'))) declare(cmd, QUIET.spec);
  if (Object.values(spec.options).some((f) => f.spec.output && f.spec.output.kind !== 'work')) declare(cmd, FORCE.spec);
  cmd.action(async (...params: unknown[]) => {
    const args = spec.argument ? [params[0]].flat().filter((a): a is string => typeof a === 'string') : [];
    await spec.run(readOptions(cmd, spec, options, args), args);
  });
  return cmd;
}
