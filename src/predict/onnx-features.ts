import type { CropRequest, CropSettings } from '../image/crop.js';
import { loadCrop } from '../image/crop.js';
import type { ImageCache } from '../image/image-cache.js';
import { mapPool } from '../util/pool.js';
import { WhaleidError } from '../util/errors.js';
import type { OnnxBranch } from './onnx-runtime.js';

/**
 * Branch features through ONNX Runtime, 16 photos a run (crops decoded 4 at a time while the
 * previous run's photos are already in the batch). Shared by prediction and evaluation so both
 * see the same crops.
 *
 * @param branch - an open ONNX branch session
 * @param cache - decoded-photo cache
 * @param requests - the photos (file, box, rotate flag, augmentation)
 * @param crop - the run's crop settings
 * @param onProgress - called after each run of 16 with photos done so far
 * @returns `requests.length * F` features, photo after photo
 * @throws {@link WhaleidError} when a photo cannot be read
 * @example
 * const f = await onnxFeatures(await createOnnxBranch('runs/a/onnx/branch.onnx'), cache, photos, run.crop);
 */
export async function onnxFeatures(branch: OnnxBranch, cache: ImageCache, requests: readonly CropRequest[], crop: CropSettings, onProgress?: (done: number, total: number) => void): Promise<Float32Array> {
  const S = crop.size;
  const F = branch.featureCount;
  const out = new Float32Array(requests.length * F);
  const bs = 16;
  for (let i = 0; i < requests.length; i += bs) {
    const part = requests.slice(i, i + bs);
    const buf = new Float32Array(part.length * S * S);
    const loaded = await mapPool(part, 4, async (r, k) => buf.set(await loadCrop(cache, r, crop), k * S * S));
    const bad = loaded.find((x) => !x.ok);
    if (bad && !bad.ok) throw new WhaleidError(bad.error.message);
    out.set(await branch.features(buf, part.length), i * F);
    onProgress?.(Math.min(requests.length, i + bs), requests.length);
  }
  return out;
}
