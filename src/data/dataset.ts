import { promises as fs, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { readCsvFile, expectHeader } from './csv-file.js';
import { checkLabelTable } from './labels.js';
import { hasIssues, reportIssues, type DataIssue } from './issues.js';
import { WhaleidError } from '../util/errors.js';

/** File extensions treated as photos (decodable by sharp/libvips). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.gif'] as const;

/** True when the file name has a photo extension (case-insensitive). */
export function isImageName(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(name).toLowerCase());
}

/** A photo with a known label (`id` may be `new_whale`). */
export interface LabelledPhoto {
  /** Name used in CSV files: the file name (Kaggle) or `individual/file` (folder layout). */
  image: string;
  id: string;
  /** Absolute path of the photo. */
  file: string;
}

/** A photo to identify. */
export interface QueryPhoto {
  image: string;
  file: string;
}

/** Which on-disk layout a dataset uses. */
export type DatasetLayout = 'kaggle' | 'folders';

/** A loaded dataset: labelled photos, unlabelled test photos, and every problem found. */
export interface Dataset {
  root: string;
  layout: DatasetLayout;
  train: LabelledPhoto[];
  test: QueryPhoto[];
  issues: DataIssue[];
}

async function listDir(dir: string): Promise<{ files: string[]; dirs: string[] }> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  const dirs: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory()) dirs.push(e.name);
    else if (e.isFile()) files.push(e.name);
  }
  files.sort();
  dirs.sort();
  return { files, dirs };
}

/**
 * Detects the layout of a dataset folder: `kaggle` when it has `train.csv`, else `folders`.
 *
 * @param root - dataset folder
 * @returns the layout
 * @throws {@link WhaleidError} when the folder does not exist
 * @example
 * detectLayout('../shared/datasets/nyala-train'); // 'folders'
 */
export function detectLayout(root: string): DatasetLayout {
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new WhaleidError(`${root}: no such folder; expected a dataset folder (Kaggle layout or one folder per individual)`);
  }
  return existsSync(path.join(root, 'train.csv')) ? 'kaggle' : 'folders';
}

/**
 * Loads a dataset in either layout, reporting every problem instead of stopping at the first.
 *
 * - Kaggle: `train/`, `test/`, `train.csv` (`Image,Id`), optional `sample_submission.csv`.
 * - Folders: `<root>/<individual>/<photo>`; any folder that directly holds photos is an individual,
 *   named by its path below the root (so Omniglot's `Alphabet/characterNN` works). A root whose
 *   only folders are `train` (and `test`) is read from `train/`, as in `nyala-train`. Photos directly
 *   in the root are unidentified (queries), so a plain folder of photos loads too.
 *
 * @param root - dataset folder
 * @returns the dataset; check `issues` (fatal ones mean nothing usable was read from that file)
 * @throws {@link WhaleidError} when the folder does not exist
 * @example
 * const ds = await loadDataset('demo-out/catalog');
 * ds.issues.forEach((i) => console.error(formatIssue(i)));
 */
export async function loadDataset(root: string): Promise<Dataset> {
  const abs = path.resolve(root);
  return detectLayout(abs) === 'kaggle' ? loadKaggle(abs) : loadFolders(abs);
}

/**
 * Loads a dataset for a job that needs it whole: its problems are reported (fatal first, a line
 * each up to 20 per file and kind, then a count: {@link reportIssues}), and a fatal one stops the job; rows with errors are left out and the job goes on.
 *
 * @param root - dataset folder
 * @param report - where the problem lines go
 * @returns the dataset
 * @throws {@link WhaleidError} when the folder is missing or a problem is fatal
 * @example
 * const ds = await loadUsableDataset('catalog', (line) => console.error(line));
 */
export async function loadUsableDataset(root: string, report: (line: string) => void): Promise<Dataset> {
  const ds = await loadDataset(root);
  reportIssues(ds.issues, report);
  if (hasIssues(ds.issues, 'fatal')) throw new WhaleidError(`${root}: dataset unusable (see the fatal problems above)`);
  return ds;
}

async function loadKaggle(root: string): Promise<Dataset> {
  const issues: DataIssue[] = [];
  const train: LabelledPhoto[] = [];
  const test: QueryPhoto[] = [];
  const trainDir = path.join(root, 'train');
  const testDir = path.join(root, 'test');
  let trainFiles = new Set<string>();
  if (existsSync(trainDir)) {
    const { files } = await listDir(trainDir);
    for (const f of files) {
      if (isImageName(f)) trainFiles.add(f);
      else issues.push({ severity: 'warning', file: `train/${f}`, message: 'not a photo (unknown extension); ignored' });
    }
  } else {
    issues.push({ severity: 'fatal', file: 'train/', message: 'missing folder; expected the training photos there' });
    trainFiles = new Set();
  }
  try {
    const table = await readCsvFile(path.join(root, 'train.csv'));
    table.file = 'train.csv';
    expectHeader(table, ['Image', 'Id']);
    const checked = checkLabelTable(table);
    issues.push(...checked.issues);
    // A photo with a row, even a bad one, is reported through that row, not again as unlabelled.
    const labelled = new Set(table.rows.map((r) => r.fields[0] ?? ''));
    for (const row of checked.rows) {
      if (existsSync(trainDir) && !trainFiles.has(row.image)) {
        issues.push({ severity: 'error', file: 'train.csv', line: row.line, field: 'Image', message: `photo train/${row.image} not found` });
        continue;
      }
      train.push({ image: row.image, id: row.id, file: path.join(trainDir, row.image) });
    }
    for (const f of trainFiles) {
      if (!labelled.has(f)) issues.push({ severity: 'warning', file: `train/${f}`, message: 'photo has no row in train.csv; ignored' });
    }
  } catch (err) {
    if (!(err instanceof WhaleidError)) throw err;
    issues.push(fileIssue(err, 'train.csv'));
  }
  if (existsSync(testDir)) {
    const { files } = await listDir(testDir);
    for (const f of files) {
      if (isImageName(f)) test.push({ image: f, file: path.join(testDir, f) });
      else issues.push({ severity: 'warning', file: `test/${f}`, message: 'not a photo (unknown extension); ignored' });
    }
  }
  const sample = path.join(root, 'sample_submission.csv');
  if (existsSync(sample)) issues.push(...(await checkSampleSubmission(sample, new Set(test.map((t) => t.image)))));
  return { root, layout: 'kaggle', train, test, issues };
}

