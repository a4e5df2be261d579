import { promises as fs } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { WhaleidError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/** One data row of a CSV file, with the 1-based line it started on (for error messages). */
export interface CsvRow {
  line: number;
  fields: string[];
}

/** A parsed CSV file: its header and data rows. */
export interface CsvTable {
  file: string;
  header: string[];
  rows: CsvRow[];
}

/**
 * Decodes CSV bytes as UTF-8 (a UTF-8 byte-order mark is dropped).
 *
 * Why strict: Kaggle files are ASCII/UTF-8; a UTF-16 or Latin-1 file decoded leniently yields ids
 * full of replacement characters that silently never match, so we refuse it with the line.
 *
 * @param bytes - the raw file contents
 * @param file - the file name, for the error message
 * @returns the text
 * @throws {@link WhaleidError} for UTF-16/32 files and invalid UTF-8 (with the line number)
 * @example
 * decodeCsvText(await fs.readFile('train.csv'), 'train.csv');
 */
export function decodeCsvText(bytes: Uint8Array, file: string): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new WhaleidError(`${file}: unreadable encoding: UTF-16 (byte-order mark found); expected UTF-8 text`);
  }
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  const body = bytes.subarray(start);
  if (body.includes(0)) {
    const at = body.indexOf(0);
    throw new WhaleidError(`${file}:${lineOf(body, at)}: unreadable encoding: NUL byte (UTF-16 or binary file?); expected UTF-8 text`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    const at = firstInvalidUtf8(body);
    throw new WhaleidError(`${file}:${lineOf(body, at)}: unreadable encoding: invalid UTF-8 byte 0x${body[at].toString(16)}; expected UTF-8 text`);
  }
}

function lineOf(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const len = c < 0x80 ? 1 : (c & 0xe0) === 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) === 0xe0 ? 3 : (c & 0xf8) === 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > b.length) return i;
    for (let k = 1; k < len; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    i += len;
  }
  return Math.max(0, b.length - 1);
}

/**
 * Parses CSV text (RFC 4180: quotes, embedded commas) into a header and rows with line numbers.
 * Blank lines are skipped; surrounding spaces of fields are trimmed.
 *
 * @param text - CSV text
 * @param file - the file name, for error messages
 * @returns the table
 * @throws {@link WhaleidError} for malformed CSV (unclosed quote, ...) naming file and line
 * @example
 * parseCsvText('Image,Id\na.jpg,w_1\n', 'train.csv').rows[0]; // { line: 2, fields: ['a.jpg', 'w_1'] }
 */
export function parseCsvText(text: string, file: string): CsvTable {
  let records: CsvRow[];
  try {
    // each record kept as its line and fields only: csv-parse's `info` objects cost about 800 MB
    // on a million rows
    const options = { skip_empty_lines: true, relax_column_count: true, trim: true, on_record: (fields: string[], context: { lines: number }): CsvRow => ({ line: context.lines, fields }) };
    // csv-parse's types have no overload for `on_record` without `columns`
    records = (parse as unknown as (input: string, o: typeof options) => CsvRow[])(text, options);
  } catch (err) {
    const e = err as { message?: string; lines?: number };
    const line = typeof e.lines === 'number' ? e.lines : '?';
    throw new WhaleidError(`${file}:${line}: malformed CSV: ${String(e.message ?? err).split('\n')[0]}`);
  }
  if (records.length === 0) throw new WhaleidError(`${file}: empty file; expected a header line`);
  const head = records[0];
  records.shift();
  return { file, header: head.fields, rows: records };
}

/**
 * Reads and parses a CSV file (strict UTF-8).
 *
 * @param file - path of the CSV file
 * @returns the table
 * @throws {@link WhaleidError} when the file is missing, not UTF-8 or malformed
 * @example
 * const t = await readCsvFile('data/train.csv');
 */
export async function readCsvFile(file: string): Promise<CsvTable> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WhaleidError(code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(err)})`);
  }
  return parseCsvText(decodeCsvText(bytes, file), file);
}

/**
 * Checks that a table's header is exactly the expected columns (case-sensitive, as Kaggle's).
 *
 * @param table - a parsed table
 * @param expected - the column names
 * @throws {@link WhaleidError} naming the file, line 1, and both headers
 * @example
 * expectHeader(table, ['Image', 'Id']);
 */
export function expectHeader(table: CsvTable, expected: readonly string[]): void {
  const ok = table.header.length === expected.length && expected.every((c, i) => table.header[i] === c);
  if (!ok) {
    throw new WhaleidError(`${table.file}:1: bad header: expected "${expected.join(',')}" but found "${table.header.join(',')}"`);
  }
}

/**
 * Writes rows as CSV atomically (temp file, then rename).
 *
 * @param file - destination
 * @param header - column names
 * @param rows - data rows
 * @example
 * await writeCsvFile('out.csv', ['Image', 'Id'], [['a.jpg', 'new_whale']]);
 */
export async function writeCsvFile(file: string, header: readonly string[], rows: readonly (readonly (string | number)[])[]): Promise<void> {
  await writeFileAtomic(file, stringify([header as string[], ...(rows as (string | number)[][])]));
}
