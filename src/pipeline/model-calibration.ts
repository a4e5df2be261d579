/**
 * `whaleid model calibrate`: fits an imported model's cosine curve and new-individual threshold
 * on the user's own labelled photos (a labelled dataset, or the photos of a catalog whose
 * individual a person's decision set, and optionally those imported with one) and writes them to the model
 * folder's calibration.json, which every `--model` user then scores with. With `centre: 'data'` it
 * first sets the model's feature centre to the mean embedding of those photos (centred cosine,
 * src/infer/feature-centre.ts) and fits the calibration on the centred embeddings.
 */
import { NEW_WHALE } from '../data/labels.js';
import { loadUsableDataset } from '../data/dataset.js';
import type { CropRequest } from '../image/crop.js';
import { createImageCache } from '../image/image-cache.js';
import { loadPhotoExtras } from '../image/photo-extras.js';
import { calibrateCosine, type CosineCalibration } from '../infer/cosine-calibration.js';
import { openEmbeddingInference } from '../infer/embedding-model.js';
import { centreInPlace, meanFeature } from '../infer/feature-centre.js';
import { isModelFolder, writeModelCalibration, type FeatureCentre, type ModelCalibration } from '../model/folders/model-folder.js';
import { WhaleidError } from '../util/errors.js';
import type { PipelineReport } from './pipeline-report.js';
import type { LabelledSource } from './calibrate-matcher.js';
import { catalogLabels } from './catalog-labels.js';

/** Where the labelled photos come from: a dataset folder, or an open catalog (see {@link catalogLabels}). */
export type CalibrationSource = LabelledSource;

/** Options of {@link calibrateModel}. */
export interface CalibrateModelOptions {
  /** The imported model's folder. */
  model: string;
  source: CalibrationSource;
  /** ONNX Runtime threads. */
  threads?: number;
  /**
   * The feature centre: `data` sets it to the mean embedding of the source's photos, `none` removes
   * it; left out, the model keeps the one it has (or has none), and the calibration is fitted with it.
   */
  centre?: 'data' | 'none';
}

/** What {@link calibrateModel} fitted and wrote. */
export interface CalibrateModelResult extends CosineCalibration {
  photos: number;
  individuals: number;
  file: string;
  /** The feature centre the calibration was fitted with (null: none). */
  centre: FeatureCentre | null;
}

/** Labelled photos of the source, with their boxes and ids. */
async function labelledPhotos(source: CalibrationSource, report: PipelineReport): Promise<{ requests: CropRequest[]; ids: string[] }> {
  if ('data' in source) {
    const ds = await loadUsableDataset(source.data, (l) => report.detail(l));
    const extras = await loadPhotoExtras(ds.root, { boxes: source.boxes, rotate: source.rotate });
    return { requests: ds.train.map((p) => ({ file: p.file, ...extras.of(p.image) })), ids: ds.train.map((p) => p.id) };
  }
  const { labels } = await catalogLabels(source.catalog, { imports: source.imports });
  const requests: CropRequest[] = labels.map((l) => ({ file: source.catalog.photoFile(l.photo), box: l.photo.box ?? undefined }));
  const ids = labels.map((l) => String(l.individualId));
  return { requests, ids };
}

/**
 * Calibrates an imported model on labelled photos and writes its calibration.json (atomically;
 * the folder's manifest is written again to cover it).
 *
 * @param o - see {@link CalibrateModelOptions}
 * @param report - detail lines and the features' progress
 * @returns the calibration, the photos and individuals it saw, and the file written
 * @throws {@link WhaleidError} when the folder is not an imported model, the source has no
 *   individual with two photos, or the cosine does not separate them
 * @example
 * const c = await calibrateModel({ model: 'models/resnet', source: { data: 'photos' } }, report);
 */
export async function calibrateModel(o: CalibrateModelOptions, report: PipelineReport): Promise<CalibrateModelResult> {
  if (!isModelFolder(o.model)) throw new WhaleidError(`${o.model}: not an imported model folder (embedding.onnx and preprocessing.json); only imported models are calibrated here (a trained run calibrates itself on its validation photos)`);
  const { requests, ids } = await labelledPhotos(o.source, report);
  const sourceName = 'data' in o.source ? o.source.data : o.source.name;
  const individuals = new Set(ids.filter((id) => id !== NEW_WHALE)).size;
  if (requests.length < 3 || individuals < 2) throw new WhaleidError(`${sourceName}: ${requests.length} labelled photos of ${individuals} individuals; calibration needs at least 2 individuals, one with 2 photos or more`);
  // a new centre is the mean of the embeddings without the old one
  const model = await openEmbeddingInference(o.model, { threads: o.threads, onWarning: () => {}, withoutCentre: o.centre !== undefined });
  try {
    const unit = await model.features(createImageCache(), requests, { size: model.inputSize }, report.progress('features'));
    const D = model.featureCount;
    const centre: FeatureCentre | null = o.centre === undefined ? model.centre : o.centre === 'data' ? { values: meanFeature(unit, D), source: sourceName, photos: requests.length } : null;
    if (o.centre === 'data') centreInPlace(unit, D, centre!.values);
    const fit = calibrateCosine(unit, ids, D);
    const calibration: ModelCalibration = { scale: fit.scale, bias: fit.bias, threshold: fit.threshold, source: sourceName, pairs: fit.pairs, map5: fit.map5 };
    await writeModelCalibration(o.model, model.manifest!, calibration, o.centre === undefined ? undefined : centre);
    return { ...fit, photos: requests.length, individuals, file: `${o.model}/calibration.json`, centre };
  } finally {
    await model.dispose();
  }
}
