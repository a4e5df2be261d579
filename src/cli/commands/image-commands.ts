import os from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { defineCommand, commonFlags, requireOption } from '../options.js';
import { loadUsableDataset, datasetPhotos, type Dataset } from '../../data/dataset.js';
import { writeCsvFile } from '../../data/csv-file.js';
import { createImageCache, type ImageCache } from '../../image/image-cache.js';
import { findDuplicates } from '../../image/duplicates.js';
import { readBoxes } from '../../image/boxes.js';
import { readPhotoList } from '../../image/photo-lists.js';
import { photoExtrasFrom, listHas } from '../../image/photo-extras.js';
import { renderContactSheet, type PreviewItem } from '../../image/preview.js';
import { decodeSideFor } from '../../image/crop.js';
import { hashToHex } from '../../image/phash.js';
import { DEFAULT_MAX_PIXELS } from '../../image/decode.js';
import { parseIntOption, parseNumberOption } from '../../util/errors.js';
import { createProgress } from '../../util/progress.js';
import type { CliIo } from '../io.js';

/** Default folder of the decoded-photo cache ($XDG_CACHE_HOME/whaleid or ~/.cache/whaleid). */
export function defaultCacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'whaleid', 'grey');
}

const cacheFlag = (): Option => new Option('--cache <dir>', 'decoded-photo cache folder').default(defaultCacheDir());
const noCacheFlag = (): Option => new Option('--no-cache', 'decode every photo afresh');
const maxPixelsFlag = (): Option =>
  new Option('--max-pixels <n>', 'refuse photos with more pixels (decompression bombs)').default(DEFAULT_MAX_PIXELS).argParser((v) => parseIntOption('--max-pixels', v, 1));

function openCache(opts: { cache: string | false; maxPixels: number }, cropSize: number): ImageCache {
  return createImageCache({ dir: opts.cache === false ? undefined : opts.cache, maxSide: decodeSideFor(cropSize), maxPixels: opts.maxPixels });
}

function loadUsable(dir: string | undefined, io: CliIo): Promise<Dataset> {
  return loadUsableDataset(requireOption(dir, '--data', 'the dataset folder'), io.err);
}

