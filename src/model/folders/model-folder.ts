/**
 * The layout of an imported embedding model's folder (`whaleid model import`), in one place:
 *
 * ```
 * MODEL/embedding.onnx      the network, as given (photo -> embedding)
 * MODEL/preprocessing.json  how photos become its input (size, channels, mean/std, resize policy)
 * MODEL/calibration.json    after `whaleid model calibrate`: the cosine's scale and bias, threshold
 * MODEL/feature-centre.json after `whaleid model calibrate --centre data`: the mean embedding that
 *                           is subtracted before the cosine (src/infer/feature-centre.ts)
 * MODEL/manifest.json       SHA-256 of each of the files above, input size, embedding size
 * ```
 *
 * Such a folder is given wherever a training run is (`--model`): `isModelFolder` tells the two
 * apart, and the inference layer serves it through ONNX Runtime with the cosine as its scorer.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { checkPreprocessing, type Preprocessing } from '../../image/embedding-input.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { WhaleidError } from '../../util/errors.js';
import { checkManifest, removeManifest, writeManifest, type Manifest } from './run-manifest.js';

export const EMBEDDING_ONNX = 'embedding.onnx';
/** A fine-tuned TorchScript backbone's network (`whaleid train --backbone`), run by libtorch in place of embedding.onnx. */
export const EMBEDDING_TORCHSCRIPT = 'embedding.pt';
export const PREPROCESSING_JSON = 'preprocessing.json';
export const CALIBRATION_JSON = 'calibration.json';
export const FEATURE_CENTRE_JSON = 'feature-centre.json';
/** The manifest's `preset` of an imported model. */
export const IMPORTED_PRESET = 'imported-onnx';

/** The paths of a model folder's files (nothing is read). */
export interface ModelFolderPaths {
  readonly dir: string;
  readonly embedding: string;
  readonly preprocessing: string;
  readonly calibration: string;
  readonly centre: string;
}

/**
 * The paths of a model folder's files.
 *
 * @param dir - the model folder
 * @returns its paths
 * @example
 * modelFolderPaths('models/a').embedding; // 'models/a/embedding.onnx'
 */
export function modelFolderPaths(dir: string): ModelFolderPaths {
  const torchscript = path.join(dir, EMBEDDING_TORCHSCRIPT);
  const embedding = !existsSync(path.join(dir, EMBEDDING_ONNX)) && existsSync(torchscript) ? torchscript : path.join(dir, EMBEDDING_ONNX);
  return Object.freeze({ dir, embedding, preprocessing: path.join(dir, PREPROCESSING_JSON), calibration: path.join(dir, CALIBRATION_JSON), centre: path.join(dir, FEATURE_CENTRE_JSON) });
}

/**
 * Whether `dir` is an imported model folder (its embedding.onnx and preprocessing.json), as
 * opposed to a training run.
 *
 * @param dir - a folder given as `--model`
 * @returns true for an imported model folder
 */
export function isModelFolder(dir: string): boolean {
  const p = modelFolderPaths(dir);
  return existsSync(p.embedding) && existsSync(p.preprocessing);
}

