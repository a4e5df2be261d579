import { invalidParameterError } from '../util/errors.js';

/**
 * The training schedule as data. A group is a run of epochs between two score-matrix updates:
 * the score matrix (head on every pair) is computed at the start of each group, and each epoch of
 * the group mines its non-matching pairs from it by linear assignment with noise amplitude `K`.
 */
export interface ScheduleGroup {
  epochs: number;
  /** Adam learning rate for the group. */
  lr: number;
  /** Noise amplitude added to the scores before mining (large = random pairs, small = hard ones). */
  K: number;
  /** Rebuild the model with this L2 factor before the group (weights kept), as the kernel at epoch 250. */
  rebuildL2?: number;
}

export interface Schedule {
  name: string;
  groups: ScheduleGroup[];
}

const repeat = (n: number, g: ScheduleGroup): ScheduleGroup[] => Array.from({ length: n }, () => ({ ...g }));
const decay = (n: number, epochs: number, lr: number, from: number, factor: number): ScheduleGroup[] =>
  Array.from({ length: n }, (_, i) => ({ epochs, lr, K: Math.max(1, from * factor ** i) }));

/**
 * The method's 400-epoch schedule (Piotte's kernel's; named `kernel` before) (batch 32): lr 64e-5 with K 1000 for 10 epochs, K 100 down by
 * x0.631 every 5 epochs to ~1.6, K 1 to epoch 150; lr 16e-5 K 0.5 to 200; 4e-5 K 0.25 to 240;
 * 1e-5 K 0.25 to 250; rebuild with L2 2e-4; then 64e-5 / 16e-5 / 4e-5 / 1e-5 with K 1 / 0.5 /
 * 0.25 / 0.25 to 400.
 */
function methodSchedule(): Schedule {
  const f = 100 ** -0.1; // 0.631
  return {
    name: 'method',
    groups: [
      { epochs: 10, lr: 64e-5, K: 1000 },
      ...decay(10, 5, 64e-5, 100, f),
      ...repeat(18, { epochs: 5, lr: 64e-5, K: 1 }),
      ...repeat(10, { epochs: 5, lr: 16e-5, K: 0.5 }),
      ...repeat(8, { epochs: 5, lr: 4e-5, K: 0.25 }),
      ...repeat(2, { epochs: 5, lr: 1e-5, K: 0.25 }),
      { epochs: 5, lr: 64e-5, K: 1, rebuildL2: 2e-4 },
      ...repeat(9, { epochs: 5, lr: 64e-5, K: 1 }),
      ...repeat(10, { epochs: 5, lr: 16e-5, K: 0.5 }),
      ...repeat(8, { epochs: 5, lr: 4e-5, K: 0.25 }),
      ...repeat(2, { epochs: 5, lr: 1e-5, K: 0.25 }),
    ],
  };
}

/**
 * A CPU-sized schedule with the method's shape (random pairs, then harder and harder pairs, then
 * learning-rate steps), 2-epoch groups and about `epochs` epochs in all.
 */
function shortSchedule(name: string, groupsAtK1: number): Schedule {
  const f = 100 ** -0.25;
  return {
    name,
    groups: [
      { epochs: 2, lr: 64e-5, K: 1000 },
      ...decay(4, 2, 64e-5, 100, f),
      ...repeat(groupsAtK1, { epochs: 2, lr: 64e-5, K: 1 }),
      ...repeat(Math.max(1, Math.round(groupsAtK1 / 2)), { epochs: 2, lr: 16e-5, K: 0.5 }),
      ...repeat(1, { epochs: 2, lr: 4e-5, K: 0.25 }),
    ],
  };
}

/** Named schedules: `method` (400 epochs), `short` (~30 epochs), `long` (~60), `smoke` (2, for tests). */
export const SCHEDULE_PRESETS: Readonly<Record<string, Schedule>> = Object.freeze({
  method: methodSchedule(),
  short: shortSchedule('short', 6),
  long: shortSchedule('long', 16),
  smoke: { name: 'smoke', groups: [{ epochs: 1, lr: 64e-5, K: 1000 }, { epochs: 1, lr: 64e-5, K: 1 }] },
});

/** Total epochs of a schedule. */
export function totalEpochs(s: Schedule): number {
  return s.groups.reduce((a, g) => a + g.epochs, 0);
}

/**
 * A schedule from a preset name or a `{ name?, groups: [...] }` object (e.g. from a config file),
 * validated.
 *
 * @param spec - preset name or schedule object
 * @returns the schedule
 * @throws {@link WhaleidError} for an unknown preset or a bad group
 * @example
 * resolveSchedule('method').groups.length; // 78
 */
export function resolveSchedule(spec: string | { name?: string; groups: ScheduleGroup[] }): Schedule {
  if (typeof spec === 'string') {
    const s = SCHEDULE_PRESETS[spec];
    if (!s) throw invalidParameterError('schedule', `one of ${Object.keys(SCHEDULE_PRESETS).join(', ')}`, spec);
    return s;
  }
  if (!spec || !Array.isArray(spec.groups) || spec.groups.length === 0) throw invalidParameterError('schedule.groups', 'a non-empty array', spec?.groups);
  spec.groups.forEach((g, i) => {
    if (!Number.isInteger(g.epochs) || g.epochs < 1) throw invalidParameterError(`schedule.groups[${i}].epochs`, 'a positive integer', g.epochs);
    if (!(g.lr > 0)) throw invalidParameterError(`schedule.groups[${i}].lr`, 'a positive number', g.lr);
    if (!(g.K >= 0)) throw invalidParameterError(`schedule.groups[${i}].K`, 'a non-negative number', g.K);
  });
  return { name: spec.name ?? 'custom', groups: spec.groups.map((g) => ({ ...g })) };
}
