/**
 * A backbone run's checkpoint (see backbone-training.ts): RUN/checkpoint/state.bin holds every
 * array of its state as float32 (weights: parameters, buffers, margin head; Adam's first and
 * second moments), RUN/checkpoint/state.json the index of those arrays, Adam's step count, the
 * epochs done and the log. Written into a temporary folder and renamed into place (the previous
 * one kept as checkpoint.old), so a kill at any moment leaves a whole checkpoint to resume from.
 */
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { AddonArray } from '../model/native/native-addon.js';
import type { BackboneState } from '../model/native/native-backbone.js';
import { runPaths } from '../model/folders/run-folder.js';
import { WhaleidError } from '../util/errors.js';

/** What a backbone checkpoint holds. */
export interface BackboneCheckpoint {
  readonly epochsDone: number;
  readonly history: Record<string, unknown>[];
  readonly state: BackboneState;
}

interface IndexEntry { name: string; part: 'w' | 'm' | 'v'; shape: number[]; length: number }

/**
 * Writes a backbone checkpoint (atomically: a whole one is always there).
 *
 * @param runDir - the run folder
 * @param checkpoint - epochs done, log, state
 * @example
 * await writeBackboneCheckpoint('runs/b', { epochsDone: 1, history, state: readBackboneState(net) });
 */
export async function writeBackboneCheckpoint(runDir: string, checkpoint: BackboneCheckpoint): Promise<void> {
  const { checkpoint: final, checkpointOld: old } = runPaths(runDir);
  const tmp = `${final}.tmp-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  const index: IndexEntry[] = [];
  const parts: Buffer[] = [];
  const add = (list: readonly AddonArray[], part: IndexEntry['part']): void => {
    for (const a of list) {
      index.push({ name: a.name, part, shape: [...(a.shape ?? [a.values.length])], length: a.values.length });
      parts.push(Buffer.from(a.values.buffer, a.values.byteOffset, a.values.byteLength));
    }
  };
  const { state } = checkpoint;
  add(state.weights, 'w');
  add(state.m, 'm');
  add(state.v, 'v');
  await fs.writeFile(path.join(tmp, 'state.bin'), Buffer.concat(parts));
  await fs.writeFile(path.join(tmp, 'state.json'), JSON.stringify({ kind: 'backbone', epochsDone: checkpoint.epochsDone, iterations: state.iterations, index, history: checkpoint.history }));
  await fs.rm(old, { recursive: true, force: true });
  if (existsSync(final)) await fs.rename(final, old);
  await fs.rename(tmp, final);
}

/**
 * Reads a backbone checkpoint: RUN/checkpoint/, or checkpoint.old when a kill came between the
 * two renames.
 *
 * @param runDir - the run folder
 * @returns the checkpoint, or null when the run has none yet (it starts over)
 * @throws {@link WhaleidError} naming a damaged checkpoint file
 * @example
 * const resumed = readBackboneCheckpoint('runs/b');
 */
export function readBackboneCheckpoint(runDir: string): BackboneCheckpoint | null {
  const { checkpoint, checkpointOld } = runPaths(runDir);
  const dir = [checkpoint, checkpointOld].find((d) => existsSync(path.join(d, 'state.json')));
  if (!dir) return null;
  const file = path.join(dir, 'state.json');
  let meta: { kind?: string; epochsDone: number; iterations: number; index: IndexEntry[]; history: Record<string, unknown>[] };
  try {
    meta = JSON.parse(readFileSync(file, 'utf8')) as typeof meta;
  } catch (e) {
    throw new WhaleidError(`${file}: not readable JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (meta.kind !== 'backbone') throw new WhaleidError(`${file}: not a backbone run's checkpoint`);
  const bytes = readFileSync(path.join(dir, 'state.bin'));
  const total = meta.index.reduce((s, e) => s + e.length, 0);
  if (bytes.length !== total * 4) throw new WhaleidError(`${path.join(dir, 'state.bin')}: ${bytes.length} bytes, expected ${total * 4}; the checkpoint is damaged`);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const lists: Record<IndexEntry['part'], AddonArray[]> = { w: [], m: [], v: [] };
  let at = 0;
  for (const e of meta.index) {
    lists[e.part].push({ name: e.name, shape: e.shape, values: all.slice(at, at + e.length) });
    at += e.length;
  }
  return { epochsDone: meta.epochsDone, history: meta.history, state: { weights: lists.w, iterations: meta.iterations, m: lists.m, v: lists.v } };
}
