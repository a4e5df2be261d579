/**
 * whaleid's public API: re-exports only (`import { trainRun, predictDataset } from 'whaleid'`).
 *
 * What a script needs to do what the command line does, one level under it: make or read a
 * dataset, train a run, identify photos, evaluate, keep a photo-ID catalog, choose a matcher,
 * bring a model from outside. Each entry is the function the CLI itself calls, so the two never
 * disagree; the CLI adds only parsing and printing. docs/api.md walks through it with examples.
 * Names are re-exported one by one (no `export *` of a module's internals) so that what is public
 * is decided here.
 */

// --- errors and small shared pieces
export * from './util/errors.js';
export * from './util/random.js';

// --- datasets: the Kaggle layout or one folder per individual; CSV files; synthetic flukes
export * from './data/csv-file.js';
export * from './data/issues.js';
export * from './data/labels.js';
export * from './data/dataset.js';
export * from './data/submission.js';
export { generateSynthCatalog, type SynthOptions, type SynthSummary } from './data/synth/index.js';

// --- the network and its presets, the training recipes (as data)
export { MODEL_PRESETS, resolvePreset, type ModelPreset, type ModelPresetName } from './model/network/presets.js';
export { TRAIN_RECIPES, applyRecipe, type TrainRecipe } from './train/recipes.js';
export { TRAIN_DEFAULTS, resolveTrainConfig, type TrainConfig } from './train/train-config.js';

// --- training: a run folder, resumable; the pipeline reports through callbacks, never prints
export { trainRun, type TrainRunResult } from './pipeline/train-run.js';
export type { EngineChoice } from './pipeline/run-engine.js';
export { silentReport, type PipelineReport } from './pipeline/pipeline-report.js';
export { quantizeRun, type QuantizeRunOptions, type QuantizeRunResult } from './pipeline/quantize-run.js';

// --- identification: a submission for a dataset's test photos, with TTA, boxes and a matcher
export { predictDataset, type PredictOptions, type PredictResult } from './predict/predict-dataset.js';
export type { PredictScope } from './predict/scoped-predictions.js';

// --- scoped matching: which photos a query may be matched against (species, viewpoint, place, time)
export { resolveScope, photoInScope, viewpointsCompatible, describeScope, type MatchScope, type ScopeRequest, type ScopedPhoto } from './data/match-scope.js';
export { writePrediction } from './pipeline/prediction-files.js';
export * from './predict/ensemble.js';
export * from './predict/baselines.js';
export * from './infer/metrics.js';
export { newIndividualThreshold } from './infer/threshold.js';

// --- matchers: the learned score, local features, their fusion (one registry)
export { MATCHER_KINDS, matcherOf, type MatcherKind, type MatcherDefinition } from './infer/matchers/matcher-registry.js';

// --- evaluation: the open-set and one-shot protocols on a run or model folder
export { evaluateOpenRun, evaluateOneShotRun, type OpenRunOptions, type OneShotRunOptions } from './eval/evaluate-run.js';
export type { OpenSetResult } from './eval/open-set.js';
export type { OneShotResult } from './eval/one-shot.js';

// --- models from outside: an ONNX embedding model imported into a model folder, calibrated
export { importOnnxModel, type ModelImportOptions, type ModelImportResult } from './infer/model-import.js';
export { calibrateModel, type CalibrateModelOptions, type CalibrateModelResult } from './pipeline/model-calibration.js';

// --- the photo-ID catalog: SQLite file or PostgreSQL URL, photos, individuals, decisions
export { openCatalog, type Catalog, type CatalogOptions } from './catalog/catalog.js';
export { importDataset, type ImportOptions, type ImportSummary } from './catalog/catalog-import.js';
export { catalogCsv } from './catalog/catalog-export.js';
export type { PhotoRecord, IndividualRecord, DecisionRecord, AnnotationRecord, NewPhoto } from './catalog/catalog-types.js';
