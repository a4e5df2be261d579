/**
 * Features of a branch still in training (a tfjs model in memory) through ONNX Runtime: the
 * branch is exported in memory (BatchNorm folded, as inference uses it) and run on every core.
 * The score matrix of every epoch group needs the features of every training photo; ORT computes
 * them several times faster than tfjs-wasm (bench/infer.ts: 6x at 384 px), and training time is
 * what the CPU lacks.
 *
 * There is no fallback to tfjs: a branch the exporter cannot express is a bug of the exporter or
 * of the network, and is reported as such rather than hidden behind a slower path.
 */
import type * as tf from '@tensorflow/tfjs';
import type { CropRequest, CropSettings } from '../image/crop.js';
import type { ImageCache } from '../image/image-cache.js';
import { exportBranchOnnx } from '../model/onnx/onnx-export.js';
import { ortFeatures } from './ort-features.js';
import { createOrtModel } from './ort-session.js';

/**
 * Branch features of photos (no augmentation) through ONNX Runtime, from a tfjs branch.
 *
 * @param branch - the branch model (inference-mode BatchNorm)
 * @param cache - photo cache
 * @param requests - the photos
 * @param crop - crop settings
 * @param options - progress
 * @returns n*F features, row-major (equal to tfjs's `branch.predict` within float32 rounding)
 * @throws Error when the branch cannot be exported to ONNX, saying why (a bug, not a user error)
 * @example
 * const f = await computeFeaturesOnnx(siamese.branch, cache, photos, { size: 128 });
 */
export async function computeFeaturesOnnx(
  branch: tf.LayersModel,
  cache: ImageCache,
  requests: readonly CropRequest[],
  crop: CropSettings,
  options: { onProgress?: (done: number, total: number) => void } = {},
): Promise<Float32Array> {
  let bytes: Uint8Array;
  try {
    bytes = exportBranchOnnx(branch);
  } catch (err) {
    throw new Error(`Cannot compute the features of ${branch.name} with ONNX Runtime: its export failed (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
  const session = await createOrtModel(bytes);
  try {
    return await ortFeatures(session, cache, requests, crop, options.onProgress);
  } finally {
    await session.dispose();
  }
}
