/**
 * The layout of a training run's folder, in one place. Every reader and writer of a run (training,
 * resume, prediction, evaluation, bootstrap, the Kaggle pipeline, the demo, the service) takes its
 * paths from here, so a file is named once:
 *
 * ```
 * RUN/config.json            the training configuration (read back by a resume)
 * RUN/engine.json            the engine that trains it: engine, backend, threads, device, precision
 * RUN/log.jsonl              one record per epoch and per validation
 * RUN/report.html            loss and validation curves
 * RUN/checkpoint/            the last schedule-group checkpoint (checkpoint.old: the one before)
 * RUN/model/                 the final network: model.json + weights.bin (tfjs layers format)
 * RUN/onnx/branch.onnx       the final branch, for ONNX Runtime
 * RUN/onnx/head.onnx         the final head
 * RUN/onnx/branch.int8.onnx  the branch quantized to int8 (whaleid quantize), and branch.int8.json its calibration
 * RUN/validation.json        the final validation (threshold, MAP@5, curve)
 * RUN/manifest.json          SHA-256 of the final model's files, preset, input size, features
 * RUN/predicted-boxes.json   the box model's boxes of photos a boxes CSV lacks (a cache)
 * ```
 *
 * It sits in the model layer so that every layer above can use it. Its configuration reader is
 * generic (a JSON object): the training layer validates it as a TrainConfig.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { WhaleidError } from '../../util/errors.js';
import { isModelFolder } from './model-folder.js';
import { checkManifest, MANIFEST_JSON, removeManifest, writeManifest, type Manifest, type ModelIdentity } from './run-manifest.js';

/** The tfjs layers-format files of a saved network (model-io writes them; run folders hold them). */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
/** The ONNX files of an exported Siamese network (onnx-export writes them). */
export const BRANCH_ONNX = 'branch.onnx';
export const HEAD_ONNX = 'head.onnx';
/** The int8 branch written beside the float32 one by `whaleid quantize`, and its calibration summary. */
export const BRANCH_INT8_ONNX = 'branch.int8.onnx';
export const BRANCH_INT8_JSON = 'branch.int8.json';

/** The paths of a run folder's files. */
export interface RunPaths {
  readonly dir: string;
  readonly config: string;
  /** How the run is trained (engine, threads, ...): a resume restores it. */
  readonly engine: string;
  readonly log: string;
  readonly report: string;
  readonly checkpoint: string;
  /** The previous checkpoint: kept, so that a damaged latest one falls back to it. */
  readonly checkpointOld: string;
  /** The final network's folder (model.json + weights.bin). */
  readonly model: string;
  readonly modelJson: string;
  readonly weightsBin: string;
  readonly onnx: string;
  readonly branchOnnx: string;
  readonly headOnnx: string;
  /** The int8 branch (present once the run was quantized). */
  readonly branchInt8Onnx: string;
  /** What the int8 branch was calibrated on (photos, ranges, the float model's hash). */
  readonly branchInt8Json: string;
  readonly validation: string;
  readonly manifest: string;
  readonly predictedBoxes: string;
}

/**
 * The paths of a run folder's files (nothing is read).
 *
 * @param dir - the run folder
 * @returns its paths
 * @example
 * runPaths('runs/a').branchOnnx; // 'runs/a/onnx/branch.onnx'
 */
export function runPaths(dir: string): RunPaths {
  const model = path.join(dir, 'model');
  const onnx = path.join(dir, 'onnx');
  const checkpoint = path.join(dir, 'checkpoint');
  return Object.freeze({
    dir,
    config: path.join(dir, 'config.json'),
    engine: path.join(dir, 'engine.json'),
    log: path.join(dir, 'log.jsonl'),
    report: path.join(dir, 'report.html'),
    checkpoint,
    checkpointOld: `${checkpoint}.old`,
    model,
    modelJson: path.join(model, MODEL_JSON),
    weightsBin: path.join(model, WEIGHTS_BIN),
    onnx,
    branchOnnx: path.join(onnx, BRANCH_ONNX),
    headOnnx: path.join(onnx, HEAD_ONNX),
    branchInt8Onnx: path.join(onnx, BRANCH_INT8_ONNX),
    branchInt8Json: path.join(onnx, BRANCH_INT8_JSON),
    validation: path.join(dir, 'validation.json'),
    manifest: path.join(dir, MANIFEST_JSON),
    predictedBoxes: path.join(dir, 'predicted-boxes.json'),
  });
}

