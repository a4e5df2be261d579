/**
 * The end of a run: the final validation, the choice of scorer, checkpoint, network (model/), ONNX
 * export of the chosen scorer, their manifest and validation.json, then the report (written for
 * unfinished runs too).
 */
import path from 'node:path';
import { saveSiamese } from '../model/folders/model-io.js';
import { createCosineHead, normalizedBranch } from '../model/network/cosine-head.js';
import { exportSiameseOnnx } from '../model/onnx/onnx-export.js';
import { removeRunManifest, runPaths, writeRunManifest, writeRunValidation } from '../model/folders/run-folder.js';
import type { Siamese } from '../model/network/siamese.js';
import { modelIdentity, saveCheckpoint } from './checkpoint.js';
import { buildReportGallery } from './report-gallery.js';
import { writeTrainingReport } from './run-report.js';
import type { ScorerChoice } from './scorer-choice.js';
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
  const features = await run.validator.run(siamese, run.state.epochsDone);
  const choice = await run.validator.chooseScorer(siamese, features, run.config.scorer);
  await saveCheckpoint(run.runDir, siamese, run.state);
  // no manifest while the model files change: a kill midway leaves a run loaded with a warning, never a lying manifest
  removeRunManifest(run.runDir);
  await saveSiamese(siamese, paths.model);
  // Prediction runs on ONNX Runtime (several times faster than tfjs-wasm on this CPU). model/ keeps
  // the trained head either way: it is what training resumes from.
  await exportScorer(siamese, choice, paths.onnx);
  await writeRunManifest(run.runDir, modelIdentity(siamese));
  const v = run.validator.last();
  if (v) await writeRunValidation(run.runDir, { ...v, scorer: choice ?? { scorer: 'head', reason: 'no validation queries' } });
}

/** Writes onnx/: the branch and trained head, or the normalised branch and the calibrated cosine head. */
async function exportScorer(siamese: Siamese, choice: ScorerChoice | null, dir: string): Promise<void> {
  if (choice?.scorer !== 'cosine' || !choice.calibration) {
    await exportSiameseOnnx(siamese, dir);
    return;
  }
  const head = createCosineHead(siamese.branch.outputs[0].shape[1] as number, choice.calibration.scale, choice.calibration.bias);
  try {
    // the normalised branch shares the branch's weights: not disposed
    await exportSiameseOnnx({ branch: normalizedBranch(siamese.branch), head }, dir);
  } finally {
    head.dispose();
  }
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
