import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The suite's file order: longest first. vitest hands the next file in this order to whichever
 * worker is free, so the long files start at once and the short ones fill the gaps at the end;
 * vitest's own order on a clean clone (no results cache) is by file size, which started the
 * one-test demo file (a minute) last and left one worker idle for most of that minute.
 *
 * Durations come from test/helpers/file-durations.json (measured on the whole suite, refreshed by
 * test/helpers/update-durations.ts), so a clean clone (CI) gets the same order as a developer's
 * machine. A file missing there takes its duration from vitest's results cache of this machine,
 * else runs first (vitest's rule for files it has never run: they may be long).
 */

/** The recorded durations, in seconds, by path from the repository root. */
export function recordedDurations(file = path.join(import.meta.dirname, 'file-durations.json')): Map<string, number> {
  const { seconds } = JSON.parse(readFileSync(file, 'utf8')) as { seconds: Record<string, number> };
  return new Map(Object.entries(seconds));
}

/**
 * Orders files longest first (see the module comment).
 *
 * @example
 * // vitest.config.ts
 * test: { sequence: { sequencer: LongestFirstSequencer } }
 */
export class LongestFirstSequencer extends BaseSequencer {
  /**
   * @param files - the files of the run
   * @returns them, those that need a process of their own first, then longest first; ties (and
   *   files of no recorded duration) in vitest's order
   */
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const recorded = recordedDurations();
    const root = this.ctx.config.root;
    const seconds = (spec: TestSpecification): number => {
      const rel = path.relative(root, spec.moduleId).split(path.sep).join('/');
      const cached = this.ctx.cache.getFileTestResults(`${spec.project.name}:${rel}`);
      return recorded.get(rel) ?? (cached ? cached.duration / 1000 : Infinity);
    };
    const base = await super.sort(files);
    const order = new Map(base.map((f, i) => [f, i]));
    // files that need a process of their own (vitest.config.ts) first: vitest ends a worker that
    // runs files one after another when the next file in the queue needs a fresh process, and the
    // next shared file then starts a new one (every module imported again, about 3 s)
    const own = (spec: TestSpecification): number => (spec.project.config.isolate ? 0 : 1);
    return [...base].sort((a, b) => own(a) - own(b) || seconds(b) - seconds(a) || order.get(a)! - order.get(b)!);
  }
}
