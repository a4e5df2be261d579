/**
 * The int8 branch of a run (`onnx/branch.int8.onnx`, written by `whaleid quantize`): which
 * precisions a run is served in, and the checks before the int8 file is used: it must be there,
 * listed in the run's manifest (the manifest's hash check has already run), and quantized from the
 * run's current float32 branch (its metadata carries that file's SHA-256).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { BRANCH_INT8_ONNX, runPaths } from '../model/folders/run-folder.js';
import type { Manifest } from '../model/folders/run-manifest.js';
import { decodeOnnxModel } from '../model/onnx/onnx-proto.js';
import { WhaleidError } from '../util/errors.js';

/** The precisions a run's branch is served in. */
export const PRECISIONS = Object.freeze(['float32', 'int8'] as const);
/** One of {@link PRECISIONS}. */
export type Precision = (typeof PRECISIONS)[number];

/** Metadata key of the quantized model: SHA-256 of the float32 branch it was quantized from. */
export const FLOAT_SHA256_KEY = 'whaleid.float_sha256';

/**
 * SHA-256 of bytes, hex.
 *
 * @param bytes - the bytes
 * @returns 64 hex digits
 */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Reads a run's int8 branch after checking it belongs to the run (see the module's comment).
 *
 * @param runDir - the run folder
 * @param manifest - the run's manifest, already verified (null for a run without one)
 * @param floatBytes - the run's float32 `onnx/branch.onnx`
 * @returns the int8 model's bytes
 * @throws {@link WhaleidError} when the run has no int8 branch, the manifest does not list it, or
 *   it was quantized from another float32 branch
 * @example
 * const bytes = readInt8Branch('runs/a', manifest, readFileSync('runs/a/onnx/branch.onnx'));
 */
export function readInt8Branch(runDir: string, manifest: Manifest | null, floatBytes: Uint8Array): Uint8Array {
  const file = runPaths(runDir).branchInt8Onnx;
  if (!existsSync(file)) throw new WhaleidError(`--precision int8: ${runDir} has no int8 branch (${file}); write it with whaleid quantize --model ${runDir}`);
  if (manifest !== null && manifest.files[`onnx/${BRANCH_INT8_ONNX}`] === undefined) {
    throw new WhaleidError(`${file}: not listed in ${runPaths(runDir).manifest}; it was not written by whaleid quantize for this run (run it again)`);
  }
  const bytes = readFileSync(file);
  const source = decodeOnnxModel(bytes).metadataProps?.find((p) => p.key === FLOAT_SHA256_KEY)?.value;
  if (source !== sha256Hex(floatBytes)) {
    throw new WhaleidError(`${file}: quantized from another branch.onnx than the run's (${source === undefined ? 'no source hash' : `source ${source.slice(0, 12)}...`}); run whaleid quantize --model ${runDir} again`);
  }
  return bytes;
}