/** `whaleid dedup` and `whaleid preview`. */
export function registerImageCommands(program: Command, io: CliIo): void {
  defineCommand(program, 'dedup', 'find duplicate photos (perceptual hash + pixel check) and test photos that duplicate training photos', 'whaleid dedup --data ./catalog --out ./catalog-dedup')
    .addOption(commonFlags.data())
    .addOption(commonFlags.out('folder for duplicates.csv, test-train-duplicates.csv and phash.csv'))
    .addOption(cacheFlag())
    .addOption(noCacheFlag())
    .addOption(maxPixelsFlag())
    .addOption(commonFlags.quiet())
    .action(async (opts: { data?: string; out?: string; cache: string | false; maxPixels: number; quiet?: boolean }) => {
      const out = requireOption(opts.out, '--out', 'the folder to write the duplicate lists to');
      const ds = await loadUsable(opts.data, io);
      const photos = datasetPhotos(ds);
      const bar = createProgress('hash', photos.length, { enabled: io.progress && !opts.quiet });
      const result = await findDuplicates(photos, openCache(opts, 128), { onProgress: () => bar.tick() });
      bar.stop();
      for (const f of result.failures) io.err(`error: ${f.message}`);
      const byKey = new Map(photos.map((p) => [p.key, p]));
      const fp = new Map(result.fingerprints.map((f) => [f.key, f]));
      const rows: (string | number)[][] = [];
      const testTrain: string[][] = [];
      result.groups.forEach((g, gi) => {
        io.out(`group ${gi + 1}: ${g.members.map((m) => (m === g.preferred ? `${m} (kept)` : m)).join(', ')}`);
        for (const m of g.members) {
          const f = fp.get(m)!;
          rows.push([gi + 1, m, f.width, f.height, hashToHex(f.hash), m === g.preferred ? 'yes' : 'no']);
        }
        const trains = g.members.map((m) => byKey.get(m)!).filter((p) => p.set === 'train');
        for (const t of g.members.map((m) => byKey.get(m)!).filter((p) => p.set === 'test')) {
          for (const tr of trains) testTrain.push([t.image, tr.image, tr.id ?? '']);
        }
      });
      await writeCsvFile(path.join(out, 'duplicates.csv'), ['Group', 'Image', 'Width', 'Height', 'Hash', 'Preferred'], rows);
      await writeCsvFile(path.join(out, 'test-train-duplicates.csv'), ['Image', 'TrainImage', 'Id'], testTrain);
      await writeCsvFile(path.join(out, 'phash.csv'), ['Image', 'Hash', 'Width', 'Height', 'Channels'], result.fingerprints.map((f) => [f.key, hashToHex(f.hash), f.width, f.height, f.channels]));
      io.out(`${result.groups.length} duplicate groups (${rows.length} photos), ${testTrain.length} test-train pairs, ${result.failures.length} unreadable photos; lists in ${out}`);
      if (result.failures.length > 0) io.setExitCode(1);
    });

  defineCommand(program, 'preview', 'contact sheet: each photo with its box, its crop and N augmented crops', 'whaleid preview --data ./catalog --boxes ./catalog/bounding_boxes.csv --augment 3 --out sheet.png')
    .addOption(commonFlags.data())
    .addOption(new Option('--boxes <csv>', 'boxes CSV (Image,x0,y0,x1,y1); whole photos when absent'))
    .addOption(new Option('--rotate <list>', 'names of photos to turn 180 degrees, one a line'))
    .addOption(new Option('--exclude <list>', 'names of photos to leave out, one a line'))
    .addOption(new Option('--augment <n>', 'augmented crops per photo').default(3).argParser((v) => parseIntOption('--augment', v, 0, 20)))
    .addOption(new Option('--limit <n>', 'at most this many photos').default(40).argParser((v) => parseIntOption('--limit', v, 1, 10000)))
    .addOption(new Option('--size <px>', 'crop side').default(192).argParser((v) => parseIntOption('--size', v, 8, 2048)))
    .addOption(new Option('--margin <x>', 'share of the box added on each side').default(0.05).argParser((v) => parseNumberOption('--margin', v, 0, 1)))
    .addOption(new Option('--aspect <x>', 'width/height of the cropped region').default(2.15).argParser((v) => parseNumberOption('--aspect', v, 0.1, 10)))
    .addOption(commonFlags.out('PNG file to write'))
    .addOption(commonFlags.seed())
    .addOption(cacheFlag())
    .addOption(noCacheFlag())
    .addOption(maxPixelsFlag())
    .action(async (opts: { data?: string; boxes?: string; rotate?: string; exclude?: string; augment: number; limit: number; size: number; margin: number; aspect: number; out?: string; seed: number; cache: string | false; maxPixels: number }) => {
      const out = requireOption(opts.out, '--out', 'the PNG file to write');
      const ds = await loadUsable(opts.data, io);
      // Only the files given: a preview shows exactly what was asked for (no dataset defaults).
      const extras = photoExtrasFrom(opts.boxes ? await readBoxes(opts.boxes) : new Map(), opts.rotate ? await readPhotoList(opts.rotate) : new Set<string>());
      const exclude = opts.exclude ? await readPhotoList(opts.exclude) : new Set<string>();
      const items: PreviewItem[] = datasetPhotos(ds)
        .filter((p) => !listHas(exclude, p.image))
        .slice(0, opts.limit)
        .map((p) => ({ label: p.id ? `${p.key} (${p.id})` : p.key, file: p.file, ...extras(p.image) }));
      const missingBoxes = opts.boxes ? items.filter((i) => !i.box).length : 0;
      const problems = await renderContactSheet(openCache(opts, opts.size), items, out, { augment: opts.augment, seed: opts.seed, size: opts.size, margin: opts.margin, aspect: opts.aspect });
      for (const p of problems) io.err(`error: ${p}`);
      io.out(`wrote ${out}: ${items.length - problems.length} photos${missingBoxes ? `, ${missingBoxes} without a box in ${opts.boxes}` : ''}`);
      if (problems.length > 0) io.setExitCode(1);
    });
}
