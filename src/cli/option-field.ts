/**
 * One command-line option as data: its flag, help, parser, default, whether it is required, and
 * whether its value names an input or an output of the command. Commands list their options as a
 * table of these fields (see option-table.ts), so each option is declared once and the same row
 * serves every command that takes it.
 *
 * A field is immutable: the methods return a changed copy, typed by the value it now yields
 * (`int(...)` yields `number | undefined`, `.withDefault(3)` makes it `number`).
 */
import { WhaleidError, invalidParameterError, parseIntOption, parseNumberOption } from '../util/errors.js';
import type { InputKind, OutputSpec } from './output-guard.js';

/** What a field is, without its value type (read by option-table.ts). */
export interface FieldSpec {
  /** The flag as commander writes it: `--tta <n>`, `--quiet`, `--no-dedup`. */
  readonly flag: string;
  readonly help: string;
  /** `value`: takes an argument; `switch`: true when given; `off`: a `--no-x` flag, false when given. */
  readonly kind: 'value' | 'switch' | 'off';
  /** Command-line string to value; throws a {@link WhaleidError} naming the flag. */
  readonly parse: (raw: string) => unknown;
  /** A `--config` JSON value to value; default: strings and numbers through `parse`. */
  readonly fromJson?: (raw: unknown) => unknown;
  /** Value when the option is not given. */
  readonly fallback?: (values: Readonly<Record<string, unknown>>) => unknown;
  /** The accepted names with their descriptions, as `--help` lists them after the help. */
  readonly choices?: () => string;
  /** The default as shown in `--help` (also for defaults applied below the CLI, e.g. TRAIN_DEFAULTS). */
  readonly defaultText?: string;
  /** Also declare `--no-<name>`, giving `value`. */
  readonly negation?: { readonly help: string; readonly value: unknown };
  /** Environment variable read when the flag is absent. */
  readonly env?: string;
  /** Required: what is missing, for the one-line error. */
  readonly missing?: string;
  /** The flag may be repeated; the value is the list. */
  readonly repeatable?: boolean;
  /** The value names an input of the command (an output may never equal it). */
  readonly input?: InputKind;
  /** The value names an output of the command (refused when it exists, unless --force). */
  readonly output?: OutputSpec;
}

/** A field yielding values of type `T`. */
export interface Field<T> {
  readonly spec: FieldSpec;
  /** Type only: the value this field yields. */
  readonly valueType?: () => T;
  /** A default (applied when the option is not given); `text` is how `--help` shows it. */
  withDefault(value: NonNullable<T>, text?: string): Field<NonNullable<T>>;
  /** A default computed from the other options (e.g. a file inside the run folder). */
  withDefaultFrom(fn: (values: Readonly<Record<string, unknown>>) => NonNullable<T>, text: string): Field<NonNullable<T>>;
  /** Shows a default that is applied below the CLI (the value stays undefined when not given). */
  showingDefault(text: string): Field<T>;
  /** Required: a one-line error `missing --flag: what` when neither given nor defaulted. */
  required(what: string): Field<NonNullable<T>>;
  /** Another help text (the same option, described for one command). */
  describedAs(help: string): Field<T>;
  /** Also accept `--no-<name>`, which yields `value`. */
  negatable<N>(help: string, value: N): Field<T | N>;
  /** Read `name` from the environment when the flag is absent. */
  fromEnv(name: string): Field<T>;
  /** The value names an input of this kind. */
  asInput(kind: InputKind): Field<T>;
  /** The value names an output. */
  asOutput(spec: OutputSpec): Field<T>;
  /** Reads a `--config` JSON value with `fromJson` (e.g. an object where the command line takes a name). */
  withJson<U>(fromJson: (raw: unknown) => U): Field<T | U>;
  /** Also checks a parsed value (throws a {@link WhaleidError} naming the flag). */
  checkedBy(check: (value: NonNullable<T>) => void): Field<T>;
}

function field<T>(spec: FieldSpec): Field<T> {
  const next = <U>(changes: Partial<FieldSpec>): Field<U> => field<U>({ ...spec, ...changes });
  return {
    spec,
    withDefault: (value, text) => next({ fallback: () => value, defaultText: text ?? String(value) }),
    withDefaultFrom: (fn, text) => next({ fallback: fn, defaultText: text }),
    showingDefault: (text) => next({ defaultText: text }),
    required: (what) => next({ missing: what }),
    describedAs: (help) => next({ help }),
    negatable: (help, value) => next({ negation: { help, value } }),
    fromEnv: (name) => next({ env: name }),
    asInput: (kind) => next({ input: kind }),
    asOutput: (output) => next({ output }),
    withJson: (fromJson) => next({ fromJson }),
    checkedBy: (check) =>
      next({
        parse: (raw: string) => {
          const value = spec.parse(raw);
          check(value as NonNullable<T>);
          return value;
        },
      }),
  };
}

/** The flag's name without its argument: `--tta <n>` -> `--tta`. */
export function flagName(spec: Pick<FieldSpec, 'flag'>): string {
  return spec.flag.split(/[ ,]/)[0];
}

/**
 * A string option.
 *
 * @param flag - e.g. `--boxes <csv>`
 * @param help - one line
 * @returns the field (undefined when not given)
 * @example
 * text('--boxes <csv>', 'boxes CSV').asInput('file');
 */
