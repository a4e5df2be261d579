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
    // 40 whales: the local matcher's keypoints and matching, most of the demo's CPU, grow with the
    // photos (60 whales: 69 CPU-s; 40: 49). --max-minutes 0.01: one smoke epoch (the first pair
    // group always runs); the matchers below need no trained network (measured, 40 whales, 1 or 2
    // epochs alike: baselines 0.267 / 0.353, siamese 0.34, local 0.850, fused 0.717; 60 whales,
    // 2 epochs: baselines 0.265 / 0.303, local 0.861, fused 0.902)
    const r = await runCli('demo', '--out', out, '--individuals', '40', '--preset', 'tiny', '--schedule', 'smoke', '--tta', '0', '--max-minutes', '0.01', '--quiet');
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
