/**
 * Never lose data: before a command writes anything, each file it would write is checked against
 * its inputs (an output equal to an input is refused always: `catalog export --catalog x.db --out
 * x.db` would replace the catalog by CSV) and against the disk (an existing file is refused unless
 * `--force`). The option table calls this for every command, from the fields marked as inputs and
 * outputs, so no command can forget it.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { WhaleidError } from '../util/errors.js';
import { isImageName } from '../data/dataset.js';
import { runPaths } from '../model/folders/run-folder.js';

/**
 * What an input option names, which decides the files it reads:
 * - `file`: that file;
 * - `dataset`: a dataset folder: its CSV/list files, photos and subfolders;
 * - `run`: a training run: config, validation, manifest, model/, onnx/, checkpoint/;
 * - `catalog`: a catalog database, its journal files and its `.photos` folder;
 * - `folder`: everything under it (a box model, one-shot runs).
 */
export type InputKind = 'file' | 'dataset' | 'run' | 'catalog' | 'folder';

/**
 * What an output option names:
 * - `file`: that file, and the same name with each of `also` appended (`sub.csv.top.json`);
 * - `folder`: a folder whose `files` are written (an existing one is refused, unless --force);
 * - `work`: a working folder that commands resume in (never refused: finished steps are kept).
 */
export type OutputSpec = { kind: 'file'; also?: readonly string[] } | { kind: 'folder'; files: readonly string[] } | { kind: 'work' };

/** An input as given: the flag and its path. */
export interface InputClaim {
  flag: string;
  path: string;
  kind: InputKind;
}

/** An output as given: the flag, its path and what it is. */
export interface OutputClaim {
  flag: string;
  path: string;
  spec: OutputSpec;
}

/** Files of a dataset folder's top level that loaders read. */
const DATASET_FILES = new Set(['train.csv', 'test_truth.csv', 'sample_submission.csv', 'bounding_boxes.csv', 'rotate.txt', 'exclude.txt', 'pseudo-train.csv']);

/**
 * The path with symbolic links of its existing part resolved, so `./x.db`, `x.db` and a linked
 * folder's copy compare equal.
 */
function canonical(p: string): string {
  const abs = path.resolve(p);
  let head = abs;
  const rest: string[] = [];
  while (!existsSync(head)) {
    const up = path.dirname(head);
    if (up === head) return abs;
    rest.unshift(path.basename(head));
    head = up;
  }
  return path.join(realpathSync(head), ...rest);
}

/** The path of `file` below `dir`, or null when it is not inside. */
function below(dir: string, file: string): string[] | null {
  const rel = path.relative(dir, file);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep);
}

/**
 * Whether writing `file` would replace something the input reads.
 *
 * @param input - the input option's path and kind
 * @param file - a file the command would write
 * @returns true when the file is (part of) the input
 * @example
 * readsFile({ flag: '--data', path: 'ds', kind: 'dataset' }, 'ds/train.csv'); // true
 */
export function readsFile(input: InputClaim, file: string): boolean {
  const target = canonical(file);
  const source = canonical(input.path);
  if (target === source) return true;
  switch (input.kind) {
    case 'file':
      return false;
    case 'catalog':
      return ['-wal', '-shm', '-journal'].some((s) => target === source + s) || below(`${source}.photos`, target) !== null;
    case 'folder':
      return below(source, target) !== null;
    case 'run': {
      const run = runPaths(source);
      return [run.config, run.validation, run.manifest].includes(target) || [run.model, run.onnx, run.checkpoint, run.checkpointOld].some((d) => d === target || below(d, target) !== null);
    }
    case 'dataset': {
      const parts = below(source, target);
      return parts !== null && (parts.length > 1 || DATASET_FILES.has(parts[0]) || isImageName(parts[0]));
    }
  }
}

/** The files an output names, to check one by one. */
function outputFiles(o: OutputClaim): string[] {
  switch (o.spec.kind) {
    case 'file':
      return [o.path, ...(o.spec.also ?? []).map((s) => o.path + s)];
    case 'folder':
      return o.spec.files.map((f) => path.join(o.path, f));
    case 'work':
      return [];
  }
}

/**
 * Refuses, with one line, an output that is one of the inputs (always), and an output file that
 * exists (unless `force`). Called before any work starts.
 *
 * @param inputs - the command's inputs
 * @param outputs - the command's outputs
 * @param force - `--force` given
 * @throws {@link WhaleidError} naming the output and, for a clash, the input
 * @example
 * guardOutputs([{ flag: '--catalog', path: 'x.db', kind: 'catalog' }], [{ flag: '--out', path: 'x.db', spec: { kind: 'file' } }], false);
 * // throws: --out x.db is the --catalog input x.db: refusing to write over it; choose another --out
 */
export function guardOutputs(inputs: readonly InputClaim[], outputs: readonly OutputClaim[], force: boolean): void {
  for (const o of outputs) {
    const files = outputFiles(o);
    for (const file of [...(o.spec.kind === 'work' ? [] : [o.path]), ...files]) {
      const clash = inputs.find((i) => readsFile(i, file) || (o.spec.kind === 'folder' && i.kind === 'file' && canonical(i.path) === canonical(o.path)));
      if (clash) {
        const what = file === o.path ? `${o.flag} ${o.path}` : `${o.flag} ${o.path} (its ${path.relative(o.path, file) || path.basename(file)})`;
        throw new WhaleidError(`${what} is ${canonical(clash.path) === canonical(file) ? 'the' : 'part of the'} ${clash.flag} input ${clash.path}: refusing to write over it; choose another ${o.flag}`);
      }
    }
    if (o.spec.kind === 'file' && existsSync(o.path) && statSync(o.path).isDirectory()) {
      throw new WhaleidError(`${o.flag} ${o.path} is a folder; expected a file name`);
    }
    const existing = force ? undefined : files.find((f) => existsSync(f));
    if (existing) throw new WhaleidError(`${existing} already exists; give --force to replace it, or choose another ${o.flag}`);
  }
}
