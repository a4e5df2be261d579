import * as tf from '@tensorflow/tfjs';
import { promises as fs, existsSync } from 'node:fs';
import path from 'node:path';
import { saveSiamese, loadSiamese } from '../model/folders/model-io.js';
import type { Siamese } from '../model/network/siamese.js';
import { readAdamState, restoreAdamState } from '../model/network/siamese-state.js';
import type { NamedArrays, OptimizerState } from '../model/training-engine.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { WhaleidError } from '../util/errors.js';
import { storageFailure } from '../util/storage-failure.js';
import { processAlive } from '../util/process-alive.js';
import { MODEL_JSON, runPaths, WEIGHTS_BIN } from '../model/folders/run-folder.js';
import { featureCount } from '../model/network/presets.js';
import { checkManifest, checkModelIdentity, writeManifest, type ModelIdentity } from '../model/folders/run-manifest.js';

/** Where training stands at a checkpoint (always a schedule-group boundary). */
export interface TrainState {
  groupsDone: number;
  epochsDone: number;
  /** Every log record so far (epochs and validations), so the log and report can be rebuilt. */
  history: Record<string, unknown>[];
}

/** The step count's entry in optimizer.bin (tfjs's own name for it). */
const ITERATIONS = 'iter';

/** The files of a checkpoint folder, all covered by its manifest. */
const CHECKPOINT_FILES = [MODEL_JSON, WEIGHTS_BIN, 'optimizer.bin', 'optimizer.json', 'state.json'];

/**
 * What a Siamese network is, as manifests record it.
 *
 * @param siamese - the network
 * @returns its preset name, input size and feature count
 */
export function modelIdentity(siamese: Siamese): ModelIdentity {
  return { preset: siamese.config.preset.name, inputSize: siamese.config.inputSize, features: featureCount(siamese.config.preset) };
}

/**
 * Writes a checkpoint atomically: model, Adam's state and the training state go to a fresh
 * folder, which then replaces the previous checkpoint by rename; the previous one stays as
 * `checkpoint.old`. A kill at any moment leaves a whole checkpoint, and a damaged one (a disk
 * error, an edited state.json) falls back to the one before.
 *
 * Why save Adam's state: resuming must give the same result as not stopping, and restarting
 * Adam from zero would not. It is stored by weight name (see siamese-state.ts).
 *
 * @param runDir - the run folder
 * @param siamese - the network (an engine's state written into it first)
 * @param state - position and history
 * @example
 * await saveCheckpoint('runs/a', siamese, { groupsDone: 3, epochsDone: 6, history });
 */
export async function saveCheckpoint(runDir: string, siamese: Siamese, state: TrainState): Promise<void> {
  const { checkpoint: final, checkpointOld: old } = runPaths(runDir);
  const tmp = `${final}.tmp-${process.pid}`;
  await removeStaleTemporaries(runDir, path.basename(final));
  try {
    await fs.mkdir(tmp, { recursive: true });
    await writeCheckpointFiles(tmp, siamese, state);
  } catch (e) {
    // a failed write (a full disk) leaves no half-written folder beside the checkpoint it meant to replace
    await fs.rm(tmp, { recursive: true, force: true });
    throw storageFailure(e, tmp, `the checkpoint was not written and the previous one is kept: make room and continue with whaleid train --resume ${runDir}`) ?? e;
  }
  await fs.rm(old, { recursive: true, force: true });
  if (existsSync(final)) await fs.rename(final, old);
  await fs.rename(tmp, final);
}