/**
 * Whether a run has finished: its final network (model/model.json) is written.
 *
 * @param dir - the run folder
 * @returns true when model/model.json exists
 */
export function hasFinalModel(dir: string): boolean {
  return existsSync(runPaths(dir).modelJson);
}

/**
 * Whether a run has a checkpoint to resume from (an interrupted or finished run is there).
 *
 * @param dir - the run folder
 * @returns true when checkpoint/ exists
 */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(runPaths(dir).checkpoint);
}

/**
 * Whether a run exported its network for ONNX Runtime (onnx/branch.onnx); an imported model's
 * folder (`model-folder.ts`) is ONNX already, and is served wherever an exported run is.
 *
 * @param dir - the run folder, or an imported model's folder
 * @returns true when onnx/branch.onnx exists, or for an imported model
 */
export function hasOnnxExport(dir: string): boolean {
  return existsSync(runPaths(dir).branchOnnx) || isModelFolder(dir);
}

/** Whether `dir` holds a training run (its config.json). */
function isRun(dir: string): boolean {
  return existsSync(runPaths(dir).config);
}

/**
 * What is wrong with a folder given as a training run, in one line, or null when it is one (or an
 * imported model's folder, which is given wherever a run is): a
 * folder inside a run (its model/ or onnx/) names the run to give instead, and a folder holding
 * runs lists them.
 *
 * @param dir - the folder given
 * @returns the problem, or null for a run folder
 * @example
 * runFolderProblem('work/run1/model'); // 'work/run1/model is inside the run work/run1; use work/run1'
 */
export function runFolderProblem(dir: string): string | null {
  if (isRun(dir) || isModelFolder(dir)) return null;
  if (!existsSync(dir)) return `${dir}: no such folder; expected a training run folder (written by whaleid train) or a model folder (whaleid model import)`;
  const parent = path.dirname(dir);
  if (isRun(parent)) return `${dir} is inside the run ${parent}; use ${parent}`;
  let runs: string[] = [];
  try {
    runs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && isRun(path.join(dir, e.name))).map((e) => path.join(dir, e.name));
  } catch {
    // not a folder: the general message below
  }
  if (runs.length > 0) return `${dir} is not a training run but holds ${runs.length}: ${runs.sort().join(', ')}; give one of them`;
  return `${dir}: not a training run (config.json missing) nor an imported model (embedding.onnx and preprocessing.json missing)`;
}

