import type { CropSettings } from '../image/crop.js';
import { isModelFolder, readModelCalibration } from '../model/folders/model-folder.js';
import { hasFinalModel, readRunValidation, runPaths } from '../model/folders/run-folder.js';
import { checkModelIdentity } from '../model/folders/run-manifest.js';
import { openRunInference, type RunInference, type RunInferenceOptions } from '../infer/run-inference.js';
import type { TrainConfig } from '../train/train-config.js';
import { readStoredTrainConfig } from '../train/stored-config.js';
import { resolveTrainConfig } from '../train/train-config.js';
import type { ValidationResult } from '../train/validation.js';
import { WhaleidError } from '../util/errors.js';

/** A trained run, ready for prediction. */
export interface RunModel {
  runDir: string;
  config: TrainConfig;
  /** Features and pair scores (ONNX Runtime and the head's weights; no tfjs). */
  inference: RunInference;
  crop: CropSettings;
  /** The final validation (threshold curve), when the run had validation queries. */
  validation: ValidationResult | null;
}

/**
 * Opens the final model of a training run with its settings, for inference (see
 * `openRunInference`: its files are checked against the run's manifest first, and the manifest's
 * preset against the run's configuration).
 *
 * @param runDir - the run folder written by `whaleid train`, or a model folder written by `whaleid model import`
 * @param options - ONNX Runtime threads, warnings
 * @returns the inference, crop settings and validation; `inference.dispose()` when done
 * @throws {@link WhaleidError} when the run is unfinished, not a run, or its files do not match its manifest
 * @example
 * const run = await loadRunModel('runs/a');
 */
export async function loadRunModel(runDir: string, options: RunInferenceOptions = {}): Promise<RunModel> {
  if (isModelFolder(runDir)) return loadImportedModel(runDir, options);
  const config = readStoredTrainConfig(runDir);
  if (!config) throw new WhaleidError(`${runDir}: not a training run (config.json missing)`);
  if (!hasFinalModel(runDir)) throw new WhaleidError(`${runDir}: training has not finished (no model/); resume it with whaleid train --resume ${runDir}`);
  const validation = readRunValidation(runDir) as ValidationResult | null;
  const inference = await openRunInference(runDir, options);
  if (inference.manifest) {
    try {
      checkModelIdentity(runDir, inference.manifest, { preset: config.preset }, runPaths(runDir).config);
    } catch (err) {
      await inference.dispose();
      throw err;
    }
  }
  return { runDir, config, inference, crop: { size: inference.inputSize, margin: config.margin, aspect: config.aspect }, validation };
}

/**
 * An imported model as a run: its features and calibrated cosine from `openRunInference`, a
 * configuration that says it learnt no boxes (photos without a box are taken whole unless a box
 * model is given) and was trained on no dataset of the user's, and its calibration's threshold
 * in place of a run's validation.
 */
async function loadImportedModel(dir: string, options: RunInferenceOptions): Promise<RunModel> {
  const calibration = readModelCalibration(dir);
  const inference = await openRunInference(dir, options);
  const config = resolveTrainConfig({ data: dir, preset: 'tiny', inputSize: inference.inputSize, margin: 0, aspect: 1 });
  const validation = calibration ? ({ map5: calibration.map5 ?? Number.NaN, threshold: calibration.threshold } as ValidationResult) : null;
  return { runDir: dir, config, inference, crop: { size: inference.inputSize, margin: 0, aspect: 1 }, validation };
}

export { trainedWithBoxes } from '../train/train-config.js';
