/**
 * `whaleid quantize`: post-training static int8 quantization of a run's branch. The float32
 * branch runs on a spread of the run's own training crops (its config.json names the data; the
 * same split as training, so no validation photo is seen) to calibrate every quantized
 * activation's range; `onnx/branch.int8.onnx` and its calibration summary `onnx/branch.int8.json`
 * are written beside the float32 model and added to the run's manifest. `--precision int8` then
 * serves the run with it (`openRunInference`).
 *
 * Also the validation MAP@5 of a run in either precision (the bench compares them): the run's own
 * validation queries against its gallery, scored as training's validation scores them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { calibrateActivations } from '../infer/calibration.js';
import { FLOAT_SHA256_KEY, sha256Hex, type Precision } from '../infer/int8-branch.js';
import { openRunInference } from '../infer/run-inference.js';
import { quantizeOnnxModel, type QuantizeReport } from '../model/onnx/onnx-quantize.js';
import { decodeOnnxModel, encodeOnnxModel } from '../model/onnx/onnx-proto.js';
import { addRunManifestFiles, BRANCH_INT8_JSON, BRANCH_INT8_ONNX, checkRunManifest, hasOnnxExport, runPaths } from '../model/folders/run-folder.js';
import { readStoredTrainConfig } from '../train/stored-config.js';
import { prepareTrainingData, type TrainingData } from '../train/training-data.js';
import { evaluateValidation } from '../train/validation.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { WhaleidError } from '../util/errors.js';
import type { PipelineReport } from './pipeline-report.js';

/** Options of {@link quantizeRun}. */
export interface QuantizeRunOptions {
  /** The run folder. */
  runDir: string;
  /** Calibration photos (spread over the training photos); default 300. */
  photos?: number;
  /** ONNX Runtime threads; default 2. */
  threads?: number;
}

/** What {@link quantizeRun} wrote. */
export interface QuantizeRunResult {
  /** The int8 branch's path. */
  file: string;
  /** Its size in bytes (the float32 branch's beside it). */
  bytes: number;
  floatBytes: number;
  /** Calibration photos used. */
  photos: number;
  report: QuantizeReport;
  /** Cosine between float32 and int8 features of up to 32 validation (else training) photos. */
  cosine: { mean: number; min: number; photos: number };
}

/** The run's data, after checking it is a run that can be quantized. */
async function runData(runDir: string, report: PipelineReport): Promise<TrainingData> {
  if (!hasOnnxExport(runDir)) throw new WhaleidError(`--model: ${runDir} has no onnx/branch.onnx (trained before the ONNX export); only exported runs are quantized`);
  const config = readStoredTrainConfig(runDir);
  if (config === null) throw new WhaleidError(`--model: ${runDir} has no config.json; expected a run written by whaleid train`);
  return prepareTrainingData(config, runDir, (l) => report.detail(l));
}

/** Every `count`-th of `items` so that `n` are taken, spread over the whole list. */
const spread = <T>(items: readonly T[], n: number): T[] => Array.from({ length: Math.min(n, items.length) }, (_, k) => items[Math.floor((k * items.length) / Math.min(n, items.length))]);

/** Mean and least cosine of each row pair of two feature matrices. */
function rowCosines(a: Float32Array, b: Float32Array, F: number): { mean: number; min: number } {
  const n = a.length / F;
  let sum = 0;
  let min = 1;
  for (let i = 0; i < n; i++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let k = i * F; k < (i + 1) * F; k++) {
      dot += a[k] * b[k];
      na += a[k] * a[k];
      nb += b[k] * b[k];
    }
    const c = dot / Math.sqrt(na * nb || 1);
    sum += c;
    min = Math.min(min, c);
  }
  return { mean: sum / n, min };
}

/**
 * Quantizes a run's branch to int8 (see the module's comment) and adds it to the run's manifest.
 *
 * @param o - the run, calibration photos, threads
 * @param report - detail lines and progress
 * @returns what was written
 * @throws {@link WhaleidError} when the run has no onnx/ or config.json, its files do not match its
 *   manifest (or it has none), or its data cannot be read
 * @example
 * const r = await quantizeRun({ runDir: 'runs/a', photos: 300 }, report);
 */
