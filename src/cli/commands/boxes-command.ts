import { Command, Option } from 'commander';
import { defineCommand, commonFlags, requireOption } from '../options.js';
import { parseIntOption, parseNumberOption, WhaleidError } from '../../util/errors.js';
import { createProgress, createPassProgress, type Progress } from '../../util/progress.js';
import { defaultCacheDir } from './image-commands.js';
import type { CliIo } from '../io.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Pairs `--data` folders with `--boxes` CSVs: none (defaults), one per folder, or one for a single folder. */
function pairSources(data: string[], boxes: string[]): { data: string; boxes?: string }[] {
  if (boxes.length > 0 && boxes.length !== data.length) {
    throw new WhaleidError(`give one --boxes per --data (in the same order) or none; got ${data.length} --data and ${boxes.length} --boxes`);
  }
  return data.map((d, i) => ({ data: d, boxes: boxes[i] }));
}

/**
 * Registers `whaleid boxes train` and `whaleid boxes predict`: the fluke detector that gives
 * photos without a hand-marked box their crop.
 *
 * @param program - the whaleid program
 * @param io - where output goes
 * @example
 * registerBoxesCommand(program, io);
 */
export function registerBoxesCommand(program: Command, io: CliIo): void {
  const boxes = program.command('boxes').description('fluke detector: train the bounding-box model, or predict boxes for photos without one');
  boxes.addHelpText('after', '\nExample:\n  $ whaleid boxes predict --data ./my-photos --out boxes.csv --sheet boxes.png\n');

  defineCommand(boxes, 'train', 'train the bounding-box model on photos with known boxes (deterministic for a seed)', 'whaleid boxes train --data ./catalog --out models/fluke-boxes --epochs 16 --seed 1')
    .addOption(new Option('--data <dir>', 'dataset with boxes; repeat to add datasets').argParser(collect))
    .addOption(new Option('--boxes <csv>', 'boxes CSV (Image,x0,y0,x1,y1) of the --data in the same position (default <data>/bounding_boxes.csv); repeat').argParser(collect))
    .addOption(commonFlags.out('model folder (model.onnx, model.json + weights.bin, training.json, log.jsonl)'))
    .addOption(new Option('--epochs <n>', 'passes over the photos').default(16).argParser((v) => parseIntOption('--epochs', v, 1, 100000)))
    .addOption(new Option('--batch-size <n>', 'photos per step').default(16).argParser((v) => parseIntOption('--batch-size', v, 1, 1024)))
    .addOption(new Option('--lr <x>', 'Adam learning rate (then /4 from 60% and /16 from 85% of the epochs)').default(2e-3).argParser((v) => parseNumberOption('--lr', v, 1e-7, 1)))
    .addOption(new Option('--val-share <x>', 'share of photos held out to report IoU').default(0.1).argParser((v) => parseNumberOption('--val-share', v, 0, 0.9)))
    .addOption(new Option('--input-size <px>', 'input side (the method: 128)').default(128).argParser((v) => parseIntOption('--input-size', v, 16, 1024)))
    .addOption(new Option('--filters <n>', 'filters of every conv (the method: 64)').default(64).argParser((v) => parseIntOption('--filters', v, 1, 1024)))
    .addOption(new Option('--cut-chance <x>', 'chance of cutting a photo down around its fluke (real photos are often tight)').default(0.5).argParser((v) => parseNumberOption('--cut-chance', v, 0, 1)))
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['wasm', 'cpu']).default('wasm'))
    .addOption(commonFlags.threads())
    .addOption(new Option('--cache <dir>', 'decoded-photo cache folder').default(defaultCacheDir()))
    .addOption(new Option('--no-cache', 'decode every photo afresh'))
    .addOption(commonFlags.seed())
    .addOption(commonFlags.quiet())
    .action(async (opts: { data?: string[]; boxes?: string[]; out?: string; epochs: number; batchSize: number; lr: number; valShare: number; inputSize: number; filters: number; cutChance: number; backend: 'wasm' | 'cpu'; threads: number; cache: string | false; seed: number; quiet?: boolean }) => {
      const out = requireOption(opts.out, '--out', 'the model folder to write');
      const sources = pairSources(requireOption(opts.data, '--data', 'a dataset with boxes'), opts.boxes ?? []);
      const { initEngine } = await import('../../model/engine.js');
      const engine = await initEngine({ backend: opts.backend, threads: opts.threads });
      io.err(`engine: tfjs ${engine.backend}, ${engine.threads} thread(s)`);
      const { trainBoxModel } = await import('../../boxes/box-train.js');
      const show = io.progress && !opts.quiet;
      let bar: Progress | null = null;
      const command = ['whaleid boxes train', ...sources.flatMap((s) => ['--data', s.data, ...(s.boxes ? ['--boxes', s.boxes] : [])]), '--out', out, '--epochs', opts.epochs, '--batch-size', opts.batchSize, '--lr', opts.lr, '--val-share', opts.valShare, '--input-size', opts.inputSize, '--filters', opts.filters, '--cut-chance', opts.cutChance, '--seed', opts.seed].join(' ');
      const res = await trainBoxModel({
        sources, out, epochs: opts.epochs, batchSize: opts.batchSize, lr: opts.lr, valShare: opts.valShare, seed: opts.seed, command,
        spec: { inputSize: opts.inputSize, filters: opts.filters },
        augment: { cutChance: opts.cutChance },
        cacheDir: opts.cache === false ? undefined : opts.cache,
        onDecode: createPassProgress('decode', show),
        onStart: (total) => { bar = createProgress('train', total, { enabled: show }); },
        onStep: (s) => bar?.tick(1, s),
        onMessage: (l) => io.err(l),
      });
      (bar as Progress | null)?.stop();
      const held = Number.isNaN(res.valIou) ? 'no held-out photos' : `held-out mean IoU ${res.valIou.toFixed(3)} (${res.valPhotos} photos)`;
      io.out(`trained on ${res.trainPhotos} photos in ${(res.seconds / 60).toFixed(1)} min; ${held}; model in ${out}`);
    });

  defineCommand(boxes, 'predict', 'predict the fluke box of every photo of a dataset or folder (ONNX Runtime)', 'whaleid boxes predict --data ./photos --out boxes.csv --truth true-boxes.csv --sheet boxes.png')
    .addOption(new Option('--model <dir>', 'box model folder or .onnx file (default: the one shipped with whaleid)'))
    .addOption(commonFlags.data())
    .addOption(commonFlags.out('boxes CSV to write (Image,x0,y0,x1,y1)'))
    .addOption(new Option('--truth <csv>', 'true boxes: print the mean IoU of the predictions against them'))
    .addOption(new Option('--sheet <png>', 'contact sheet: each photo with its predicted box (green, its crop beside it) and true box (magenta)'))
    .addOption(new Option('--limit <n>', 'photos on the sheet').default(40).argParser((v) => parseIntOption('--limit', v, 1, 10000)))
    .addOption(new Option('--threads <n>', 'ONNX Runtime threads').default(2).argParser((v) => parseIntOption('--threads', v, 1, 256)))
    .addOption(new Option('--cache <dir>', 'decoded-photo cache folder').default(defaultCacheDir()))
    .addOption(new Option('--no-cache', 'decode every photo afresh'))
    .addOption(commonFlags.quiet())
    .action(async (opts: { model?: string; data?: string; out?: string; truth?: string; sheet?: string; limit: number; threads: number; cache: string | false; quiet?: boolean }) => {
      const data = requireOption(opts.data, '--data', 'the dataset or folder of photos');
      const out = requireOption(opts.out, '--out', 'the boxes CSV to write');
      const { loadUsableDataset, datasetPhotos } = await import('../../data/dataset.js');
      const { openBoxDetector, predictBoxes, boxImageCache } = await import('../../boxes/box-predict.js');
      const { shippedBoxModelDir } = await import('../../boxes/box-spec.js');
      const { readBoxes, writeBoxes } = await import('../../image/boxes.js');
      const ds = await loadUsableDataset(data, io.err);
      const photos = datasetPhotos(ds);
      const truth = opts.truth ? await readBoxes(opts.truth) : null;
      const detector = await openBoxDetector(opts.model ?? shippedBoxModelDir(), { threads: opts.threads });
      const cache = boxImageCache(detector, opts.cache === false ? undefined : opts.cache);
      const t0 = Date.now();
      const res = await predictBoxes(detector, photos, { cache, onProgress: createPassProgress('boxes', io.progress && !opts.quiet) });
      await detector.dispose();
      for (const f of res.failures) io.err(`error: ${f}`);
      await writeBoxes(out, res.boxes);
      io.out(`wrote ${res.boxes.size} boxes to ${out} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      let perPhoto = new Map<string, number>();
      if (truth) {
        const { summariseIou, formatIou } = await import('../../boxes/iou.js');
        const path = await import('node:path');
        // Truth CSVs use dataset names or file names (Kaggle box files): compare under the name they use.
        const named = new Map([...res.boxes].map(([image, b]) => [truth.has(image) ? image : path.basename(image), b]));
        const inData = new Map([...truth].filter(([k]) => named.has(k)));
        const s = summariseIou(named, inData);
        perPhoto = s.perPhoto;
        io.out(`against ${opts.truth}: ${formatIou(s)}`);
      }
      if (opts.sheet) {
        const { renderContactSheet } = await import('../../image/preview.js');
        const path = await import('node:path');
        const items = photos.slice(0, opts.limit).flatMap((p) => {
          const box = res.boxes.get(p.image);
          if (!box) return [];
          const t = truth?.get(p.image) ?? truth?.get(path.basename(p.image));
          const v = perPhoto.get(p.image) ?? perPhoto.get(path.basename(p.image));
          return [{ label: p.key, file: p.file, box, others: t ? [{ box: t, colour: '#ff00ff' }] : [], note: v === undefined ? undefined : `IoU ${v.toFixed(2)}` }];
        });
        const problems = await renderContactSheet(cache, items, opts.sheet, { augment: 0, size: 128 });
        for (const p of problems) io.err(`error: ${p}`);
        io.out(`wrote ${opts.sheet}: ${items.length - problems.length} photos (green: predicted box, yellow: its crop region${truth ? ', magenta: true box' : ''})`);
      }
      if (res.failures.length > 0) io.setExitCode(1);
    });
}