export function text(flag: string, help: string): Field<string | undefined> {
  return field({ flag, help, kind: 'value', parse: (raw) => raw });
}

/**
 * A repeatable string option: `--data a --data b` gives `['a', 'b']`.
 *
 * @param flag - e.g. `--data <dir>`
 * @param help - one line
 * @returns the field
 * @example
 * list('--data <dir>', 'dataset; repeat to add datasets');
 */
export function list(flag: string, help: string): Field<string[] | undefined> {
  return field({ flag, help, kind: 'value', parse: (raw) => raw, repeatable: true });
}

/**
 * A comma-separated list option: `--only a,b` gives `['a', 'b']`.
 *
 * @param flag - e.g. `--only <folders>`
 * @param help - one line
 * @returns the field
 * @example
 * commaList('--only <folders>', 'folders to draw from');
 */
export function commaList(flag: string, help: string): Field<string[] | undefined> {
  return field({ flag, help, kind: 'value', parse: (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean) });
}

/**
 * An integer option in [min, max].
 *
 * @param flag - e.g. `--tta <n>`
 * @param help - one line
 * @param min - smallest accepted
 * @param max - largest accepted
 * @returns the field
 * @example
 * int('--tta <n>', 'augmented copies', 0, 64).withDefault(0);
 */
export function int(flag: string, help: string, min = 0, max = Number.MAX_SAFE_INTEGER): Field<number | undefined> {
  const name = flagName({ flag });
  return field({ flag, help, kind: 'value', parse: (raw) => parseIntOption(name, raw, min, max) });
}

/**
 * A number option in [min, max].
 *
 * @param flag - e.g. `--margin <x>`
 * @param help - one line
 * @param min - smallest accepted
 * @param max - largest accepted
 * @returns the field
 * @example
 * num('--margin <x>', 'share of the box added on each side', 0, 1);
 */
export function num(flag: string, help: string, min = -Infinity, max = Infinity): Field<number | undefined> {
  const name = flagName({ flag });
  return field({ flag, help, kind: 'value', parse: (raw) => parseNumberOption(name, raw, min, max) });
}

/**
 * An option whose value is one of a table's names (presets, schedules, recipes): the names and
 * their descriptions come from the table, so `--help` and validation follow it.
 *
 * @param flag - e.g. `--preset <name>`
 * @param help - one line; the choices are appended
 * @param names - the accepted names, in order
 * @param about - a short description of a name for `--help`
 * @returns the field
 * @example
 * choice('--head-init <how>', 'head start', () => ['distance', 'keras'] as const);
 */
export function choice<K extends string>(flag: string, help: string, names: () => readonly K[], about?: (name: K) => string): Field<K | undefined> {
  const name = flagName({ flag });
  const shown = (): string => names().map((n) => (about ? `${n} (${about(n)})` : n)).join(', ');
  const parse = (raw: string): K => {
    const found = names().find((n) => n === raw);
    if (found === undefined) throw invalidParameterError(name, `one of ${names().join(', ')}`, raw);
    return found;
  };
  return field({ flag, help, choices: shown, kind: 'value', parse });
}

/**
 * A flag without a value: true when given, else false.
 *
 * @param flag - e.g. `--quiet`
 * @param help - one line
 * @returns the field
 * @example
 * switchOn('--json', 'print the scores as JSON');
 */
export function switchOn(flag: string, help: string): Field<boolean> {
  const name = flagName({ flag });
  return field<boolean | undefined>({ flag, help, kind: 'switch', parse: () => true, fromJson: (raw) => jsonBoolean(name, raw) }).withDefault(false, 'off');
}

/**
 * A `--no-<name>` flag: false when given, else undefined (the default is applied below the CLI,
 * e.g. by TRAIN_DEFAULTS, so that a recipe may set it too).
 *
 * @param flag - e.g. `--no-dedup`
 * @param help - one line
 * @returns the field
 * @example
 * switchOff('--no-dedup', 'keep duplicate photos');
 */
export function switchOff(flag: string, help: string): Field<boolean | undefined> {
  const name = flagName({ flag }).replace(/^--no-/, '--');
  return field({ flag, help, kind: 'off', parse: () => false, fromJson: (raw) => jsonBoolean(name, raw) });
}

function jsonBoolean(name: string, raw: unknown): boolean {
  if (typeof raw !== 'boolean') throw invalidParameterError(name, 'true or false', raw);
  return raw;
}

/**
 * A `--config` value for a field: strings and numbers go through the command-line parser,
 * `false` gives the `--no-` value where the field has one; anything else is refused.
 *
 * @param spec - the field
 * @param raw - the JSON value
 * @returns the value
 * @throws {@link WhaleidError} naming the flag
 * @example
 * valueFromJson(int('--tta <n>', 'copies').spec, 4); // 4
 */
export function valueFromJson(spec: FieldSpec, raw: unknown): unknown {
  if (spec.fromJson) return spec.fromJson(raw);
  if (raw === false && spec.negation) return spec.negation.value;
  if (spec.repeatable && Array.isArray(raw)) return raw.map((r) => valueFromJson({ ...spec, repeatable: false }, r));
  if (typeof raw === 'string' || typeof raw === 'number') return spec.parse(String(raw));
  throw new WhaleidError(`Expected a ${spec.kind === 'value' ? 'string or number' : 'boolean'} for ${flagName(spec)} but received ${JSON.stringify(raw)}`);
}
