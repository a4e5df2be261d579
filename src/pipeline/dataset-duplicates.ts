/**
 * Duplicate photos of a dataset, written as lists: what `whaleid dedup` and the Kaggle pipeline's
 * first step do (the pipeline calls this function; it used to re-enter the CLI for it).
 */
import path from 'node:path';
import { loadUsableDataset, datasetPhotos } from '../data/dataset.js';
import { writeCsvFile } from '../data/csv-file.js';
import { createImageCache } from '../image/image-cache.js';
import { decodeSideFor } from '../image/crop.js';
import { findDuplicates, type DuplicateGroup } from '../image/duplicates.js';
import { hashToHex } from '../image/phash.js';
import type { PipelineReport } from './pipeline-report.js';

/** The files written into the output folder. */
export const DUPLICATE_LISTS = Object.freeze({ groups: 'duplicates.csv', testTrain: 'test-train-duplicates.csv', hashes: 'phash.csv' });

/** Options of {@link writeDatasetDuplicates}. */
export interface DatasetDuplicatesOptions {
  /** Dataset folder. */
  data: string;
  /** Folder for the lists. */
  out: string;
  /** Decoded-photo cache folder; none: decode afresh. */
  cacheDir?: string;
  /** Refuse photos with more pixels. */
  maxPixels?: number;
}

/** What was found. */
export interface DatasetDuplicates {
  groups: DuplicateGroup[];
  /** Photos in a group. */
  grouped: number;
  /** Pairs of a test photo and a training photo it duplicates. */
  testTrainPairs: number;
  /** Photos that could not be read (each reported as a detail). */
  failures: number;
}

/**
 * Finds the duplicate groups of a dataset (the method's pHash rule) and the test photos that
 * duplicate training photos, and writes the three lists of {@link DUPLICATE_LISTS}.
 *
 * @param o - dataset, output folder, cache
 * @param report - progress of the hashing pass; unreadable photos as details
 * @returns the groups and counts
 * @throws {@link WhaleidError} when the dataset is unusable
 * @example
 * const found = await writeDatasetDuplicates({ data: 'catalog', out: 'work/dedup' }, report);
 */
export async function writeDatasetDuplicates(o: DatasetDuplicatesOptions, report: PipelineReport): Promise<DatasetDuplicates> {
  const ds = await loadUsableDataset(o.data, (l) => report.detail(l));
  const photos = datasetPhotos(ds);
  const cache = createImageCache({ dir: o.cacheDir, maxSide: decodeSideFor(128), maxPixels: o.maxPixels });
  const result = await findDuplicates(photos, cache, { onProgress: report.progress('hash') });
  for (const f of result.failures) report.detail(`error: ${f.message}`);
  const byKey = new Map(photos.map((p) => [p.key, p]));
  const fp = new Map(result.fingerprints.map((f) => [f.key, f]));
  const rows: (string | number)[][] = [];
  const testTrain: string[][] = [];
  result.groups.forEach((g, gi) => {
    for (const m of g.members) {
      const f = fp.get(m)!;
      rows.push([gi + 1, m, f.width, f.height, hashToHex(f.hash), m === g.preferred ? 'yes' : 'no']);
    }
    const members = g.members.map((m) => byKey.get(m)!);
    const trains = members.filter((p) => p.set === 'train');
    for (const t of members.filter((p) => p.set === 'test')) {
      for (const tr of trains) testTrain.push([t.image, tr.image, tr.id ?? '']);
    }
  });
  await writeCsvFile(path.join(o.out, DUPLICATE_LISTS.testTrain), ['Image', 'TrainImage', 'Id'], testTrain);
  await writeCsvFile(path.join(o.out, DUPLICATE_LISTS.hashes), ['Image', 'Hash', 'Width', 'Height', 'Channels'], result.fingerprints.map((f) => [f.key, hashToHex(f.hash), f.width, f.height, f.channels]));
  // the groups last: the Kaggle pipeline takes this file as the sign that the step is done
  await writeCsvFile(path.join(o.out, DUPLICATE_LISTS.groups), ['Group', 'Image', 'Width', 'Height', 'Hash', 'Preferred'], rows);
  return { groups: result.groups, grouped: rows.length, testTrainPairs: testTrain.length, failures: result.failures.length };
}
