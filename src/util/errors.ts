/**
 * User-facing errors. A {@link WhaleidError} is a mistake in the user's input (a bad flag, a
 * malformed CSV, a missing folder): the CLI prints its one-line message and exits non-zero, with
 * no stack trace unless `--verbose`. Anything else is a bug and is shown with its stack.
 */
export class WhaleidError extends Error {
  /** Process exit code the CLI uses for this error (2 = usage/input error). */
  readonly exitCode: number;

  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'WhaleidError';
    this.exitCode = exitCode;
  }
}

/**
 * Uniform message for a parameter outside its domain, in the style of sharp's validators.
 *
 * @param name - the parameter or field, e.g. `--individuals` or `train.csv:12 Id`
 * @param expected - what would have been accepted, e.g. `an integer between 1 and 100000`
 * @param actual - what was given
 * @returns a {@link WhaleidError} to throw
 * @example
 * throw invalidParameterError('--seed', 'a non-negative integer', '-3');
 * // Error: Expected a non-negative integer for --seed but received -3
 */
export function invalidParameterError(name: string, expected: string, actual: unknown): WhaleidError {
  return new WhaleidError(`Expected ${expected} for ${name} but received ${describe(actual)}`);
}

/** Longest part of a received value a message shows: it names the value, never echoes a whole request back. */
const SHOWN_CHARS = 100;

function describe(value: unknown): string {
  if (value === '') return 'an empty string';
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return shownJson(value, SHOWN_CHARS);
}

/**
 * A value as JSON for an error line, cut to `maxChars` (with its full length said), so a message
 * names what came without echoing a whole request back. Never throws: a value JSON cannot write
 * (a cycle) is named by its kind.
 *
 * @param value - what came
 * @param maxChars - the longest part shown
 * @returns the text
 * @example
 * shownJson('x'.repeat(500), 10); // '"xxxxxxxxx... (502 characters)'
 */
export function shownJson(value: unknown, maxChars: number): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
  }
  return text.length > maxChars ? `${text.slice(0, maxChars)}... (${text.length} characters)` : text;
}

/**
 * Parses a CLI integer option strictly (no trailing garbage, no floats).
 *
 * @param name - the flag, for the error message
 * @param value - the raw string
 * @param min - smallest accepted value
 * @param max - largest accepted value
 * @returns the integer
 * @throws {@link WhaleidError} when `value` is not an integer in [min, max]
 * @example
 * parseIntOption('--seed', '42'); // 42
 */
export function parseIntOption(name: string, value: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw invalidParameterError(name, `an integer between ${min} and ${max}`, value);
  }
  return n;
}

/**
 * Parses a CLI number option strictly.
 *
 * @param name - the flag, for the error message
 * @param value - the raw string
 * @param min - smallest accepted value
 * @param max - largest accepted value
 * @returns the number
 * @throws {@link WhaleidError} when `value` is not a finite number in [min, max]
 * @example
 * parseNumberOption('--threshold', '0.99', 0, 1); // 0.99
 */
export function parseNumberOption(name: string, value: string, min = -Infinity, max = Infinity): number {
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw invalidParameterError(name, `a number between ${min} and ${max}`, value);
  }
  return n;
}
