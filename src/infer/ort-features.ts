import { loadCropBuffer, type CropRequest, type CropSettings } from '../image/crop.js';
import type { ImageCache } from '../image/image-cache.js';
import type { OrtModel } from './ort-session.js';

/**
 * Branch features through ONNX Runtime, 16 photos a run (crops decoded 4 at a time while the
 * previous run's photos are already in the batch). Shared by prediction, evaluation, the service
 * and training's validation, so all see the same crops.
 *
 * @param branch - an open ONNX branch session
 * @param cache - decoded-photo cache
 * @param requests - the photos (file, box, rotate flag, augmentation)
 * @param crop - the run's crop settings
 * @param onProgress - called after each run of 16 with photos done so far
 * @returns `requests.length * F` features, photo after photo
 * @throws {@link WhaleidError} when a photo cannot be read
 * @example
 * const f = await ortFeatures(await createOrtModel('runs/a/onnx/branch.onnx'), cache, photos, run.crop);
 */
export async function ortFeatures(branch: OrtModel, cache: ImageCache, requests: readonly CropRequest[], crop: CropSettings, onProgress?: (done: number, total: number) => void): Promise<Float32Array> {
  const F = branch.featureCount;
  const out = new Float32Array(requests.length * F);
  const bs = 16;
  for (let i = 0; i < requests.length; i += bs) {
    const part = requests.slice(i, i + bs);
    out.set(await branch.features(await loadCropBuffer(cache, part, crop), part.length), i * F);
    onProgress?.(Math.min(requests.length, i + bs), requests.length);
  }
  return out;
}
