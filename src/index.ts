// Public API of whaleid: re-exports only.
export * from './data/csv-file.js';
export * from './data/issues.js';
export * from './data/labels.js';
export * from './data/dataset.js';
export * from './data/submission.js';
export * from './infer/metrics.js';
export * from './predict/ensemble.js';
export * from './predict/baselines.js';
export * from './util/errors.js';
export * from './util/random.js';
