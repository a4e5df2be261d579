import { invalidParameterError } from '../util/errors.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
/** A UTF-16 surrogate without its pair: not a character; stored, it becomes U+FFFD or an encoding error. */
const LONE_SURROGATE = /\p{Cs}/u;
/** Bidi embeddings, overrides and isolates: they reorder the text around them on screen (and in exports). */
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069]/;
/** Invisible format characters (zero-width space and joiners, bidi marks, BOM, soft hyphen): two names that look alike would differ. */
const FORMAT = /\p{Cf}/u;

/** How strict {@link textField} is beyond the length: names also refuse invisible characters. */
export type TextKind = 'text' | 'name';

/**
 * Checks a free-text field: trimmed, at most `max` characters (counted as characters, i.e. code
 * points, as the API's schemas count them, not UTF-16 units: an emoji is one), no control
 * characters (which break CSV exports and terminals), no lone surrogates and no bidi overrides; a
 * `name` also no invisible format characters (zero-width space, joiners, bidi marks), so that two
 * individuals cannot bear names that look the same. Text is stored as given otherwise: quotes,
 * semicolons and SQL-like strings are data (every query is a prepared statement).
 *
 * @param field - the field name for the error, e.g. `name`
 * @param value - what the client sent
 * @param max - longest accepted length, in characters
 * @param allowEmpty - whether '' is accepted
 * @param kind - `name` for the names of individuals (stricter), else `text`
 * @returns the trimmed text
 * @throws {@link WhaleidError} naming the field and what was expected
 * @example
 * textField('name', ' Salt ', 200, false, 'name'); // 'Salt'
 */
export function textField(field: string, value: unknown, max: number, allowEmpty = false, kind: TextKind = 'text'): string {
  if (typeof value !== 'string') throw invalidParameterError(field, 'a string', value);
  const t = value.trim();
  if (!allowEmpty && t === '') throw invalidParameterError(field, 'a non-empty text', value);
  const length = [...t].length;
  if (length > max) throw invalidParameterError(field, `at most ${max} characters`, `${length} characters`);
  if (CONTROL.test(t)) throw invalidParameterError(field, 'text without control characters', value);
  if (LONE_SURROGATE.test(t)) throw invalidParameterError(field, 'text of whole characters (no lone UTF-16 surrogate)', value);
  if (BIDI_CONTROL.test(t)) throw invalidParameterError(field, 'text without bidi embedding, override or isolate characters (U+202A-U+202E, U+2066-U+2069)', value);
  if (kind === 'name' && FORMAT.test(t)) throw invalidParameterError(field, 'a name without invisible characters (zero-width spaces and joiners, direction marks)', value);
  return t;
}

/** `YYYY-MM-DD`, then optionally a time `hh:mm[:ss[.fff]]` and a zone `Z` or `±hh[:]mm`. */
const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-](\d{2}):?(\d{2}))?)?$/;

/**
 * Checks a date field: `YYYY-MM-DD`, optionally with a time (ISO 8601), a real calendar date
 * from year 1000, and a real time of day (hours 0-23, minutes and seconds 0-59, zone within
 * ±14:00). Every date the service and the catalog take goes through here, so an upload, a
 * correction and a query accept the same dates.
 *
 * @param field - the field name for the error
 * @param value - what the client sent
 * @returns the date as given
 * @throws {@link WhaleidError} when it is not such a date
 * @example
 * dateField('takenOn', '2019-07-04'); // '2019-07-04'
 */
export function dateField(field: string, value: unknown): string {
  const m = typeof value === 'string' ? DATE.exec(value) : null;
  const n = (k: number): number => Number(m![k] ?? 0);
  const ok = m !== null && n(1) >= 1000 && new Date(Date.UTC(n(1), n(2) - 1, n(3))).toISOString().slice(0, 10) === m[0].slice(0, 10)
    && n(4) < 24 && n(5) < 60 && n(6) < 60 && n(8) * 60 + n(9) <= 14 * 60 && n(9) < 60;
  if (!ok) throw invalidParameterError(field, 'a date YYYY-MM-DD (optionally with a time)', value);
  return value as string;
}
