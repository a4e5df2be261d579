/**
 * The end of a run: the final validation, checkpoint, network (model/), ONNX export, their
 * manifest and validation.json, then the report (written for unfinished runs too).
 */
import path from 'node:path';
import { saveSiamese } from '../model/model-io.js';
import { exportSiameseOnnx } from '../model/onnx-export.js';
import { removeRunManifest, runPaths, writeRunManifest, writeRunValidation } from '../model/run-folder.js';
import type { Siamese } from '../model/siamese.js';
import { modelIdentity, saveCheckpoint } from './checkpoint.js';
import { buildReportGallery } from './report-gallery.js';
import { writeTrainingReport } from './report.js';
import type { TrainingRun } from './training-run.js';

/**
 * Writes a finished run's final files. The network must hold the trained state (the engine's
 * written into it), as it does after the group loop.
 *
 * @param run - the run
 * @param siamese - the trained network
 * @example
 * await finishTraining(run, siamese);
 */
export async function finishTraining(run: TrainingRun, siamese: Siamese): Promise<void> {
  const paths = runPaths(run.runDir);
  await run.validator.run(siamese, run.state.epochsDone);
  await saveCheckpoint(run.runDir, siamese, run.state);
  // no manifest while the model files change: a kill midway leaves a run loaded with a warning, never a lying manifest
  removeRunManifest(run.runDir);
  await saveSiamese(siamese, paths.model);
  // Prediction runs on ONNX Runtime (several times faster than tfjs-wasm on this CPU).
  await exportSiameseOnnx(siamese, paths.onnx);
  await writeRunManifest(run.runDir, modelIdentity(siamese));
  const v = run.validator.last();
  if (v) await writeRunValidation(run.runDir, v);
}

/**
 * Writes report.html from the run's history; a finished run's report shows the final model's
 * answers to validation queries beside them.
 *
 * @param run - the run
 * @param finished - whether {@link finishTraining} ran
 * @example
 * await writeRunReport(run, true);
 */
export async function writeRunReport(run: TrainingRun, finished: boolean): Promise<void> {
  const { data, config } = run;
  const v = run.validator.last();
  const gallery = finished && v ? await buildReportGallery(v.examples, (i) => data.request(i), (i) => data.photos[i].image, data.cache, data.crop) : undefined;
  await writeTrainingReport(run.runDir, run.state.history, { title: `whaleid training: ${path.basename(run.runDir)}`, config, gallery });
}