/** Turns a file-level error (`path:line: message`) into a fatal issue located in that file. */
function fileIssue(err: WhaleidError, name: string): DataIssue {
  const m = /^.*?:(\d+)?:? ?(.*)$/s.exec(err.message.slice(err.message.indexOf(name) + name.length));
  const line = m?.[1] ? Number(m[1]) : undefined;
  return { severity: 'fatal', file: name, line, message: (m?.[2] ?? err.message).trim() };
}

async function checkSampleSubmission(file: string, testImages: Set<string>): Promise<DataIssue[]> {
  const issues: DataIssue[] = [];
  try {
    const table = await readCsvFile(file);
    table.file = 'sample_submission.csv';
    expectHeader(table, ['Image', 'Id']);
    const listed = new Set<string>();
    for (const { line, fields } of table.rows) {
      const image = fields[0] ?? '';
      if (!testImages.has(image)) {
        issues.push({ severity: 'warning', file: 'sample_submission.csv', line, field: 'Image', message: `photo test/${image} not found` });
      }
      listed.add(image);
    }
    for (const img of testImages) {
      if (!listed.has(img)) issues.push({ severity: 'warning', file: `test/${img}`, message: 'photo has no row in sample_submission.csv' });
    }
  } catch (err) {
    if (!(err instanceof WhaleidError)) throw err;
    issues.push(fileIssue(err, 'sample_submission.csv'));
  }
  return issues;
}

/**
 * A folder with `train/` photos (and `test/`) but no `train.csv`: the Kaggle layout with its labels
 * missing, not a folder of unidentified photos. Fatal, naming the file, so no command treats the
 * training photos as queries and ignores test/.
 */
async function kaggleWithoutLabels(root: string, trainPhotos: number): Promise<Dataset> {
  const testDir = path.join(root, 'test');
  const testPhotos = existsSync(testDir) ? (await listDir(testDir)).files.filter(isImageName).length : 0;
  const message = `missing; train/ holds ${trainPhotos} photos and test/ ${testPhotos} (the Kaggle layout): expected train.csv (Image,Id) naming the individual of each training photo`;
  return { root, layout: 'kaggle', train: [], test: [], issues: [{ severity: 'fatal', file: 'train.csv', message }] };
}

async function loadFolders(root: string): Promise<Dataset> {
  const issues: DataIssue[] = [];
  const train: LabelledPhoto[] = [];
  const test: QueryPhoto[] = [];
  let base = root;
  const top = await listDir(root);
  if (top.files.filter(isImageName).length === 0 && top.dirs.includes('train') && top.dirs.every((d) => d === 'train' || d === 'test')) {
    base = path.join(root, 'train');
    // photos directly in train/ (not in a folder per individual) are the Kaggle layout without its labels
    const loose = (await listDir(base)).files.filter(isImageName).length;
    if (loose > 0) return kaggleWithoutLabels(root, loose);
  }
  const walk = async (dir: string, rel: string): Promise<void> => {
    const { files, dirs } = await listDir(dir);
    for (const f of files) {
      const relFile = rel ? `${rel}/${f}` : f;
      if (!isImageName(f)) {
        issues.push({ severity: 'warning', file: relFile, message: 'not a photo (unknown extension); ignored' });
      } else if (!rel) {
        test.push({ image: f, file: path.join(dir, f) });
      } else {
        train.push({ image: relFile, id: rel, file: path.join(dir, f) });
      }
    }
    for (const d of dirs) await walk(path.join(dir, d), rel ? `${rel}/${d}` : d);
  };
  await walk(base, '');
  if (train.length === 0 && test.length === 0) {
    issues.push({ severity: 'fatal', file: base, message: 'no photos found; expected <root>/<individual>/<photo>' });
  }
  return { root: base, layout: 'folders', train, test, issues };
}

/** A photo of a dataset with a key unique across its train and test parts. */
export interface KeyedPhoto {
  /** `train/<image>` or `test/<image>` (Kaggle: the two folders may share names), else the name. */
  key: string;
  image: string;
  file: string;
  set: 'train' | 'test';
  /** The label, for training photos. */
  id?: string;
}

/**
 * Every photo of a dataset, training photos first, each with a unique key (for duplicate search
 * over both parts).
 *
 * @param ds - a loaded dataset
 * @returns the photos
 * @example
 * findDuplicates(datasetPhotos(ds), cache);
 */
export function datasetPhotos(ds: Dataset): KeyedPhoto[] {
  const prefix = ds.layout === 'kaggle';
  return [
    ...ds.train.map((p) => ({ key: prefix ? `train/${p.image}` : p.image, image: p.image, file: p.file, set: 'train' as const, id: p.id })),
    ...ds.test.map((p) => ({ key: prefix ? `test/${p.image}` : p.image, image: p.image, file: p.file, set: 'test' as const })),
  ];
}
