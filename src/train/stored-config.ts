/**
 * A run's configuration as stored in RUN/config.json: written so that it reads the same from any
 * directory (paths relative to the run folder), read back with paths resolved one way (absolute),
 * and with names from before a rename mapped to today's. Runs stored before paths were made
 * relative to the run keep paths relative to the directory they were started in, as they did.
 */
import path from 'node:path';
import { readRunConfig, runPaths, writeRunConfig } from '../model/folders/run-folder.js';
import { invalidParameterError } from '../util/errors.js';
import { resolveTrainConfig, type TrainConfig } from './train-config.js';

/** The configuration's fields that name a file or folder. */
export const TRAIN_CONFIG_PATHS = Object.freeze(['data', 'boxes', 'boxModel', 'rotate', 'exclude', 'pseudoLabels', 'cacheDir'] as const);

/** Marks a stored configuration whose paths are relative to its run folder. */
const PATHS_BASE = 'pathsRelativeTo';
const RUN_FOLDER = 'run folder';

/** A path field's value that is a word, not a path (`--box-model none`). */
const notAPath = (field: string, value: string): boolean => field === 'boxModel' && value === 'none';

/**
 * Writes a run's configuration with its paths relative to the run folder, so that the run reads
 * the same whichever directory a later command starts in (and moves with its data).
 *
 * @param runDir - the run folder
 * @param config - the full configuration (paths relative to this process's directory or absolute)
 * @returns resolves once config.json is written
 * @example
 * await writeStoredTrainConfig('runs/a', config); // "data": "../../catalog"
 */
export async function writeStoredTrainConfig(runDir: string, config: TrainConfig): Promise<void> {
  const stored: Record<string, unknown> = { ...config, [PATHS_BASE]: RUN_FOLDER };
  const base = path.resolve(runDir);
  for (const field of TRAIN_CONFIG_PATHS) {
    const value = config[field];
    if (typeof value === 'string' && !notAPath(field, value)) stored[field] = path.relative(base, path.resolve(value)) || '.';
  }
  await writeRunConfig(runDir, stored);
}

/** Names that runs stored before a rename: the method's preset and schedule were called `kernel`. */
const RENAMED_IN_STORED_CONFIGS: Readonly<Record<'preset' | 'schedule', Readonly<Record<string, string>>>> = Object.freeze({
  preset: { kernel: 'method' },
  schedule: { kernel: 'method' },
});

/**
 * The stored configuration of a run (RUN/config.json), validated, its paths absolute (so every
 * reader resolves them one way), and names from before a rename mapped to today's, so older runs
 * still load and resume (preset `kernel` is `method`).
 *
 * @param dir - the run folder
 * @returns the configuration, or null when the run has no config.json
 * @throws {@link WhaleidError} when the stored configuration is not valid
 * @example
 * const config = readStoredTrainConfig('runs/a'); // { data: '/home/me/catalog', preset: 'method', ... }
 */
export function readStoredTrainConfig(dir: string): TrainConfig | null {
  const stored = readRunConfig(dir);
  if (!stored) return null;
  const renamed: Record<string, unknown> = { ...stored };
  for (const [field, names] of Object.entries(RENAMED_IN_STORED_CONFIGS)) {
    const value = stored[field];
    if (typeof value === 'string' && Object.hasOwn(names, value)) renamed[field] = names[value];
  }
  const base = renamed[PATHS_BASE] === RUN_FOLDER ? path.resolve(dir) : process.cwd();
  delete renamed[PATHS_BASE];
  for (const field of TRAIN_CONFIG_PATHS) {
    const value = renamed[field];
    if (typeof value === 'string' && !notAPath(field, value)) renamed[field] = path.resolve(base, value);
  }
  const data = renamed.data;
  if (typeof data !== 'string') throw invalidParameterError(`${runPaths(dir).config} data`, 'the dataset folder', data);
  // resolveTrainConfig checks every field it relies on
  return resolveTrainConfig({ ...(renamed as Partial<TrainConfig>), data });
}

