/**
 * `whaleid model import`: an embedding network from elsewhere (an ONNX file exported by
 * PyTorch, TensorFlow, ...) put in a model folder with its preprocessing and manifest, after
 * checking that ONNX Runtime loads it and that its input fits the preprocessing.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { checkPreprocessing, type Preprocessing } from '../image/embedding-input.js';
import { CALIBRATION_JSON, FEATURE_CENTRE_JSON, isModelFolder, modelFolderPaths, removeModelFiles, writeModelManifest } from '../model/folders/model-folder.js';
import { removeManifest, type Manifest } from '../model/folders/run-manifest.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { WhaleidError } from '../util/errors.js';
import { openEmbeddingSession } from './embedding-model.js';
import { openOrtSession } from './ort-session.js';

/** Options of {@link importOnnxModel}. */
export interface ModelImportOptions {
  /** The .onnx file: one image input, one embedding output. */
  onnx: string;
  /** The model folder to write. */
  out: string;
  /** Preprocessing settings given; input size, layout and channels not given are read from the network's input. */
  preprocessing: Partial<Preprocessing>;
  /** Replace a model folder already there. */
  force?: boolean;
  /** ONNX Runtime threads for the check. */
  threads?: number;
}

/** What {@link importOnnxModel} wrote. */
export interface ModelImportResult {
  dir: string;
  preprocessing: Preprocessing;
  /** Embedding size. */
  featureCount: number;
  manifest: Manifest;
}

/** Input size, layout and channels the network's declared input says, where the user gave none. */
async function fromDeclaredInput(bytes: Uint8Array, given: Partial<Preprocessing>, label: string, threads?: number): Promise<Partial<Preprocessing>> {
  const session = await openOrtSession(bytes, { threads });
  let dims: readonly (number | string)[] = [];
  try {
    const meta = session.inputMetadata[0];
    if (meta?.isTensor) dims = meta.shape;
  } finally {
    await session.release();
  }
  if (dims.length !== 4) return given;
  const isChannels = (d: number | string): boolean => d === 1 || d === 3;
  const layout = given.layout ?? (isChannels(dims[1]) || !isChannels(dims[3]) ? 'nchw' : 'nhwc');
  const [c, s] = layout === 'nchw' ? [dims[1], dims[2]] : [dims[3], dims[1]];
  const inputSize = given.inputSize ?? (typeof s === 'number' ? s : undefined);
  if (inputSize === undefined) throw new WhaleidError(`${label}: its input side is not fixed ([${dims.join(', ')}]); give --input-size`);
  const channels = given.channels ?? (c === 1 ? 'grey' : 'rgb');
  // a grey network given no normalisation: ImageNet's mean and std averaged over the channels
  const grey = channels === 'grey' ? { mean: given.mean ?? [0.449], std: given.std ?? [0.226] } : {};
  return { ...given, layout, inputSize, channels, ...grey };
}

/**
 * Imports an ONNX embedding model into a model folder (embedding.onnx, preprocessing.json,
 * manifest.json), usable wherever a run is (`--model`).
 *
 * @param o - see {@link ModelImportOptions}
 * @returns the folder, its preprocessing and embedding size
 * @throws {@link WhaleidError} when the file is missing or not a model ONNX Runtime can load,
 *   when its input does not fit the preprocessing, or when `out` holds a model and `force` is not set
 * @example
 * await importOnnxModel({ onnx: 'resnet.onnx', out: 'models/resnet', preprocessing: { resize: 'crop' } });
 */
export async function importOnnxModel(o: ModelImportOptions): Promise<ModelImportResult> {
  if (!existsSync(o.onnx)) throw new WhaleidError(`${o.onnx}: no such file; expected an ONNX model`);
  const paths = modelFolderPaths(o.out);
  if (isModelFolder(o.out) && !o.force) throw new WhaleidError(`${o.out}: already holds a model (${paths.embedding}); give --force to replace it`);
  const bytes = new Uint8Array(readFileSync(o.onnx));
  const pre = checkPreprocessing(await fromDeclaredInput(bytes, o.preprocessing, o.onnx, o.threads), `${o.onnx} (its preprocessing)`);
  const net = await openEmbeddingSession(bytes, pre, o.onnx, { threads: o.threads });
  const featureCount = net.featureCount;
  await net.dispose();
  mkdirSync(o.out, { recursive: true });
  // the manifest goes first and comes back last: a kill midway leaves a folder refused as
  // unfinished, never one whose manifest vouches for files of another model
  removeManifest(o.out);
  try {
    await writeFileAtomic(paths.embedding, bytes);
    await writeFileAtomic(paths.preprocessing, JSON.stringify(pre, null, 2));
    removeModelFiles(o.out, [CALIBRATION_JSON, FEATURE_CENTRE_JSON]); // fitted on the network replaced
    const manifest = await writeModelManifest(o.out, { inputSize: pre.inputSize, features: featureCount });
    return { dir: o.out, preprocessing: pre, featureCount, manifest };
  } catch (err) {
    removeModelFiles(o.out);
    throw err;
  }
}
