/**
 * Calibration of a float32 branch for int8 quantization: the branch runs on ONNX Runtime with the
 * activations that quantization needs exposed as extra outputs (`withExtraOutputs`), and the
 * range of each is gathered over the calibration photos.
 *
 * Range: the minimum and maximum seen over all photos (percentile clipping is not done: on the
 * synthetic and nyala runs min/max gave validation MAP@5 within a point of float32, bench/results.md).
 */
import * as ort from 'onnxruntime-node';
import { loadCropBuffer, type CropRequest, type CropSettings } from '../image/crop.js';
import type { ImageCache } from '../image/image-cache.js';
import { calibrationTensors, withExtraOutputs, type ActivationRange } from '../model/onnx/onnx-quantize.js';
import { decodeOnnxModel, encodeOnnxModel } from '../model/onnx/onnx-proto.js';
import { WhaleidError } from '../util/errors.js';
import { openOrtSession } from './ort-session.js';

/** Options of {@link calibrateActivations}. */
export interface CalibrationOptions {
  /** ONNX Runtime threads; default 2. */
  threads?: number;
  /** Photos per ORT run; default 8 (the stem's activations of 8 photos at 384 px: 75 MB). */
  batch?: number;
  /** Called after each batch with photos done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** The calibrated ranges and what they were measured on. */
export interface Calibration {
  /** Range of each activation that quantization needs, by ONNX value name. */
  readonly ranges: Map<string, ActivationRange>;
  /** Photos run through the branch. */
  readonly photos: number;
}

/**
 * Runs the float32 branch on calibration photos and records the range of every activation that
 * `quantizeOnnxModel` quantizes.
 *
 * @param branchBytes - the float32 `branch.onnx`
 * @param cache - decoded-photo cache
 * @param requests - the calibration photos (a run's own training crops)
 * @param crop - the run's crop settings
 * @param options - threads, batch, progress
 * @returns the ranges
 * @throws {@link WhaleidError} when there are no photos, a photo cannot be read, or the model cannot be loaded
 * @example
 * const { ranges } = await calibrateActivations(readFileSync('runs/a/onnx/branch.onnx'), cache, photos, crop);
 */
export async function calibrateActivations(branchBytes: Uint8Array, cache: ImageCache, requests: readonly CropRequest[], crop: CropSettings, options: CalibrationOptions = {}): Promise<Calibration> {
  if (requests.length === 0) throw new WhaleidError('Cannot calibrate: no calibration photos');
  const model = decodeOnnxModel(branchBytes);
  const names = calibrationTensors(model);
  const session = await openOrtSession(encodeOnnxModel(withExtraOutputs(model, names)), { threads: options.threads });
  const ranges = new Map(names.map((n) => [n, { min: Infinity, max: -Infinity }]));
  try {
    const [input] = session.inputNames;
    const bs = options.batch ?? 8;
    for (let i = 0; i < requests.length; i += bs) {
      const part = requests.slice(i, i + bs);
      const data = await loadCropBuffer(cache, part, crop);
      const channels = data.length / (part.length * crop.size * crop.size);
      const result = await session.run({ [input]: new ort.Tensor('float32', data, [part.length, crop.size, crop.size, channels]) }, names);
      for (const name of names) {
        const r = ranges.get(name) as ActivationRange;
        const values = result[name].data as Float32Array;
        let lo = r.min;
        let hi = r.max;
        for (let k = 0; k < values.length; k++) {
          const v = values[k];
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        r.min = lo;
        r.max = hi;
      }
      options.onProgress?.(Math.min(requests.length, i + bs), requests.length);
    }
  } finally {
    await session.release();
  }
  return { ranges, photos: requests.length };
}
