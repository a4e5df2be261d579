/**
 * Export of the Siamese network's branch and head to ONNX, written by us (no converter package):
 * the tfjs-layers graph is walked layer by layer (`onnx-layers.ts`), emitted with a small graph
 * builder (`onnx-graph.ts`) and serialised with protobufjs from a built-in subset of onnx.proto
 * (`onnx-proto.ts`). Opset 17, float32, symbolic batch dimension `N`.
 *
 * The branch runs NCHW inside (its NHWC greyscale input becomes NCHW with a free reshape) and has
 * the BatchNorms that precede 1x1 convs folded into them, so ONNX Runtime sees Conv(+Relu) chains
 * it can fuse. Files load in any ONNX runtime; `src/infer/ort-session.ts` wraps ONNX Runtime.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { WhaleidError } from '../../util/errors.js';
import { createGraphBuilder } from './onnx-graph.js';
import { convertLayersModel } from './onnx-layers.js';
import { decodeOnnxModel, encodeOnnxModel, OnnxDataType } from './onnx-proto.js';
import { BRANCH_ONNX, HEAD_ONNX } from '../folders/run-folder.js';

/** File names written by {@link exportSiameseOnnx}. */
export { BRANCH_ONNX, HEAD_ONNX };

/** ONNX input/output names of the exported branch and head. */
export const ONNX_NAMES = Object.freeze({ image: 'image', features: 'features', a: 'a', b: 'b', score: 'score' });

/** Options of {@link exportLayersModelOnnx}. */
export interface OnnxExportOptions {
  /** ONNX names of the model's inputs, in order; default the tfjs input names. */
  inputNames?: readonly string[];
  /** ONNX names of the model's outputs, in order; default `output`, `output_1`, ... */
  outputNames?: readonly string[];
  /** Fold BatchNorms into the following unpadded conv where that is exact; default true. */
  foldBatchNorm?: boolean;
  /** Extra `metadata_props` entries. */
  metadata?: Readonly<Record<string, string>>;
}

/**
 * Exports any flat tfjs LayersModel made of the supported layers (see `convertLayersModel`) to the
 * bytes of an ONNX file, with inference semantics (BatchNorm moving statistics, no dropout).
 *
 * @param model - the model; its weights are read now
 * @param options - names, folding and metadata, see {@link OnnxExportOptions}
 * @returns the `.onnx` file contents
 * @throws {@link WhaleidError} when a layer cannot be expressed in ONNX, or the names do not match
 *   the model's inputs/outputs
 * @example
 * const bytes = exportLayersModelOnnx(model, { inputNames: ['x'], outputNames: ['y'] });
 */
export function exportLayersModelOnnx(model: tf.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const g = createGraphBuilder(model.name, { name: 'whaleid', version: `tfjs-layers ${tf.version_layers}` });
  const inputNames = options.inputNames ?? model.inputs.map((t) => t.sourceLayer.name);
  const outputNames = options.outputNames ?? model.outputs.map((_, i) => (i === 0 ? 'output' : `output_${i}`));
  const report = convertLayersModel(model, g, { inputNames, outputNames, foldBatchNorm: options.foldBatchNorm });
  const metadata = { ...options.metadata, 'whaleid.folded_batchnorms': String(report.foldedBatchNorms.length) };
  return encodeOnnxModel(g.toModel(metadata));
}

/**
 * Exports the branch CNN: input `image` `[N, S, S, C]` float32 (NHWC, our crops as they are),
 * output `features` `[N, F]`.
 *
 * @param branch - a branch made by `createBranch` (or loaded)
 * @param options - `foldBatchNorm` (default true)
 * @returns the `.onnx` file contents
 * @throws {@link WhaleidError} when the model is not a one-input image model of supported layers
 * @example
 * await writeFileAtomic('out/branch.onnx', exportBranchOnnx(siamese.branch));
 */
