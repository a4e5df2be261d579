/**
 * Options that several commands take, declared once: `--data`, `--out`, `--seed`, `--quiet`,
 * `--cache`, `--threads`, ... A command puts the row in its table (adding `.required(...)`,
 * `.describedAs(...)` or an output spec where it needs to).
 */
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_MAX_PIXELS } from '../image/decode.js';
import { choice, int, list, switchOn, text, type Field } from './option-field.js';
import { MATCHER_KINDS, matcherOf } from '../infer/matchers/matcher-registry.js';
import { PRECISIONS } from '../infer/int8-branch.js';

/** Default folder of the decoded-photo cache ($XDG_CACHE_HOME/whaleid or ~/.cache/whaleid). */
export function defaultCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'whaleid', 'grey');
}

/**
 * `--cache <dir>` and `--no-cache` (undefined: no cache).
 *
 * @param fallback - the default folder from the other options, with its help text; default the user's cache folder
 * @returns the field
 * @example
 * cacheOption({ from: (v) => path.join(String(v.out), 'cache'), text: '<out>/cache' });
 */
export function cacheOption(fallback?: { from: (values: Readonly<Record<string, unknown>>) => string; text: string }): Field<string | undefined> {
  const folder = text('--cache <dir>', 'decoded-photo cache folder');
  const withDefault = fallback ? folder.withDefaultFrom(fallback.from, fallback.text) : folder.withDefault(defaultCacheDir(), '$XDG_CACHE_HOME/whaleid/grey');
  return withDefault.negatable('decode every photo afresh', undefined);
}


/** Rows shared by commands. */
export const common = {
  /** A dataset read by the command. */
  data: text('--data <dir>', 'dataset folder (Kaggle layout or one folder per individual)').asInput('dataset'),
  /** A trained run read by the command. */
  model: text('--model <runDir>', 'training run folder').asInput('run'),
  /** Learned models read by a command that fuses several: `--model` repeated (runs or imported model folders). */
  models: list('--model <dir>', 'a training run or imported model folder; repeat it to fuse several models (--matcher fused: with local; fused-learned: without)').asInput('run'),
  /** A written file: refused when it exists (unless --force) or is an input. */
  outFile: (help: string, also?: readonly string[]) => text('--out <path>', help).asOutput({ kind: 'file', also }),
  seed: int('--seed <n>', 'random seed; the same seed gives the same result').withDefault(0),
  quiet: switchOn('--quiet', 'no progress display'),
  cache: cacheOption(),
  maxPixels: int('--max-pixels <n>', 'refuse photos with more pixels (decompression bombs)', 1).withDefault(DEFAULT_MAX_PIXELS),
  /** tfjs wasm threads for commands that train: every core by default (the threaded build caps at 8). */
  threads: int('--threads <n>', 'wasm threads for training (1 = the single-threaded build, e.g. for two runs side by side)', 1, 8).withDefault(Math.min(8, os.availableParallelism()), 'the cores, up to 8'),
  backend: choice('--backend <name>', 'tfjs backend', () => ['wasm', 'cpu'] as const).withDefault('wasm'),
  boxes: text('--boxes <csv>', 'boxes CSV (Image,x0,y0,x1,y1; default: <data>/bounding_boxes.csv if present)').asInput('file'),
  rotate: text('--rotate <list>', 'photos to turn 180 degrees (default: <data>/rotate.txt if present)').asInput('file'),
  exclude: text('--exclude <list>', 'photos to leave out, one name a line').asInput('file'),
  catalog: text('--catalog <file|url>', 'catalog: a SQLite file (photos kept in <file>.photos) or a postgres:// URL').fromEnv('WHALEID_DATABASE_URL').asInput('catalog'),
  /** Where a catalog's photos are (a PostgreSQL catalog needs it). */
  photos: text('--photos <dir>', "the catalog's photo folder (default: <file>.photos beside a SQLite file; a PostgreSQL catalog needs one that every service process shares)").fromEnv('WHALEID_PHOTOS').asInput('folder'),
  tta: int('--tta <n>', 'augmented copies per test photo, averaged with the original', 0, 64),
  /** Which score identifies (issue 20): the network's, local keypoints', or both fused. */
  /** The branch's precision (issue 30): the run's float32 branch, or its int8 one (whaleid quantize). */
  precision: choice('--precision <name>', "the branch's precision: float32, or int8 (the run's onnx/branch.int8.onnx, written by whaleid quantize)", () => PRECISIONS).withDefault('float32'),
  matcher: choice('--matcher <name>', 'which score identifies', () => MATCHER_KINDS, (k) => matcherOf(k).about).withDefault('siamese'),
};
