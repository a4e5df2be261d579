import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/main.js';
import { tmpDir } from '../helpers/tmp.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';

// Issue 19 item 7: Ctrl-C in kaggle printed nothing (exit 130); now it says what is kept and the command that continues.
describe('Ctrl-C in whaleid kaggle', () => {
  const dir = tmpDir();
  const ds = path.join(dir, 'ds');
  beforeAll(async () => {
    await generateSynthCatalog({ out: ds, individuals: 8, photosPerIndividual: 3, seed: 12 });
  });

  it('stops after the step in progress, says what is kept and how to continue; that command finishes the job', async () => {
    const work = path.join(dir, 'work');
    const argv = ['node', 'whaleid', 'kaggle', '--data', ds, '--out', work, '--preset', 'tiny', '--schedule', 'smoke', '--tta', '1', '--min-score', '0.5', '--cache', path.join(dir, 'cache'), '--quiet'];
    const out: string[] = [];
    const err: string[] = [];
    const io = {
      out: (l: string) => {
        out.push(l);
        // the user presses Ctrl-C while run1 trains
        if (l.startsWith('train run1: starting')) process.emit('SIGINT');
      },
      err: (l: string) => err.push(l),
      setExitCode: () => {},
      progress: false,
    };
    const code = await main(argv, io);
    expect(code, err.join('\n')).toBe(130);
    expect(err).toContain('stopping after the step in progress (a training: after its current step); what is done is kept (Ctrl-C again to quit now)');
    const last = out[out.length - 1];
    expect(last).toMatch(new RegExp(`^stopped; kept: ${path.join(work, 'dedup', 'duplicates.csv')}.*; continue with: whaleid kaggle --data ${ds} --out ${work} --preset tiny`));
    expect(existsSync(path.join(work, 'submission.csv'))).toBe(false);
    // the dedup step is one summary line (with a progress bar on a terminal), not a line per group
    expect(out.filter((l) => l.startsWith('dedup: '))).toHaveLength(1);
    expect(out.filter((l) => l.startsWith('group '))).toEqual([]);
    expect(process.listenerCount('SIGINT')).toBe(0);
    const rest: string[] = [];
    const again = await main(argv, { ...io, out: (l) => rest.push(l) });
    expect(again).toBe(0);
    expect(rest).toContain(`dedup: ${path.join(work, 'dedup', 'duplicates.csv')} already there, skipped`);
    expect(existsSync(path.join(work, 'submission.csv'))).toBe(true);
  });
});
