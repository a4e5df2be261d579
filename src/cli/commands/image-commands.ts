import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { DEFAULT_CROP } from '../../image/crop.js';
import { int, num, text } from '../option-field.js';
import { common } from '../common-options.js';
import { loadUsableDataset, datasetPhotos, type Dataset } from '../../data/dataset.js';
import { createImageCache, type ImageCache } from '../../image/image-cache.js';
import { readPhotoList } from '../../image/photo-lists.js';
import { loadPhotoExtras, listHas } from '../../image/photo-extras.js';
import { renderContactSheet, type PreviewItem } from '../../image/preview.js';
import { decodeSideFor } from '../../image/crop.js';
import type { CliIo } from '../io.js';
import { cliReport } from '../cli-report.js';
import { DUPLICATE_LISTS, writeDatasetDuplicates } from '../../pipeline/dataset-duplicates.js';

function openCache(opts: { cache: string | undefined; maxPixels: number }, cropSize: number): ImageCache {
  return createImageCache({ dir: opts.cache, maxSide: decodeSideFor(cropSize), maxPixels: opts.maxPixels });
}

function loadUsable(dir: string, io: CliIo): Promise<Dataset> {
  return loadUsableDataset(dir, io.err);
}

const DEDUP_FILES = Object.values(DUPLICATE_LISTS);

const DEDUP_OPTIONS = {
  data: common.data.required('the dataset folder'),
  out: text('--out <path>', `folder for ${DEDUP_FILES.join(', ')}`).asOutput({ kind: 'folder', files: DEDUP_FILES }).required('the folder to write the duplicate lists to'),
  cache: common.cache,
  maxPixels: common.maxPixels,
  quiet: common.quiet,
};

const PREVIEW_OPTIONS = {
  data: common.data.required('the dataset folder'),
  boxes: common.boxes,
  rotate: common.rotate,
  exclude: common.exclude,
  augment: int('--augment <n>', 'augmented crops per photo', 0, 20).withDefault(3),
  limit: int('--limit <n>', 'at most this many photos', 1, 10000).withDefault(40),
  size: int('--size <px>', 'crop side', 8, 2048).withDefault(192),
  margin: num('--margin <x>', 'share of the box added on each side', 0, 1).withDefault(DEFAULT_CROP.margin),
  aspect: num('--aspect <x>', 'width/height of the cropped region', 0.1, 10).withDefault(DEFAULT_CROP.aspect),
  out: common.outFile('PNG file to write').required('the PNG file to write'),
  seed: common.seed,
  cache: common.cache,
  maxPixels: common.maxPixels,
};

/** `whaleid dedup` and `whaleid preview`. */
export function registerImageCommands(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'dedup',
    description: 'find duplicate photos (perceptual hash + pixel check) and test photos that duplicate training photos',
    example: 'whaleid dedup --data ./catalog --out ./catalog-dedup',
    options: DEDUP_OPTIONS,
    run: async (opts) => {
      const found = await writeDatasetDuplicates({ data: opts.data, out: opts.out, cacheDir: opts.cache, maxPixels: opts.maxPixels }, cliReport(io, opts.quiet, ''));
      found.groups.forEach((g, gi) => io.out(`group ${gi + 1}: ${g.members.map((m) => (m === g.preferred ? `${m} (kept)` : m)).join(', ')}`));
      io.out(`${found.groups.length} duplicate groups (${found.grouped} photos), ${found.testTrainPairs} test-train pairs, ${found.failures} unreadable photos; lists in ${opts.out}`);
      if (found.failures > 0) io.setExitCode(1);
    },
  });

  defineCommand(program, {
    name: 'preview',
    description: 'contact sheet: each photo with its box, its crop and N augmented crops',
    example: 'whaleid preview --data ./catalog --boxes ./catalog/bounding_boxes.csv --augment 3 --out sheet.png',
    options: PREVIEW_OPTIONS,
    run: async (opts) => {
      const out = opts.out;
      const ds = await loadUsable(opts.data, io);
      // Only the files given: a preview shows exactly what was asked for (no dataset defaults).
      // the dataset's own boxes and rotate list unless others are given, as training and prediction crop
      const { boxesFile, of: extras } = await loadPhotoExtras(ds.root, { boxes: opts.boxes, rotate: opts.rotate });
      const exclude = opts.exclude ? await readPhotoList(opts.exclude) : new Set<string>();
      const items: PreviewItem[] = datasetPhotos(ds)
        .filter((p) => !listHas(exclude, p.image))
        .slice(0, opts.limit)
        .map((p) => ({ label: p.id ? `${p.key} (${p.id})` : p.key, file: p.file, ...extras(p.image) }));
      const missingBoxes = boxesFile ? items.filter((i) => !i.box).length : 0;
      const problems = await renderContactSheet(openCache(opts, opts.size), items, out, { augment: opts.augment, seed: opts.seed, size: opts.size, margin: opts.margin, aspect: opts.aspect });
      for (const p of problems) io.err(`error: ${p}`);
      io.out(`wrote ${out}: ${items.length - problems.length} photos${boxesFile ? `, ${missingBoxes} without a box in ${boxesFile}` : ', whole photos (no boxes CSV)'}`);
      if (problems.length > 0) io.setExitCode(1);
    },
  });
}
