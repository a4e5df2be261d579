/**
 * The one place that decides how a trained run computes features and scores pairs, for
 * prediction, evaluation, bootstrap and the service: the branch on ONNX Runtime from
 * `onnx/branch.onnx`, the head's weights read as plain data from `onnx/head.onnx`, both checked
 * against the run's manifest first. Nothing here loads tfjs.
 *
 * A run trained before the ONNX export (model/ but no onnx/) is still served the same way: its
 * network is exported from model/ in memory (`legacy-export.ts`, the only path that loads tfjs),
 * with a warning.
 *
 * An imported embedding model's folder (`whaleid model import`) is opened here too, by
 * `embedding-model.ts`: the same interface, its cosine in the head's form.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CropRequest, CropSettings } from '../image/crop.js';
import type { ImageCache } from '../image/image-cache.js';
import type { HeadWeights } from '../model/network/head-weights.js';
import { isModelFolder } from '../model/folders/model-folder.js';
import { checkRunManifest, hasOnnxExport, runPaths } from '../model/folders/run-folder.js';
import { checkModelIdentity, type Manifest } from '../model/folders/run-manifest.js';
import { WhaleidError } from '../util/errors.js';
import { ortFeatures } from './ort-features.js';
import { readHeadWeightsOnnx } from './head-onnx.js';
import { readInt8Branch, type Precision } from './int8-branch.js';
import { createOrtModel, type OrtModel } from './ort-session.js';

/** Options of {@link openRunInference}. */
export interface RunInferenceOptions {
  /** ONNX Runtime threads inside an operator; default 2. */
  threads?: number;
  /** tfjs backend for a run without onnx/ (its network is exported from model/); default wasm. */
  backend?: 'wasm' | 'cpu';
  /** Receives warnings (a run without a manifest or without onnx/); default: stderr. */
  onWarning?: (line: string) => void;
  /**
   * The branch's precision: float32 (`onnx/branch.onnx`, default) or int8 (`onnx/branch.int8.onnx`,
   * written by `whaleid quantize`; refused when the run has none). The model version differs.
   */
  precision?: Precision;
}

/** A trained run, ready to compute features and score pairs. */
export interface RunInference {
  readonly runDir: string;
  /** Input side in pixels (the branch's fixed input size). */
  readonly inputSize: number;
  /** Features per photo F. */
  readonly featureCount: number;
  /** The head's weights, for the score kernel. */
  readonly head: HeadWeights;
  /**
   * `<run folder name>@<12 hex digits>`: a hash of the branch and head the run is served with, so
   * features stored in a catalog are never mixed between models.
   */
  readonly modelVersion: string;
  /** How features are computed, for the user (e.g. `ONNX Runtime`). */
  readonly engine: string;
  /** The run's manifest (null for a run from before manifests). */
  readonly manifest: Manifest | null;
  /**
   * Branch features of photos, 16 a run.
   * @returns `requests.length * F` features, photo after photo
   */
  features(cache: ImageCache, requests: readonly CropRequest[], crop: CropSettings, onProgress?: (done: number, total: number) => void): Promise<Float32Array>;
  /** Releases the ONNX Runtime session. */
  dispose(): Promise<void>;
}

const stderrWarning = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/**
 * Opens a trained run for inference (see the module's comment for the engine choice).
 *
 * @param runDir - a finished run folder (model/ and, for runs since the ONNX export, onnx/), or an
 *   imported model's folder
 * @param options - threads, tfjs backend for old runs, warnings
 * @returns the run's inference; call `dispose()` when done
 * @throws {@link WhaleidError} when a model file does not match the run's manifest (naming it),
 *   when branch and head do not fit together, or when the files are not a whaleid model
 * @example
 * const run = await openRunInference('runs/a');
 * const f = await run.features(cache, photos, { size: run.inputSize });
 * await run.dispose();
 */
export async function openRunInference(runDir: string, options: RunInferenceOptions = {}): Promise<RunInference> {
  const int8 = options.precision === 'int8';
  if (isModelFolder(runDir)) {
    if (int8) throw new WhaleidError(`--precision int8: ${runDir} is an imported model; only whaleid runs are quantized (whaleid quantize)`);
    const { openEmbeddingInference } = await import('./embedding-model.js');
    return openEmbeddingInference(runDir, options);
  }
  const warn = options.onWarning ?? stderrWarning;
  const paths = runPaths(runDir);
  const manifest = checkRunManifest(runDir, warn);
  let branchBytes: Uint8Array;
  let headBytes: Uint8Array;
  let engine = 'ONNX Runtime';
  if (hasOnnxExport(runDir)) {
    branchBytes = readFileSync(paths.branchOnnx);
    headBytes = readFileSync(paths.headOnnx);
    if (int8) {
      branchBytes = readInt8Branch(runDir, manifest, branchBytes);
      engine = 'ONNX Runtime, int8 branch';
    }
  } else {
    if (int8) throw new WhaleidError(`--precision int8: ${runDir} has no onnx/ (trained before the ONNX export); it has no int8 branch`);
    warn(`warning: ${runDir} has no onnx/ (trained before the ONNX export): its network is exported from model/ in memory`);
    const { exportRunFromModel } = await import('./legacy-export.js');
    ({ branch: branchBytes, head: headBytes } = await exportRunFromModel(runDir, options.backend ?? 'wasm'));
    engine = 'ONNX Runtime (network exported from model/)';
  }
  const head = readHeadWeightsOnnx(headBytes, paths.headOnnx);
  const model: OrtModel = await createOrtModel(branchBytes, { threads: options.threads });
  try {
    if (head.features !== model.featureCount) {
      throw new WhaleidError(`${paths.headOnnx}: a head of ${head.features} features, but ${paths.branchOnnx} gives ${model.featureCount}; the run folder was mixed with another`);
    }
    if (manifest) checkModelIdentity(runDir, manifest, { inputSize: model.inputSize, features: model.featureCount }, 'the model');
  } catch (err) {
    await model.dispose();
    throw err;
  }
  const hash = createHash('sha256').update(branchBytes).update(headBytes).digest('hex');
  return {
    runDir,
    inputSize: model.inputSize,
    featureCount: model.featureCount,
    head,
    modelVersion: `${path.basename(path.resolve(runDir))}@${hash.slice(0, 12)}`,
    engine,
    manifest,
    features: (cache, requests, crop, onProgress) => ortFeatures(model, cache, requests, crop, onProgress),
    dispose: () => model.dispose(),
  };
}