export function exportBranchOnnx(branch: tf.LayersModel, options: { foldBatchNorm?: boolean } = {}): Uint8Array {
  if (branch.inputs.length !== 1 || branch.inputs[0].rank !== 4 || branch.outputs.length !== 1) {
    throw new WhaleidError(`Cannot export ${branch.name} as a branch: expected one [N, S, S, C] input and one output`);
  }
  const [, size, , channels] = branch.inputs[0].shape;
  return exportLayersModelOnnx(branch, {
    inputNames: [ONNX_NAMES.image],
    outputNames: [ONNX_NAMES.features],
    foldBatchNorm: options.foldBatchNorm,
    metadata: { 'whaleid.kind': 'branch', 'whaleid.input_size': String(size), 'whaleid.channels': String(channels) },
  });
}

/**
 * Exports the head: inputs `a`, `b` `[N, F]` float32 (branch features), output `score` `[N, 1]`
 * (the probability that both photos show the same whale, or the logit for a linear head).
 *
 * @param head - a head made by `createHead` (or loaded)
 * @returns the `.onnx` file contents
 * @throws {@link WhaleidError} when the model is not a two-input model of supported layers
 * @example
 * await writeFileAtomic('out/head.onnx', exportHeadOnnx(siamese.head));
 */
export function exportHeadOnnx(head: tf.LayersModel): Uint8Array {
  if (head.inputs.length !== 2 || head.outputs.length !== 1) {
    throw new WhaleidError(`Cannot export ${head.name} as a head: expected two [N, F] inputs and one output`);
  }
  return exportLayersModelOnnx(head, {
    inputNames: [ONNX_NAMES.a, ONNX_NAMES.b],
    outputNames: [ONNX_NAMES.score],
    metadata: { 'whaleid.kind': 'head' },
  });
}

/**
 * Writes a Siamese network's branch and head as `branch.onnx` and `head.onnx` in a folder, each
 * atomically (temp file + rename), so a reader never sees a half-written model.
 *
 * @param siamese - the network (only `branch` and `head` are used)
 * @param dir - the folder, created if missing; existing files are replaced
 * @param options - `foldBatchNorm` for the branch (default true)
 * @returns the two file paths
 * @throws {@link WhaleidError} when a part cannot be exported; the file system's error when a file
 *   cannot be written
 * @example
 * const { branch, head } = await exportSiameseOnnx(siamese, 'runs/a/onnx');
 */
export async function exportSiameseOnnx(
  siamese: { readonly branch: tf.LayersModel; readonly head: tf.LayersModel },
  dir: string,
  options: { foldBatchNorm?: boolean } = {},
): Promise<{ branch: string; head: string }> {
  const files = { branch: path.join(dir, BRANCH_ONNX), head: path.join(dir, HEAD_ONNX) };
  // Both encoded before anything is written: a failing head leaves no lone new branch file.
  const branchBytes = exportBranchOnnx(siamese.branch, options);
  const headBytes = exportHeadOnnx(siamese.head);
  await writeFileAtomic(files.branch, branchBytes);
  await writeFileAtomic(files.head, headBytes);
  return files;
}

/**
 * Counts the float32 parameters stored in an ONNX file's initializers (shape constants, which are
 * int64, are not parameters).
 *
 * @param bytes - the `.onnx` file contents
 * @returns the number of float32 values in the initializers
 * @throws {@link WhaleidError} when the bytes are not an ONNX model
 * @example
 * onnxParameterCount(exportBranchOnnx(branch, { foldBatchNorm: false })); // branch.countParams()
 */
export function onnxParameterCount(bytes: Uint8Array): number {
  const model = decodeOnnxModel(bytes);
  return (model.graph.initializer ?? [])
    .filter((t) => t.dataType === OnnxDataType.FLOAT)
    .reduce((n, t) => n + (t.dims ?? []).reduce((a, b) => a * Number(b), 1), 0);
}
