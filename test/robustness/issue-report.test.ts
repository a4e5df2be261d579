import { describe, it, expect, beforeAll } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { reportIssues, type DataIssue } from '../../src/data/issues.js';

// Issue 32 item 11: a CSV of a million rows naming missing photos printed a million lines (and used
// 1.2-1.65 GB); problems are now listed fatal first, 20 per file and kind, then counted.
describe('reporting many problems', () => {
  const dir = tmpDir('whaleid-issues-');
  const ds = path.join(dir, 'ds');
  beforeAll(() => {
    mkdirSync(path.join(ds, 'train'), { recursive: true });
    mkdirSync(path.join(ds, 'test'), { recursive: true });
    writeFileSync(path.join(ds, 'train.csv'), `Image,Id\n${Array.from({ length: 5000 }, (_, i) => `p${i}.jpg,w_${i % 50}`).join('\n')}\n`);
    for (let i = 0; i < 25; i++) writeFileSync(path.join(ds, 'test', `note${i}.txt`), 'x');
    writeFileSync(path.join(ds, 'sample_submission.csv'), 'Photo,Whale\n');
  });

  it('validate lists fatal problems first, 20 per file and kind, then counts the rest; --all lists every one', async () => {
    const r = await runCli('validate', '--data', ds);
    expect(r.code).toBe(1);
    const lines = r.err.split('\n');
    expect(lines[0]).toMatch(/^fatal: sample_submission\.csv:1: /);
    expect(lines.filter((l) => /^error: train\.csv:\d+: Image: photo train\/p\d+\.jpg not found$/.test(l))).toHaveLength(20);
    expect(lines).toContain('error: train.csv: 4980 more errors like these (20 shown)');
    expect(lines.filter((l) => /^warning: test\/note\d+\.txt: not a photo/.test(l))).toHaveLength(20);
    expect(lines).toContain('warning: test/: 5 more warnings like these (20 shown)');
    expect(lines.at(-1)).toBe('(4985 problems counted, not listed: --all lists every one)');
    expect(lines.findIndex((l) => l.startsWith('warning:'))).toBeGreaterThan(lines.findIndex((l) => l.startsWith('error:')));
    expect(r.out).toMatch(/1 fatal, 5000 errors, 25 warnings/);
    const all = await runCli('validate', '--data', ds, '--all');
    expect(all.err.split('\n')).toHaveLength(1 + 5000 + 25);
  });

  it('counts per file, so one file full of errors does not hide another', () => {
    const issues: DataIssue[] = [
      ...Array.from({ length: 3 }, (_, i): DataIssue => ({ severity: 'error', file: 'train.csv', line: i + 2, message: 'bad' })),
      { severity: 'error', file: 'boxes.csv', line: 2, message: 'bad box' },
    ];
    const lines: string[] = [];
    expect(reportIssues(issues, (l) => lines.push(l), 2)).toBe(1);
    expect(lines).toEqual(['error: train.csv:2: bad', 'error: train.csv:3: bad', 'error: boxes.csv:2: bad box', 'error: train.csv: 1 more errors like these (2 shown)']);
  });
});
