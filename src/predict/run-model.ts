import { loadSiamese } from '../model/model-io.js';
import type { Siamese } from '../model/siamese.js';
import type { TrainConfig } from '../train/train-config.js';
import { readStoredTrainConfig } from '../train/stored-config.js';
import type { CropSettings } from '../image/crop.js';
import type { ValidationResult } from '../train/validation.js';
import { WhaleidError } from '../util/errors.js';
import { hasFinalModel, readRunValidation, runPaths } from '../model/run-folder.js';

/** A trained run, ready for prediction. */
export interface RunModel {
  runDir: string;
  config: TrainConfig;
  siamese: Siamese;
  crop: CropSettings;
  /** The final validation (threshold curve), when the run had validation queries. */
  validation: ValidationResult | null;
}

/**
 * Loads the final model of a training run (RUN_DIR/model) with its settings.
 *
 * @param runDir - the run folder written by `whaleid train`
 * @returns the model, crop settings and validation
 * @throws {@link WhaleidError} when the run is unfinished or not a run
 * @example
 * const run = await loadRunModel('runs/a');
 */
export async function loadRunModel(runDir: string): Promise<RunModel> {
  const config = readStoredTrainConfig(runDir);
  if (!config) throw new WhaleidError(`${runDir}: not a training run (config.json missing)`);
  if (!hasFinalModel(runDir)) throw new WhaleidError(`${runDir}: training has not finished (no model/); resume it with whaleid train --resume ${runDir}`);
  const siamese = await loadSiamese(runPaths(runDir).model);
  const validation = readRunValidation(runDir) as ValidationResult | null;
  return { runDir, config, siamese, crop: { size: siamese.config.inputSize, margin: config.margin, aspect: config.aspect }, validation };
}

export { trainedWithBoxes } from '../train/train-config.js';