function readJsonObject(file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new WhaleidError(`${file}: not readable JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WhaleidError(`${file}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Reads a run's stored configuration as a plain JSON object; the training layer validates it
 * (the TrainConfig type lives above this layer).
 *
 * @param dir - the run folder
 * @returns the configuration's fields, or null when the run has no config.json
 * @throws {@link WhaleidError} when config.json is not a JSON object
 * @example
 * const stored = readRunConfig('runs/a'); // { data: 'catalog', preset: 'tiny', ... }
 */
export function readRunConfig(dir: string): Record<string, unknown> | null {
  const file = runPaths(dir).config;
  return existsSync(file) ? readJsonObject(file) : null;
}

/**
 * Writes a run's configuration (atomically, creating the folder).
 *
 * @param dir - the run folder
 * @param config - the full configuration
 */
export async function writeRunConfig(dir: string, config: object): Promise<void> {
  await writeFileAtomic(runPaths(dir).config, JSON.stringify(config, null, 2));
}

/**
 * Reads the engine settings a run was started with (RUN/engine.json) as a plain JSON object; the
 * pipeline validates it.
 *
 * @param dir - the run folder
 * @returns its fields, or null for a run without one (started before runs stored their engine)
 * @throws {@link WhaleidError} when engine.json is not a JSON object
 * @example
 * readRunEngine('runs/a'); // { engine: 'wasm', backend: 'wasm', threads: 1 }
 */
export function readRunEngine(dir: string): Record<string, unknown> | null {
  const file = runPaths(dir).engine;
  return existsSync(file) ? readJsonObject(file) : null;
}

/**
 * Writes the engine settings of a run (atomically).
 *
 * @param dir - the run folder (it exists)
 * @param engine - the settings in force
 */
export async function writeRunEngine(dir: string, engine: object): Promise<void> {
  await writeFileAtomic(runPaths(dir).engine, JSON.stringify(engine, null, 2));
}

/** What every reader of validation.json may rely on (the training layer stores more). */
export interface StoredValidation {
  /** Validation MAP@5 at the calibrated threshold. */
  map5: number;
  /** The calibrated new-individual threshold. */
  threshold: number;
}

/**
 * Reads a run's final validation.
 *
 * @param dir - the run folder
 * @returns the stored validation (all its fields), or null when the run has none
 * @throws {@link WhaleidError} when validation.json lacks a numeric map5 or threshold
 * @example
 * const v = readRunValidation('runs/a'); // { map5: 0.42, threshold: 0.99, ... }
 */
export function readRunValidation(dir: string): (StoredValidation & Record<string, unknown>) | null {
  const file = runPaths(dir).validation;
  if (!existsSync(file)) return null;
  const v = readJsonObject(file);
  for (const k of ['map5', 'threshold']) if (typeof v[k] !== 'number') throw new WhaleidError(`${file}: expected a number for ${k}`);
  return v as StoredValidation & Record<string, unknown>;
}

/**
 * Writes a run's final validation (atomically).
 *
 * @param dir - the run folder
 * @param validation - the validation result (and whatever else the training layer stores, e.g. the scorer)
 */
export async function writeRunValidation(dir: string, validation: StoredValidation & Record<string, unknown>): Promise<void> {
  await writeFileAtomic(runPaths(dir).validation, JSON.stringify(validation, null, 2));
}

/** The final model's files, relative to the run folder: what the run's manifest covers. */
export const RUN_MODEL_FILES: readonly string[] = Object.freeze([`model/${MODEL_JSON}`, `model/${WEIGHTS_BIN}`, `onnx/${BRANCH_ONNX}`, `onnx/${HEAD_ONNX}`]);

/**
 * Removes the run's manifest before its final model is (re)written: a kill midway then leaves a
 * run without a manifest (loaded with a warning), never one whose manifest lies.
 *
 * @param dir - the run folder
 */
export function removeRunManifest(dir: string): void {
  removeManifest(dir);
}

/**
 * Writes the run's manifest.json once its final model (model/ and onnx/) is written: the SHA-256
 * of each of {@link RUN_MODEL_FILES} and what the model is.
 *
 * @param dir - the run folder
 * @param identity - preset name, input size, feature count
 * @returns the manifest
 * @example
 * await writeRunManifest('runs/a', { preset: 'tiny', inputSize: 64, features: 64 });
 */
export async function writeRunManifest(dir: string, identity: ModelIdentity): Promise<Manifest> {
  return writeManifest(dir, RUN_MODEL_FILES, identity);
}

/**
 * Adds files written after the final model (the int8 branch and its calibration) to the run's
 * manifest, so that loaders check them like the others; the files already listed are checked
 * first (a quantization of a changed run is refused).
 *
 * @param dir - the run folder (with a manifest)
 * @param files - the files to add, relative to the run folder (`/` separators)
 * @returns the manifest written
 * @throws {@link WhaleidError} when the run has no manifest or a listed file does not match it
 * @example
 * await addRunManifestFiles('runs/a', ['onnx/branch.int8.onnx', 'onnx/branch.int8.json']);
 */
export async function addRunManifestFiles(dir: string, files: readonly string[]): Promise<Manifest> {
  const manifest = checkManifest(dir, () => undefined);
  if (manifest === null) throw new WhaleidError(`${dir}: no ${MANIFEST_JSON} (a run from before manifests); retrain it or export it again before adding files`);
  const all = [...new Set([...Object.keys(manifest.files), ...files])];
  return writeManifest(dir, all, manifest);
}

/**
 * Checks a run's final model files against its manifest before a loader uses them; a run from
 * before manifests is accepted with one warning line.
 *
 * @param dir - the run folder
 * @param onWarning - receives the warning for a run without a manifest
 * @returns the manifest, or null for a run without one
 * @throws {@link WhaleidError} naming the file that does not match
 */
export function checkRunManifest(dir: string, onWarning: (line: string) => void): Manifest | null {
  return checkManifest(dir, onWarning);
}
