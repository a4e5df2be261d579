import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

// Issue 33 item 1: the demo identifies with the best matcher the project has, shows each matcher
// against the baselines in one table, says what the numbers mean and where to go next.
describe('whaleid demo (small)', () => {
  const dir = tmpDir('whaleid-demo-');
  it('holds individuals out of training, calibrates the local and fused matchers on them, and reports every answer against the baselines', async () => {
    const out = path.join(dir, 'demo');
    const r = await runCli('demo', '--out', out, '--individuals', '60', '--preset', 'tiny', '--schedule', 'smoke', '--tta', '0', '--max-minutes', '1', '--quiet');
    expect(r.code, r.err).toBe(0);
    const lines = r.out.split('\n');
    const table = lines.slice(lines.findIndex((l) => l.startsWith('MAP@5 on the ')));
    expect(table[0]).toMatch(/^MAP@5 on the \d+ synthetic test photos \(1 = the right individual first every time; a new individual's right answer is new_whale\):$/);
    const rows = new Map(table.slice(2).filter((l) => /^ {2}\S/.test(l) && /\d\.\d{3}/.test(l)).map((l) => [l.slice(2, 32).trim(), Number(l.slice(32).trim().split(/\s+/)[0])]));
    expect([...rows.keys()]).toEqual(['all new_whale (baseline)', 'most frequent ids (baseline)', 'siamese, no TTA', 'local', 'fused']);
    // the matchers need no trained network to beat the baselines by far on these marks
    const baseline = Math.max(rows.get('all new_whale (baseline)')!, rows.get('most frequent ids (baseline)')!);
    expect(rows.get('local')!).toBeGreaterThan(baseline + 0.2);
    expect(rows.get('fused')!).toBeGreaterThan(baseline + 0.2);
    expect(r.out).toMatch(/^The (local|fused) matcher puts the right answer first for [\d.]+% of the test photos and within the first five for [\d.]+%; the best baseline \(.*\) does so for [\d.]+%: the system tells these individuals apart\.$/m);
    expect(r.out).toContain(`Training report: ${path.join(out, 'run', 'report.html')}.`);
    expect(r.out).toContain(`--matcher fused --matcher-calibration ${path.join(out, 'held-out-fused.matcher.json')}`);
    // the held-out individuals were not trained on, and the calibration the summary points to is there
    const held = readFileSync(path.join(out, 'held-out.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(held.length).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(path.join(out, 'run', 'config.json'), 'utf8')).exclude).toBe(path.relative(path.join(out, 'run'), path.join(out, 'held-out.txt')));
    expect(existsSync(path.join(out, 'held-out-fused.matcher.json'))).toBe(true);
  }, 600_000);
});