export async function quantizeRun(o: QuantizeRunOptions, report: PipelineReport): Promise<QuantizeRunResult> {
  const { runDir } = o;
  const paths = runPaths(runDir);
  const manifest = checkRunManifest(runDir, () => undefined);
  if (manifest === null) throw new WhaleidError(`--model: ${runDir} has no manifest.json (a run from before manifests); its int8 branch could not be checked`);
  const data = await runData(runDir, report);
  const calibrationPhotos = spread(data.split.train, o.photos ?? 300).map((i) => data.request(i));
  const floatBytes = readFileSync(paths.branchOnnx);
  report.step(`calibrating ${path.join(runDir, 'onnx', BRANCH_INT8_ONNX)} on ${calibrationPhotos.length} training photos`);
  const calibration = await calibrateActivations(floatBytes, data.cache, calibrationPhotos, data.crop, { threads: o.threads, onProgress: report.progress('calibration') });
  const floatSha = sha256Hex(floatBytes);
  const { model, report: rewrite } = quantizeOnnxModel(decodeOnnxModel(floatBytes), calibration.ranges, { [FLOAT_SHA256_KEY]: floatSha });
  const bytes = encodeOnnxModel(model);
  await writeFileAtomic(paths.branchInt8Onnx, bytes);
  const summary = {
    format: 'whaleid-int8-calibration',
    version: 1,
    floatSha256: floatSha,
    photos: calibration.photos,
    weights: 'int8, symmetric, one scale per output channel',
    activations: 'uint8, one scale and zero point per tensor, min/max over the calibration photos',
    rewrite,
    ranges: Object.fromEntries([...calibration.ranges].map(([k, r]) => [k, [r.min, r.max]])),
  };
  await writeFileAtomic(paths.branchInt8Json, JSON.stringify(summary, null, 2));
  await addRunManifestFiles(runDir, [`onnx/${BRANCH_INT8_ONNX}`, `onnx/${BRANCH_INT8_JSON}`]);
  const check = data.split.queries.length > 0 ? data.split.queries.map((q) => q.index) : data.split.train;
  const cosine = await compareFeatures(runDir, data, spread(check, 32), o.threads);
  return { file: paths.branchInt8Onnx, bytes: bytes.length, floatBytes: floatBytes.length, photos: calibration.photos, report: rewrite, cosine };
}

/** Cosines between the run's float32 and int8 features of some photos. */
async function compareFeatures(runDir: string, data: TrainingData, photos: readonly number[], threads?: number): Promise<QuantizeRunResult['cosine']> {
  const requests = photos.map((i) => data.request(i));
  const feats: Float32Array[] = [];
  for (const precision of ['float32', 'int8'] as const) {
    const run = await openRunInference(runDir, { precision, threads, onWarning: () => undefined });
    try {
      feats.push(await run.features(data.cache, requests, data.crop));
    } finally {
      await run.dispose();
    }
  }
  return { ...rowCosines(feats[0], feats[1], feats[0].length / Math.max(1, requests.length)), photos: requests.length };
}

/**
 * The validation MAP@5 of a run served in one precision: its features of the validation queries
 * and gallery (the split training made), scored by its head or calibrated cosine, at the best
 * threshold, as training's validation does.
 *
 * @param runDir - the run folder
 * @param precision - float32 or int8
 * @param report - detail lines
 * @param data - the run's data when already prepared (two precisions share it)
 * @returns MAP@5, top-1 and the number of queries
 * @throws {@link WhaleidError} when the run has no validation queries or no such precision
 * @example
 * const { map5 } = await runValidationMap5('runs/a', 'int8', report);
 */
export async function runValidationMap5(runDir: string, precision: Precision, report: PipelineReport, data?: TrainingData): Promise<{ map5: number; top1: number; queries: number; data: TrainingData }> {
  const d = data ?? (await runData(runDir, report));
  const { split, ids } = d;
  if (split.queries.length === 0) throw new WhaleidError(`${runDir}: its data gives no validation queries`);
  const evalPhotos = [...new Set([...split.gallery, ...split.queries.map((q) => q.index)])].sort((a, b) => a - b);
  const run = await openRunInference(runDir, { precision, onWarning: (l) => report.detail(l) });
  try {
    const feats = await run.features(d.cache, evalPhotos.map((i) => d.request(i)), d.crop, report.progress(`${precision} features`));
    const v = evaluateValidation(feats, new Map(evalPhotos.map((p, r) => [p, r])), ids, split, run.head);
    return { map5: v.map5, top1: v.top1, queries: v.queries, data: d };
  } finally {
    await run.dispose();
  }
}
