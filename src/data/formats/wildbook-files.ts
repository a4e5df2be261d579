import ExcelJS from 'exceljs';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { ExchangePhoto, ExchangeRead } from './exchange.js';
import { NUMERIC_COLUMNS, readWildbookRows, WILDBOOK_COLUMNS, wildbookRows } from './wildbook-sheet.js';

/**
 * Wildbook's bulk-import spreadsheet as a file: CSV, or .xlsx (Excel's, through exceljs). Both
 * hold the rows of wildbook-sheet.ts.
 */

/**
 * A text cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a `'` in front
 * in a CSV; one that starts with quotes and then such a sign gets one more, so reading drops
 * exactly one and every text comes back as it was.
 */
const FORMULA = /^'*[=+\-@\t\r]/;
const guard = (v: string): string => (FORMULA.test(v) ? `'${v}` : v);
const unguard = (v: string): string => (/^'+[=+\-@\t\r]/.test(v) ? v.slice(1) : v);

/**
 * The photos as a Wildbook bulk-import CSV (text cells neutralised against formulas, undone when
 * whaleid reads it back).
 *
 * @param photos - the photos with their annotations
 * @returns the CSV text with its header
 * @example
 * await writeFileAtomic('import.csv', wildbookCsvText(photos));
 */
export function wildbookCsvText(photos: readonly ExchangePhoto[]): string {
  const rows = wildbookRows(photos).map((r) => WILDBOOK_COLUMNS.map((c) => (NUMERIC_COLUMNS.has(c) ? r[c] : guard(r[c]))));
  return stringify(rows, { header: true, columns: [...WILDBOOK_COLUMNS] });
}

/**
 * Reads a Wildbook bulk-import CSV.
 *
 * @param text - the file's text
 * @param file - its name, for messages
 * @returns the photos and every problem found
 * @example
 * const { photos, issues } = readWildbookCsv(readFileSync('import.csv', 'utf8'), 'import.csv');
 */
export function readWildbookCsv(text: string, file: string): ExchangeRead {
  let records: string[][];
  try {
    records = parse(text.replace(/^\uFEFF/, ''), { relax_column_count: true }) as string[][];
  } catch (e) {
    return { photos: [], issues: [{ severity: 'fatal', file, message: `not a CSV file: ${(e as Error).message}` }] };
  }
  if (records.length === 0) return { photos: [], issues: [{ severity: 'fatal', file, message: 'empty: expected a header row of Encounter.* columns' }] };
  return readWildbookRows(records[0], records.slice(1).map((r) => r.map(unguard)), file);
}

/**
 * The photos as a Wildbook bulk-import .xlsx: one sheet, numbers as numbers, texts as texts
 * (never formulas).
 *
 * @param photos - the photos with their annotations
 * @returns the workbook's bytes
 * @example
 * await writeFileAtomic('import.xlsx', await wildbookXlsx(photos));
 */
export async function wildbookXlsx(photos: readonly ExchangePhoto[]): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Encounters');
  ws.addRow([...WILDBOOK_COLUMNS]);
  for (const r of wildbookRows(photos)) ws.addRow(WILDBOOK_COLUMNS.map((c) => (NUMERIC_COLUMNS.has(c) && r[c] !== '' ? Number(r[c]) : r[c] === '' ? null : r[c])));
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** A cell's value as the text a CSV would hold. */
function cellText(v: ExcelJS.CellValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return v;
  // a date a person typed into Excel: its calendar day (Excel's dates carry no zone)
  if (v instanceof Date) return v.toISOString().replace(/T00:00:00\.000Z$/, '').replace(/\.000Z$/, '');
  if ('richText' in v) return v.richText.map((t) => t.text).join('');
  if ('result' in v) return cellText(v.result as ExcelJS.CellValue);
  if ('text' in v) return String(v.text);
  return '';
}

/**
 * Reads a Wildbook bulk-import .xlsx (its first sheet).
 *
 * @param bytes - the workbook's bytes
 * @param file - its name, for messages
 * @returns the photos and every problem found
 * @example
 * const { photos, issues } = await readWildbookXlsx(readFileSync('import.xlsx'), 'import.xlsx');
 */
export async function readWildbookXlsx(bytes: Buffer, file: string): Promise<ExchangeRead> {
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(bytes as unknown as ArrayBuffer);
  } catch (e) {
    return { photos: [], issues: [{ severity: 'fatal', file, message: `not an .xlsx workbook: ${(e as Error).message}` }] };
  }
  const ws = wb.worksheets[0];
  if (!ws || ws.rowCount === 0) return { photos: [], issues: [{ severity: 'fatal', file, message: 'no sheet with a header row of Encounter.* columns' }] };
  const width = ws.columnCount;
  const rows: string[][] = [];
  for (let r = 1; r <= ws.rowCount; r++) {
    const row = ws.getRow(r);
    rows.push(Array.from({ length: width }, (_, c) => cellText(row.getCell(c + 1).value)));
  }
  return readWildbookRows(rows[0], rows.slice(1), file);
}
