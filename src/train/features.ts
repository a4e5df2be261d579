import * as tf from '@tensorflow/tfjs';
import type { ImageCache } from '../image/image-cache.js';
import { loadCropBuffer, type CropRequest, type CropSettings } from '../image/crop.js';

/**
 * Loads a batch of crops into one [n, S, S, 1] tensor (photos decoded concurrently).
 *
 * @param cache - photo cache
 * @param requests - photos with boxes and augmentations
 * @param crop - crop settings (size = S)
 * @returns the tensor (caller disposes)
 * @throws {@link WhaleidError} naming the first photo that could not be read
 */
export async function loadBatch(cache: ImageCache, requests: readonly CropRequest[], crop: CropSettings): Promise<tf.Tensor4D> {
  return tf.tensor4d(await loadCropBuffer(cache, requests, crop), [requests.length, crop.size, crop.size, 1]);
}

/**
 * Branch features of photos (no augmentation), batch by batch: n*F floats, row-major.
 *
 * @param branch - the branch model
 * @param cache - photo cache
 * @param requests - the photos
 * @param crop - crop settings
 * @param options - batch size and progress
 * @returns the features
 * @example
 * const f = await computeFeatures(siamese.branch, cache, photos, { size: 128 });
 */
export async function computeFeatures(
  branch: tf.LayersModel,
  cache: ImageCache,
  requests: readonly CropRequest[],
  crop: CropSettings,
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<Float32Array> {
  const F = branch.outputs[0].shape[1] as number;
  const out = new Float32Array(requests.length * F);
  const bs = options.batchSize ?? 32;
  for (let i = 0; i < requests.length; i += bs) {
    const part = requests.slice(i, i + bs);
    const x = await loadBatch(cache, part, crop);
    const y = branch.predict(x) as tf.Tensor;
    out.set(await y.data(), i * F);
    x.dispose();
    y.dispose();
    options.onProgress?.(Math.min(requests.length, i + bs), requests.length);
  }
  return out;
}

/**
 * {@link computeFeatures} through ONNX Runtime: the branch is exported in memory (BatchNorm
 * folded, as inference uses it) and run on both cores. The score matrix of every epoch group
 * needs the features of every training photo; ORT computes them several times faster than
 * tfjs-wasm (bench/infer.ts: 6x at 384 px), and training time is what the CPU lacks.
 * Falls back to tfjs when the branch cannot be exported.
 *
 * @param branch - the branch model (inference-mode BatchNorm)
 * @param cache - photo cache
 * @param requests - the photos
 * @param crop - crop settings
 * @param options - progress
 * @returns n*F features, row-major (equal to {@link computeFeatures} within float32 rounding)
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
  const { exportBranchOnnx } = await import('../model/onnx-export.js');
  const { createOnnxBranch } = await import('../predict/onnx-runtime.js');
  const { onnxFeatures } = await import('../predict/onnx-features.js');
  let bytes: Uint8Array;
  try {
    bytes = exportBranchOnnx(branch);
  } catch {
    return computeFeatures(branch, cache, requests, crop, options);
  }
  const session = await createOnnxBranch(bytes);
  try {
    return await onnxFeatures(session, cache, requests, crop, options.onProgress);
  } finally {
    await session.dispose();
  }
}
