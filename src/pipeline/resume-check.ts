/**
 * A resumed run trains with its stored configuration. Settings given again that differ from it
 * cannot apply, so they are refused with what the run really uses, rather than printed as if
 * used (`kaggle` once said "resuming (cpu, long)" and went on with the stored tiny/short).
 */
import path from 'node:path';
import type { TrainConfig } from '../train/train-config.js';
import { TRAIN_CONFIG_PATHS } from '../train/stored-config.js';
import { WhaleidError } from '../util/errors.js';

/** Settings that do not change what is trained: where decoded photos are cached, where the data is. */
const NOT_COMPARED = new Set<string>(['cacheDir', 'data']);

const isPathField = (key: string): boolean => TRAIN_CONFIG_PATHS.some((f) => f === key);

function shown(v: unknown): string {
  if (v === undefined) return 'unset';
  if (typeof v === 'string') return v;
  return typeof v === 'object' && v !== null && 'name' in v && typeof v.name === 'string' ? v.name : JSON.stringify(v);
}

/**
 * The given settings that differ from a stored run's configuration.
 *
 * @param stored - the run's configuration
 * @param given - settings given for the resume (undefined: not given)
 * @returns one `name stored -> given` entry per difference
 * @example
 * changedOnResume(stored, { preset: 'cpu' }); // ['preset tiny -> cpu']
 */
export function changedOnResume(stored: TrainConfig, given: Partial<TrainConfig>): string[] {
  const changes: string[] = [];
  const storedValues = new Map<string, unknown>(Object.entries(stored));
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined || NOT_COMPARED.has(key)) continue;
    const before = storedValues.get(key);
    // a path given again names the same file however it is spelt (stored paths are absolute)
    const same = isPathField(key) && typeof before === 'string' && typeof value === 'string' ? path.resolve(before) === path.resolve(value) : JSON.stringify(before) === JSON.stringify(value);
    if (!same) changes.push(`${key} ${shown(before)} -> ${shown(value)}`);
  }
  return changes;
}

/**
 * Refuses settings that a resume would ignore.
 *
 * @param runDir - the run folder, for the message
 * @param stored - its stored configuration
 * @param given - the settings given again
 * @throws {@link WhaleidError} listing the differences and how to proceed
 * @example
 * refuseChangesOnResume('work/run1', stored, { preset: 'cpu', schedule: 'long' });
 */
export function refuseChangesOnResume(runDir: string, stored: TrainConfig, given: Partial<TrainConfig>): void {
  const changes = changedOnResume(stored, given);
  if (changes.length === 0) return;
  throw new WhaleidError(`${runDir} resumes with its stored settings, which these flags would change: ${changes.join(', ')}; leave them out to resume, or train into a new folder`);
}
