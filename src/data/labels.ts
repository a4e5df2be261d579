import { readCsvFile, expectHeader, writeCsvFile, type CsvTable } from './csv-file.js';
import { WhaleidError } from '../util/errors.js';
import type { DataIssue } from './issues.js';

/** The label of photos whose individual is not in the catalog (Kaggle's convention). */
export const NEW_WHALE = 'new_whale';

/** One `Image,Id` row. */
export interface LabelRow {
  image: string;
  id: string;
  line: number;
}

/** Why an id is unusable, or null when it is fine. Ids are space-separated in submissions. */
export function idProblem(id: string): string | null {
  if (id === '') return 'empty id';
  if (/\s/.test(id)) return `id "${id}" contains whitespace; ids are separated by spaces in submissions`;
  return null;
}

/** Why an image name is unusable, or null. Names are plain file names, never paths. */
export function imageNameProblem(image: string): string | null {
  if (image === '') return 'empty image name';
  if (/[\\/]/.test(image) || image === '.' || image === '..') return `image name "${image}" must be a plain file name, not a path`;
  return null;
}

/**
 * Checks the rows of an `Image,Id` table: empty or malformed fields, duplicate rows and conflicting
 * labels. Every problem is reported; bad rows are left out of the result (the first of duplicates
 * is kept).
 *
 * @param table - a parsed CSV with header `Image,Id`
 * @returns the usable rows and the problems found
 * @example
 * const { rows, issues } = checkLabelTable(await readCsvFile('train.csv'));
 */
export function checkLabelTable(table: CsvTable): { rows: LabelRow[]; issues: DataIssue[] } {
  const issues: DataIssue[] = [];
  const rows: LabelRow[] = [];
  const seen = new Map<string, LabelRow>();
  const file = table.file;
  for (const { line, fields } of table.rows) {
    if (fields.length !== 2) {
      issues.push({ severity: 'error', file, line, message: `expected 2 fields (Image,Id) but found ${fields.length}` });
      continue;
    }
    const [image, id] = fields;
    const imgErr = imageNameProblem(image);
    if (imgErr) {
      issues.push({ severity: 'error', file, line, field: 'Image', message: imgErr });
      continue;
    }
    const idErr = idProblem(id);
    if (idErr) {
      issues.push({ severity: 'error', file, line, field: 'Id', message: idErr });
      continue;
    }
    const prev = seen.get(image);
    if (prev) {
      const message = prev.id === id
        ? `duplicate row for ${image} (first on line ${prev.line})`
        : `conflicting label for ${image}: "${id}" here, "${prev.id}" on line ${prev.line} (kept)`;
      issues.push({ severity: 'error', file, line, field: 'Image', message });
      continue;
    }
    const row = { image, id, line };
    seen.set(image, row);
    rows.push(row);
  }
  return { rows, issues };
}

/**
 * Reads an `Image,Id` label file strictly: throws on file-level problems, and on any bad row.
 * Use {@link checkLabelTable} to collect row problems instead.
 *
 * @param file - path of e.g. `train.csv` or `test_truth.csv`
 * @returns the rows
 * @throws {@link WhaleidError} for a missing/unreadable file, bad header or any bad row (all listed)
 * @example
 * const truth = await readLabels('demo/test_truth.csv');
 */
export async function readLabels(file: string): Promise<LabelRow[]> {
  const table = await readCsvFile(file);
  expectHeader(table, ['Image', 'Id']);
  const { rows, issues } = checkLabelTable(table);
  if (issues.length > 0) {
    const first = issues.slice(0, 5).map((i) => `${i.file}:${i.line}: ${i.field ? i.field + ': ' : ''}${i.message}`);
    const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
    throw new WhaleidError(`${first.join('; ')}${more}`);
  }
  return rows;
}

/**
 * Writes an `Image,Id` label file atomically.
 *
 * @param file - destination
 * @param rows - image and id pairs
 * @example
 * await writeLabels('train.csv', [{ image: 'a.jpg', id: 'w_1234567' }]);
 */
export async function writeLabels(file: string, rows: readonly { image: string; id: string }[]): Promise<void> {
  await writeCsvFile(file, ['Image', 'Id'], rows.map((r) => [r.image, r.id]));
}
