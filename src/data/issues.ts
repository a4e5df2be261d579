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
