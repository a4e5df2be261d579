/**
 * Problems found in a user's data. A batch job reports every problem at once rather than stopping
 * at the first, so a biologist fixes a spreadsheet in one pass.
 *
 * - `fatal`: the file as a whole cannot be used (missing, bad encoding, bad header).
 * - `error`: one row or photo is unusable and is left out; the rest goes on.
 * - `warning`: something odd that is safe to ignore (a photo with no label row, ...).
 */
export type IssueSeverity = 'fatal' | 'error' | 'warning';

/** One problem, located as precisely as possible. */
export interface DataIssue {
  severity: IssueSeverity;
  file: string;
  line?: number;
  field?: string;
  message: string;
}

/**
 * Formats an issue as one line: `file:line: field: message`.
 *
 * @param issue - the problem
 * @returns a single line, no trailing newline
 * @example
 * formatIssue({ severity: 'error', file: 'train.csv', line: 4, field: 'Id', message: 'empty id' });
 * // 'error: train.csv:4: Id: empty id'
 */
export function formatIssue(issue: DataIssue): string {
  const where = issue.line !== undefined ? `${issue.file}:${issue.line}` : issue.file;
  const field = issue.field ? ` ${issue.field}:` : '';
  return `${issue.severity}: ${where}:${field} ${issue.message}`;
}

/** True when any issue is at least as severe as `level`. */
export function hasIssues(issues: readonly DataIssue[], level: IssueSeverity): boolean {
  const rank = { warning: 0, error: 1, fatal: 2 } as const;
  return issues.some((i) => rank[i.severity] >= rank[level]);
}

/** Lines {@link reportIssues} prints per file and severity before it summarises the rest. */
export const ISSUE_LINES_PER_FILE = 20;

/**
 * Reports issues a line each, fatal ones first, at most `limit` per file and severity, and one
 * summary line for the rest of each (a CSV of a million rows naming missing photos printed a
 * million lines): enough to see what is wrong and where, the counts for the rest.
 *
 * @param issues - the problems
 * @param report - where each line goes
 * @param limit - lines per file and severity (default {@link ISSUE_LINES_PER_FILE}; Infinity: all)
 * @returns how many issues were not printed one by one
 * @example
 * reportIssues(ds.issues, (l) => console.error(l)); // ..., 'error: train.csv: 999980 more errors like these (20 shown)'
 */
export function reportIssues(issues: readonly DataIssue[], report: (line: string) => void, limit = ISSUE_LINES_PER_FILE): number {
  const order: IssueSeverity[] = ['fatal', 'error', 'warning'];
  let hidden = 0;
  for (const severity of order) {
    const shown = new Map<string, number>();
    for (const issue of issues) {
      if (issue.severity !== severity) continue;
      const key = fileKey(issue.file);
      const n = (shown.get(key) ?? 0) + 1;
      shown.set(key, n);
      if (n <= limit) report(formatIssue(issue));
    }
    for (const [file, n] of shown) {
      if (n <= limit) continue;
      hidden += n - limit;
      report(`${severity}: ${file}: ${n - limit} more ${severity === 'error' ? 'errors' : `${severity}s`} like these (${limit} shown)`);
    }
  }
  return hidden;
}

/** The file an issue is counted under: a photo's folder (`train/a.jpg` -> `train/`), else the file. */
function fileKey(file: string): string {
  const slash = file.indexOf('/');
  return slash > 0 && slash < file.length - 1 ? file.slice(0, slash + 1) : file;
}
