import * as tf from '@tensorflow/tfjs';
import { promises as fs, existsSync } from 'node:fs';
import path from 'node:path';
import { saveSiamese, loadSiamese } from '../model/model-io.js';
import type { Siamese } from '../model/siamese.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { runPaths } from '../model/run-folder.js';

/** Where training stands at a checkpoint (always a schedule-group boundary). */
export interface TrainState {
  groupsDone: number;
  epochsDone: number;
  /** Every log record so far (epochs and validations), so the log and report can be rebuilt. */
  history: Record<string, unknown>[];
}

/**
 * Writes a checkpoint atomically: model, Adam's moments and the training state go to a fresh
 * folder, which then replaces the previous checkpoint by rename. A kill at any moment leaves
 * either the old or the new checkpoint whole.
 *
 * Why save Adam's moments: resuming must give the same result as not stopping, and restarting
 * Adam from zero would not.
 *
 * @param runDir - the run folder
 * @param siamese - the network
 * @param state - position and history
 */
export async function saveCheckpoint(runDir: string, siamese: Siamese, state: TrainState): Promise<void> {
  const { checkpoint: final, checkpointOld: old } = runPaths(runDir);
  const tmp = `${final}.tmp-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  await saveSiamese(siamese, tmp);
  const weights = await siamese.model.optimizer.getWeights();
  const { data, specs } = await tf.io.encodeWeights(weights);
  await fs.writeFile(path.join(tmp, 'optimizer.bin'), Buffer.from(data));
  await fs.writeFile(path.join(tmp, 'optimizer.json'), JSON.stringify(specs));
  await fs.writeFile(path.join(tmp, 'state.json'), JSON.stringify(state));
  await fs.rm(old, { recursive: true, force: true });
  if (existsSync(final)) await fs.rename(final, old);
  await fs.rename(tmp, final);
  await fs.rm(old, { recursive: true, force: true });
}

/**
 * Loads the latest whole checkpoint of a run, or null when there is none.
 *
 * @param runDir - the run folder
 * @returns the network (with Adam's moments restored) and the state
 */
export async function loadCheckpoint(runDir: string): Promise<{ siamese: Siamese; state: TrainState } | null> {
  const { checkpoint, checkpointOld } = runPaths(runDir);
  const dir = [checkpoint, checkpointOld].find((d) => existsSync(path.join(d, 'state.json')));
  if (!dir) return null;
  const siamese = await loadSiamese(dir);
  const specs = JSON.parse(await fs.readFile(path.join(dir, 'optimizer.json'), 'utf8')) as tf.io.WeightsManifestEntry[];
  const bin = await fs.readFile(path.join(dir, 'optimizer.bin'));
  const map = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length), specs);
  await siamese.model.optimizer.setWeights(specs.map((s) => ({ name: s.name, tensor: map[s.name] })));
  const state = JSON.parse(await fs.readFile(path.join(dir, 'state.json'), 'utf8')) as TrainState;
  return { siamese, state };
}

/** Rewrites the JSON-lines log from the history (after a resume, lines past the checkpoint go). */
export async function writeLog(runDir: string, history: readonly Record<string, unknown>[]): Promise<void> {
  await writeFileAtomic(runPaths(runDir).log, history.map((h) => JSON.stringify(h)).join('\n') + (history.length ? '\n' : ''));
}