/** The files of a checkpoint, into its (new, empty) folder. */
async function writeCheckpointFiles(dir: string, siamese: Siamese, state: TrainState): Promise<void> {
  await saveSiamese(siamese, dir);
  const adam = await readAdamState(siamese.model);
  const iter = tf.scalar(adam.iterations, 'int32');
  const moments = [...adam.moments].map(([name, m]) => ({ name, tensor: tf.tensor(m.values, m.shape as number[]) }));
  try {
    const { data, specs } = await tf.io.encodeWeights([{ name: ITERATIONS, tensor: iter }, ...moments]);
    await fs.writeFile(path.join(dir, 'optimizer.bin'), Buffer.from(data));
    await fs.writeFile(path.join(dir, 'optimizer.json'), JSON.stringify(specs));
  } finally {
    tf.dispose([iter, ...moments.map((m) => m.tensor)]);
  }
  await fs.writeFile(path.join(dir, 'state.json'), JSON.stringify(state));
  await writeManifest(dir, CHECKPOINT_FILES, modelIdentity(siamese));
}

/**
 * Removes the temporary checkpoint folders of this process and of processes that are gone (a run
 * killed while writing one): they are never read, and would pile up beside the run.
 */
async function removeStaleTemporaries(runDir: string, base: string): Promise<void> {
  const prefix = `${base}.tmp-`;
  for (const name of await fs.readdir(runDir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (pid === process.pid || !Number.isSafeInteger(pid) || !processAlive(pid)) await fs.rm(path.join(runDir, name), { recursive: true, force: true });
  }
}


/**
 * Loads the latest whole checkpoint of a run: `checkpoint/`, or `checkpoint.old/` when the
 * latest cannot be read (each fallback is reported through `say`).
 *
 * @param runDir - the run folder
 * @param say - a line for the user when a checkpoint is skipped
 * @returns the network (with Adam's state restored exactly) and the state; null when the run has
 *   no checkpoint
 * @throws {@link WhaleidError} naming each checkpoint's problem when none can be read
 * @example
 * const resumed = await loadCheckpoint('runs/a', console.error);
 */
export async function loadCheckpoint(runDir: string, say: (line: string) => void = () => {}): Promise<{ siamese: Siamese; state: TrainState } | null> {
  const { checkpoint, checkpointOld } = runPaths(runDir);
  const dirs = [checkpoint, checkpointOld].filter((d) => existsSync(d));
  if (dirs.length === 0) return null;
  const problems: string[] = [];
  for (const dir of dirs) {
    try {
      const loaded = await readCheckpoint(dir, say);
      for (const problem of problems) say(`${problem}: resuming from the previous checkpoint, ${dir}`);
      return loaded;
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  throw new WhaleidError(`no readable checkpoint in ${runDir}: ${problems.join('; ')}`);
}

/**
 * One checkpoint folder, checked: state.json first (cheap), then the model and Adam's state as
 * files (each structural problem named), then their contents against the checkpoint's manifest
 * (a checkpoint from before manifests with a warning) before anything is restored.
 */
async function readCheckpoint(dir: string, say: (line: string) => void): Promise<{ siamese: Siamese; state: TrainState }> {
  const state = parseTrainState(path.join(dir, 'state.json'), await readText(path.join(dir, 'state.json')));
  const siamese = await loadSiamese(dir);
  try {
    const adam = await readOptimizerFile(dir, siamese);
    const manifest = checkManifest(dir, say);
    if (manifest) checkModelIdentity(dir, manifest, modelIdentity(siamese), 'the model');
    await restoreAdamState(siamese.model, adam);
    return { siamese, state };
  } catch (err) {
    siamese.model.dispose();
    throw err;
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new WhaleidError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/**
 * The training state of a run's latest checkpoint, without loading its network (what a finished
 * run's resume reports).
 *
 * @param runDir - the run folder
 * @returns the state, or null when there is no checkpoint
 * @throws {@link WhaleidError} when checkpoint/state.json is not valid
 */
export async function readCheckpointState(runDir: string): Promise<TrainState | null> {
  const file = path.join(runPaths(runDir).checkpoint, 'state.json');
  return existsSync(file) ? parseTrainState(file, await readText(file)) : null;
}

/**
 * Seconds a run has trained in all, from its history: each process's records count seconds from
 * its own start, so the run's time is the sum of each stretch's last count.
 *
 * @param history - the run's records
 * @returns the seconds
 * @example
 * trainedSeconds([{ seconds: 10 }, { seconds: 20 }, { seconds: 5 }]); // 25: 20, then a resume ran 5
 */
export function trainedSeconds(history: readonly Record<string, unknown>[]): number {
  let total = 0;
  let last = 0;
  for (const r of history) {
    if (typeof r.seconds !== 'number') continue;
    if (r.seconds < last) total += last;
    last = r.seconds;
  }
  return total + last;
}

/**
 * A checked {@link TrainState}.
 *
 * @throws {@link WhaleidError} naming the file and the field that is wrong
 */
function parseTrainState(file: string, text: string): TrainState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new WhaleidError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const s = value as Partial<TrainState> | null;
  if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new WhaleidError(`${file}: expected an object with groupsDone, epochsDone and history`);
  for (const key of ['groupsDone', 'epochsDone'] as const) {
    if (!Number.isSafeInteger(s[key]) || (s[key] as number) < 0) throw new WhaleidError(`${file}: expected ${key} to be a non-negative integer, got ${JSON.stringify(s[key])}`);
  }
  if (!Array.isArray(s.history) || s.history.some((h) => h === null || typeof h !== 'object')) throw new WhaleidError(`${file}: expected history to be an array of records`);
  return { groupsDone: s.groupsDone!, epochsDone: s.epochsDone!, history: s.history };
}

/**
 * Adam's state from optimizer.json/.bin. Moments are stored by weight name; checkpoints written
 * before names were stable hold tfjs's registered names (`stem_conv/kernel_1/m`) in tfjs's order
 * (first moments of the trainable weights in order, then second moments) and are read by position.
 */
async function readOptimizerFile(dir: string, siamese: Siamese): Promise<OptimizerState> {
  const specsFile = path.join(dir, 'optimizer.json');
  let specs: tf.io.WeightsManifestEntry[];
  try {
    specs = JSON.parse(await readText(specsFile)) as tf.io.WeightsManifestEntry[];
  } catch (err) {
    throw err instanceof WhaleidError ? err : new WhaleidError(`${specsFile}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(specs) || specs[0]?.name !== ITERATIONS) throw new WhaleidError(`${specsFile}: expected a weights manifest starting with ${ITERATIONS}`);
  const binFile = path.join(dir, 'optimizer.bin');
  const bin = await fs.readFile(binFile);
  const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (bin.length !== expected) throw new WhaleidError(`${binFile}: ${bin.length} bytes, ${specsFile} needs ${expected}`);
  const map = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length), specs);
  try {
    const iterations = (map[ITERATIONS].dataSync() as Int32Array)[0];
    const entries = specs.slice(1).map((s) => ({ name: s.name, shape: s.shape, values: map[s.name].dataSync() as Float32Array }));
    return { iterations, moments: momentsByName(siamese, entries) };
  } finally {
    tf.dispose(Object.values(map));
  }
}

function momentsByName(siamese: Siamese, entries: { name: string; shape: number[]; values: Float32Array }[]): NamedArrays {
  const trainable = siamese.model.trainableWeights.map((w) => w.originalName);
  const known = new Set(trainable.flatMap((n) => [`${n}/m`, `${n}/v`]));
  const byPosition = !entries.every((e) => known.has(e.name)) && entries.length === 2 * trainable.length;
  const name = (i: number): string => (byPosition ? `${trainable[i % trainable.length]}/${i < trainable.length ? 'm' : 'v'}` : entries[i].name);
  return new Map(entries.map((e, i) => [name(i), { shape: e.shape, values: e.values }]));
}

/** Rewrites the JSON-lines log from the history (after a resume, lines past the checkpoint go). */
export async function writeLog(runDir: string, history: readonly Record<string, unknown>[]): Promise<void> {
  await writeFileAtomic(runPaths(runDir).log, history.map((h) => JSON.stringify(h)).join('\n') + (history.length ? '\n' : ''));
}