/** The new-individual calibration of an imported model (its `calibration.json`). */
export interface ModelCalibration {
  /** Logit per unit of cosine: score = sigmoid(scale * cos + bias). */
  scale: number;
  bias: number;
  /** The new-individual threshold on that score. */
  threshold: number;
  /** What it was fitted on (a dataset folder or catalog), for the user. */
  source: string;
  /** Same and different pairs the fit saw. */
  pairs: { same: number; different: number };
  /** Open-set MAP@5 of the fitting photos at the threshold (leave-one-out), when measured. */
  map5: number | null;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new WhaleidError(`${file}: not readable JSON (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * Reads and checks a model folder's preprocessing.json.
 *
 * @param dir - the model folder
 * @returns the preprocessing
 * @throws {@link WhaleidError} naming the file and field that is wrong
 */
export function readModelPreprocessing(dir: string): Preprocessing {
  const file = modelFolderPaths(dir).preprocessing;
  return checkPreprocessing(readJson(file), file);
}

/**
 * Reads a model folder's calibration.json.
 *
 * @param dir - the model folder
 * @returns the calibration, or null before `whaleid model calibrate`
 * @throws {@link WhaleidError} naming the file and field that is wrong
 */
export function readModelCalibration(dir: string): ModelCalibration | null {
  const file = modelFolderPaths(dir).calibration;
  if (!existsSync(file)) return null;
  const c = readJson(file) as Partial<ModelCalibration> | null;
  const bad = (field: string, expected: string): WhaleidError => new WhaleidError(`${file}: expected ${expected} for ${field}`);
  if (typeof c !== 'object' || c === null) throw bad('the file', 'a JSON object');
  if (typeof c.scale !== 'number' || !(c.scale > 0) || !Number.isFinite(c.scale)) throw bad('scale', 'a positive number');
  if (typeof c.bias !== 'number' || !Number.isFinite(c.bias)) throw bad('bias', 'a finite number');
  if (typeof c.threshold !== 'number' || !(c.threshold >= 0 && c.threshold <= 1)) throw bad('threshold', 'a number between 0 and 1');
  return { scale: c.scale, bias: c.bias, threshold: c.threshold, source: String(c.source ?? ''), pairs: c.pairs ?? { same: 0, different: 0 }, map5: typeof c.map5 === 'number' ? c.map5 : null };
}

/** A model's feature centre (its `feature-centre.json`): the mean embedding of the photos it was computed on. */
export interface FeatureCentre {
  readonly values: Float32Array;
  /** The photos it is the mean of (a dataset folder or a catalog). */
  readonly source: string;
  readonly photos: number;
}

/**
 * Reads a model folder's feature-centre.json.
 *
 * @param dir - the model folder
 * @param features - the model's embedding size (the centre must have as many values)
 * @returns the centre, or null when the model has none
 * @throws {@link WhaleidError} naming the file and field that is wrong
 */
export function readModelCentre(dir: string, features: number): FeatureCentre | null {
  const file = modelFolderPaths(dir).centre;
  if (!existsSync(file)) return null;
  const c = readJson(file) as { values?: unknown; source?: unknown; photos?: unknown } | null;
  if (typeof c !== 'object' || c === null) throw new WhaleidError(`${file}: expected a JSON object for the file`);
  const v = c.values;
  if (!Array.isArray(v) || v.length !== features || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new WhaleidError(`${file}: expected ${features} finite numbers (the embedding size) for values, got ${Array.isArray(v) ? `${v.length} values` : typeof v}`);
  }
  return { values: Float32Array.from(v as number[]), source: String(c.source ?? ''), photos: typeof c.photos === 'number' ? c.photos : 0 };
}

/** The files a model folder's manifest covers (calibration.json and feature-centre.json once they are there). */
function coveredFiles(dir: string): string[] {
  const p = modelFolderPaths(dir);
  return [path.basename(p.embedding), PREPROCESSING_JSON, ...(existsSync(p.calibration) ? [CALIBRATION_JSON] : []), ...(existsSync(p.centre) ? [FEATURE_CENTRE_JSON] : [])];
}

/**
 * Writes a model folder's manifest over its files (atomically), once they are written.
 *
 * @param dir - the model folder
 * @param identity - input size and embedding size
 * @returns the manifest
 * @example
 * await writeModelManifest('models/a', { inputSize: 224, features: 512 });
 */
export async function writeModelManifest(dir: string, identity: { inputSize: number; features: number }): Promise<Manifest> {
  return writeManifest(dir, coveredFiles(dir), { preset: IMPORTED_PRESET, ...identity });
}

/**
 * Checks a model folder's files against its manifest (every loader does this first).
 *
 * @param dir - the model folder
 * @returns the manifest
 * @throws {@link WhaleidError} when the manifest is missing (the folder was not written by
 *   `whaleid model import`), names another kind of model, or a file does not match it
 */
export function checkModelFolder(dir: string): Manifest {
  const manifest = checkManifest(dir, () => {
    throw new WhaleidError(`${dir}: no manifest.json; import the model with whaleid model import --onnx FILE --out ${dir}`);
  });
  if (manifest === null || manifest.preset !== IMPORTED_PRESET) throw new WhaleidError(`${path.join(dir, 'manifest.json')}: expected "${IMPORTED_PRESET}" for preset, got ${JSON.stringify(manifest?.preset)}`);
  const extra = coveredFiles(dir).find((f) => !(f in manifest.files));
  if (extra !== undefined) throw new WhaleidError(`${path.join(dir, extra)}: not listed in ${path.join(dir, 'manifest.json')}; the folder was changed`);
  return manifest;
}

/**
 * Writes a model's calibration (atomically), and its feature centre when given, and its manifest
 * again to cover them. The manifest is removed first, so a kill midway leaves a folder refused with
 * a clear line, never one whose manifest lies.
 *
 * @param dir - the model folder (checked)
 * @param manifest - its manifest
 * @param calibration - the fitted calibration
 * @param centre - the feature centre the calibration was fitted with; null: the model has none
 *   (a file there is removed); left out: the folder's stays as it is
 * @example
 * await writeModelCalibration('models/a', manifest, { scale: 20, bias: -12, threshold: 0.6, source: 'photos', pairs: { same: 10, different: 10 }, map5: 0.5 });
 */
export async function writeModelCalibration(dir: string, manifest: Manifest, calibration: ModelCalibration, centre?: FeatureCentre | null): Promise<void> {
  removeManifest(dir);
  if (centre === null) rmSync(modelFolderPaths(dir).centre, { force: true });
  else if (centre !== undefined) await writeFileAtomic(modelFolderPaths(dir).centre, `${JSON.stringify({ source: centre.source, photos: centre.photos, values: [...centre.values] })}\n`);
  await writeFileAtomic(modelFolderPaths(dir).calibration, JSON.stringify(calibration, null, 2));
  await writeModelManifest(dir, { inputSize: manifest.inputSize, features: manifest.features });
}

/**
 * Removes a model folder's files: all of them (an import that failed midway), or the ones named.
 *
 * @param dir - the model folder
 * @param files - which files (names inside the folder); default every file of a model folder
 * @example
 * removeModelFiles('models/a', [CALIBRATION_JSON]);
 */
export function removeModelFiles(dir: string, files: readonly string[] = [EMBEDDING_ONNX, EMBEDDING_TORCHSCRIPT, PREPROCESSING_JSON, CALIBRATION_JSON, FEATURE_CENTRE_JSON, 'manifest.json']): void {
  for (const f of files) rmSync(path.join(dir, f), { force: true });
}
