import { invalidParameterError } from '../util/errors.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Checks a free-text field: trimmed, at most `max` characters, no control characters (which
 * break CSV exports and terminals). Text is stored as given otherwise: quotes, semicolons and
 * SQL-like strings are data (every query is a prepared statement).
 *
 * @param field - the field name for the error, e.g. `name`
 * @param value - what the client sent
 * @param max - longest accepted length
 * @param allowEmpty - whether '' is accepted
 * @returns the trimmed text
 * @throws {@link WhaleidError} naming the field and what was expected
 * @example
 * textField('name', ' Salt ', 200); // 'Salt'
 */
export function textField(field: string, value: unknown, max: number, allowEmpty = false): string {
  if (typeof value !== 'string') throw invalidParameterError(field, 'a string', value);
  const t = value.trim();
  if (!allowEmpty && t === '') throw invalidParameterError(field, 'a non-empty text', value);
  if (t.length > max) throw invalidParameterError(field, `at most ${max} characters`, `${t.length} characters`);
  if (CONTROL.test(t)) throw invalidParameterError(field, 'text without control characters', value);
  return t;
}

/**
 * Checks a date field: `YYYY-MM-DD`, optionally with a time (ISO 8601), and a real calendar date.
 *
 * @param field - the field name for the error
 * @param value - what the client sent
 * @returns the date as given
 * @throws {@link WhaleidError} when it is not such a date
 * @example
 * dateField('takenOn', '2019-07-04'); // '2019-07-04'
 */
export function dateField(field: string, value: unknown): string {
  const ok = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)
    && !Number.isNaN(Date.parse(value.slice(0, 10))) && new Date(value.slice(0, 10)).toISOString().slice(0, 10) === value.slice(0, 10);
  if (!ok) throw invalidParameterError(field, 'a date YYYY-MM-DD (optionally with a time)', value);
  return value as string;
}
