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
