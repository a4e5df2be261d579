import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { int, list, num, text } from '../option-field.js';
import { common } from '../common-options.js';
import { WhaleidError } from '../../util/errors.js';
import { createProgress, createPassProgress, type Progress } from '../../util/progress.js';
import type { CliIo } from '../io.js';
import { BOX_MODEL_FILES } from '../../boxes/box-spec.js';
import { WEIGHTS_BIN } from '../../model/folders/run-folder.js';
import { cliReport } from '../cli-report.js';

/** What `whaleid boxes train` writes into its --out folder. */
const BOX_MODEL_OUTPUTS = [...Object.values(BOX_MODEL_FILES), WEIGHTS_BIN];

const BOXES_TRAIN_OPTIONS = {
  data: list('--data <dir>', 'dataset with boxes; repeat to add datasets').asInput('dataset').required('a dataset with boxes'),
  boxes: list('--boxes <csv>', 'boxes CSV (Image,x0,y0,x1,y1) of the --data in the same position (default <data>/bounding_boxes.csv); repeat').asInput('file'),
  out: text('--out <path>', `model folder (${BOX_MODEL_OUTPUTS.join(', ')})`).asOutput({ kind: 'folder', files: BOX_MODEL_OUTPUTS }).required('the model folder to write'),
  epochs: int('--epochs <n>', 'passes over the photos', 1, 100000).withDefault(16),
  batchSize: int('--batch-size <n>', 'photos per step', 1, 1024).withDefault(16),
  lr: num('--lr <x>', 'Adam learning rate (then /4 from 60% and /16 from 85% of the epochs)', 1e-7, 1).withDefault(2e-3),
  valShare: num('--val-share <x>', 'share of photos held out to report IoU', 0, 0.9).withDefault(0.1),
  inputSize: int('--input-size <px>', 'input side (the method: 128)', 16, 1024).withDefault(128),
  filters: int('--filters <n>', 'filters of every conv (the method: 64)', 1, 1024).withDefault(64),
  cutChance: num('--cut-chance <x>', 'chance of cutting a photo down around its fluke (real photos are often tight)', 0, 1).withDefault(0.5),
  backend: common.backend,
  threads: common.threads,
  cache: common.cache,
  seed: common.seed,
  quiet: common.quiet,
};

const BOXES_PREDICT_OPTIONS = {
  model: text('--model <dir>', 'box model folder or .onnx file (default: the one shipped with whaleid)').asInput('folder'),
  data: common.data.describedAs('dataset or folder of photos').required('the dataset or folder of photos'),
  out: common.outFile('boxes CSV to write (Image,x0,y0,x1,y1)').required('the boxes CSV to write'),
  truth: text('--truth <csv>', 'true boxes: print the mean IoU of the predictions against them').asInput('file'),
  sheet: text('--sheet <png>', 'contact sheet: each photo with its predicted box (green, its crop beside it) and true box (magenta)').asOutput({ kind: 'file' }),
  limit: int('--limit <n>', 'photos on the sheet', 1, 10000).withDefault(40),
  threads: int('--threads <n>', 'ONNX Runtime threads', 1, 256).withDefault(2),
  cache: common.cache,
  quiet: common.quiet,
};

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

  defineCommand(boxes, {
    name: 'train',
    description: 'train the bounding-box model on photos with known boxes (deterministic for a seed)',
    example: 'whaleid boxes train --data ./catalog --out models/fluke-boxes --epochs 16 --seed 1',
    options: BOXES_TRAIN_OPTIONS,
    run: async (opts) => {
      const out = opts.out;
      const sources = pairSources(opts.data, opts.boxes ?? []);
      const { initEngine } = await import('../../model/tfjs/tfjs-backend.js');
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
        cacheDir: opts.cache,
        onDecode: createPassProgress('decode', show),
        onStart: (total) => { bar = createProgress('train', total, { enabled: show }); },
        onStep: (s) => bar?.tick(1, s),
        onMessage: (l) => io.err(l),
      });
      (bar as Progress | null)?.stop();
      const held = Number.isNaN(res.valIou) ? 'no held-out photos' : `held-out mean IoU ${res.valIou.toFixed(3)} (${res.valPhotos} photos)`;
      io.out(`trained on ${res.trainPhotos} photos in ${(res.seconds / 60).toFixed(1)} min; ${held}; model in ${out}`);
    },
  });

  defineCommand(boxes, {
    name: 'predict',
    description: 'predict the fluke box of every photo of a dataset or folder (ONNX Runtime)',
    example: 'whaleid boxes predict --data ./photos --out boxes.csv --truth true-boxes.csv --sheet boxes.png',
    options: BOXES_PREDICT_OPTIONS,
    run: async (opts) => {
      const { writeDatasetBoxes } = await import('../../pipeline/dataset-boxes.js');
      const { formatIou } = await import('../../boxes/iou.js');
      const res = await writeDatasetBoxes({ data: opts.data, out: opts.out, model: opts.model, truth: opts.truth, sheet: opts.sheet, limit: opts.limit, threads: opts.threads, cacheDir: opts.cache }, cliReport(io, opts.quiet, ''));
      io.out(`wrote ${res.boxes} boxes to ${opts.out} (${res.seconds.toFixed(1)} s)`);
      if (res.iou) io.out(`against ${opts.truth}: ${formatIou(res.iou)}`);
      if (opts.sheet) io.out(`wrote ${opts.sheet}: ${res.sheetPhotos} photos (green: predicted box, yellow: its crop region${opts.truth ? ', magenta: true box' : ''})`);
      if (res.failures > 0) io.setExitCode(1);
    },
  });
}
