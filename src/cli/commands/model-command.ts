import path from 'node:path';
import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { choice, commaList, int, num, switchOn, text } from '../option-field.js';
import { common } from '../common-options.js';
import { cliReport } from '../cli-report.js';
import type { CliIo } from '../io.js';
import { WhaleidError } from '../../util/errors.js';
import { CHANNEL_ORDERS, RESIZE_POLICIES, TENSOR_LAYOUTS, type Preprocessing } from '../../image/embedding-input.js';
import { EMBEDDING_ONNX, PREPROCESSING_JSON } from '../../model/folders/model-folder.js';
import { MATCHER_KINDS, matcherOf } from '../../infer/matchers/matcher-registry.js';

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

/** Comma-separated numbers of --mean / --std, or a line naming the flag. */
function numbers(flag: string, values: string[] | undefined): number[] | undefined {
  if (values === undefined) return undefined;
  const out = values.map(Number);
  if (values.length === 0 || out.some((x) => !Number.isFinite(x))) throw new WhaleidError(`${flag}: expected comma-separated numbers (one per channel, e.g. 0.485,0.456,0.406), got ${values.join(',')}`);
  return out;
}

const IMPORT_OPTIONS = {
  onnx: text('--onnx <file>', 'the embedding network: one image input, one embedding output (e.g. exported by torch.onnx.export)').asInput('file').required('the ONNX file to import'),
  out: text('--out <dir>', `the model folder to write (${EMBEDDING_ONNX}, ${PREPROCESSING_JSON}, manifest.json)`).asOutput({ kind: 'folder', files: [EMBEDDING_ONNX, PREPROCESSING_JSON, 'manifest.json'] }).required('the model folder to write'),
  inputSize: int('--input-size <px>', "input side (default: the network's fixed input side)", 8, 4096),
  channels: choice('--channels <order>', "the input's channels (default: rgb, grey for a one-channel input)", () => CHANNEL_ORDERS),
  layout: choice('--layout <layout>', 'where the channels are: nchw (PyTorch) or nhwc (TensorFlow); default read from the input', () => TENSOR_LAYOUTS),
  mean: commaList('--mean <list>', 'per-channel mean after scaling pixels to 0..range (default ImageNet: 0.485,0.456,0.406)'),
  std: commaList('--std <list>', 'per-channel standard deviation (default ImageNet: 0.229,0.224,0.225)'),
  range: num('--range <x>', 'pixels are scaled to 0..range before mean and std (1, or 255 for some models)', 1e-6, 1e6),
  resize: choice('--resize <policy>', 'squash (stretch to the square), crop (shorter side to the input, centre cut) or pad (longer side to the input, mean colour around)', () => RESIZE_POLICIES),
  margin: num('--margin <x>', "share of a photo's box added on each side before cutting (default 0)", 0, 1),
  threads: int('--threads <n>', 'ONNX Runtime threads', 1, 256).withDefault(2),
};

const CENTRE_CHOICES = ['data', 'none'] as const;
const CENTRE_ABOUT: Record<(typeof CENTRE_CHOICES)[number], string> = { data: 'the mean embedding of the photos it is calibrated on', none: 'no centre' };

const CALIBRATE_OPTIONS = {
  model: common.models.required('the imported model folder to calibrate; with --matcher, the run(s) or imported model(s) it ranks with (repeat --model for fused-learned, or to fuse several with fused)'),
  matcher: choice('--matcher <name>', "calibrate this matcher (threshold; the fusion of fused and fused-learned) by evaluate-open's protocol and write its .matcher.json for predict and serve --matcher-calibration; without it, the imported model's own calibration.json", () => MATCHER_KINDS, (k) => matcherOf(k).about),
  data: common.data.describedAs('labelled dataset to fit on (Kaggle layout or one folder per individual)'),
  boxes: common.boxes,
  rotate: common.rotate,
  catalog: text('--catalog <file|url>', "fit on a catalog's photos whose individual a person set (confirm or new-individual decisions still in force, merges followed) instead").asInput('catalog'),
  withImports: switchOn('--with-imports', 'with --catalog: the photos imported with their individual count too (their labels are the import\'s, not a reviewer\'s)'),
  photos: common.photos,
  splitSeed: int('--split-seed <n>', 'with --matcher: seed of the calibration/test split of the individuals').withDefault(0),
  newShare: num('--new-share <x>', 'with --matcher: share of individuals that keep no gallery photo (their queries are new individuals)', 0, 0.95).withDefault(0.3),
  calibrationShare: num('--calibration-share <x>', 'with --matcher: share of individuals whose queries fit the calibration (the others test it)', 0.01, 0.99).withDefault(0.3),
  out: text('--out <file>', 'with --matcher: the calibration file to write').asOutput({ kind: 'file' })
    .withDefaultFrom((v) => (v.matcher === undefined ? undefined : path.join(String((v.model as string[] | undefined)?.[0]), `${String(v.matcher)}.matcher.json`)) as string, '<first model>/<matcher>.matcher.json'),
  centre: choice('--centre <how>', "the imported model's feature centre, subtracted from every embedding before the cosine (centred cosine; the catalog's stored features of the model are then extracted again); left out, the model keeps the one it has", () => CENTRE_CHOICES, (c) => CENTRE_ABOUT[c]),
  precision: common.precision,
  cache: common.cache,
  threads: int('--threads <n>', 'ONNX Runtime threads', 1, 256).withDefault(2),
  quiet: common.quiet,
};

/**
 * Registers `whaleid model import` and `whaleid model calibrate`: embedding models from outside
 * whaleid, used wherever a trained run is (`--model`).
 *
 * @param program - the whaleid program
 * @param io - where output goes
 * @example
 * registerModelCommand(program, io);
 */
export function registerModelCommand(program: Command, io: CliIo): void {
  const model = program.command('model').description('embedding models from outside whaleid: import an ONNX file with its preprocessing, calibrate it on your labelled photos');
  model.addHelpText('after', '\nExample:\n  $ whaleid model import --onnx resnet50.onnx --out models/resnet50 --resize crop\n');

  defineCommand(model, {
    name: 'import',
    description: 'put an ONNX embedding network in a model folder with its preprocessing and manifest, after checking ONNX Runtime runs it',
    example: 'whaleid model import --onnx vit.onnx --out models/vit --input-size 224 --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5 --resize squash',
    options: IMPORT_OPTIONS,
    run: async (o) => {
      const { importOnnxModel } = await import('../../infer/model-import.js');
      const given: Partial<Preprocessing> = { inputSize: o.inputSize, channels: o.channels, layout: o.layout, mean: numbers('--mean', o.mean), std: numbers('--std', o.std), range: o.range, resize: o.resize, margin: o.margin };
      const preprocessing = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<Preprocessing>;
      // the option table's output guard has already refused a folder holding these files without --force
      const res = await importOnnxModel({ onnx: o.onnx, out: o.out, preprocessing, force: true, threads: o.threads });
      const p = res.preprocessing;
      io.out(`${o.out}: ${res.featureCount}-value embeddings of ${p.inputSize} px ${p.channels} ${p.layout} input (${p.resize}, mean ${p.mean.join(',')}, std ${p.std.join(',')}); calibrate it with whaleid model calibrate --model ${o.out} --data LABELLED_PHOTOS`);
    },
  });

  defineCommand(model, {
    name: 'calibrate',
    description: "fit an imported model's cosine-to-probability curve and new-individual threshold (calibration.json), or with --matcher any matcher's calibration (.matcher.json), on labelled photos or a catalog's decisions",
    example: 'whaleid model calibrate --model runs/a --model models/vit --matcher fused --catalog whales.db',
    options: CALIBRATE_OPTIONS,
    check: (o) => {
      if ((o.data === undefined) === (o.catalog === undefined)) throw new WhaleidError('give one of --data (a labelled dataset) or --catalog (the photos a person identified)');
      if (o.withImports && o.catalog === undefined) throw new WhaleidError('--with-imports: only with --catalog (which photos of the catalog count)');
      if (o.matcher !== undefined && o.centre !== undefined) throw new WhaleidError("--centre: only without --matcher (it is the imported model's own; calibrate the model first, then the matcher)");
      if (o.matcher === undefined && o.model.length > 1) throw new WhaleidError(`--model given ${o.model.length} times: without --matcher one imported model is calibrated; give --matcher fused or fused-learned to fit a fusion of several`);
    },
    run: async (o) => {
      const report = cliReport(io, o.quiet, '');
      let catalog: import('../../catalog/catalog.js').Catalog | undefined;
      if (o.catalog !== undefined) catalog = await (await import('../../catalog/catalog.js')).openCatalog(o.catalog, { photoDir: o.photos, create: false, readonly: true });
      try {
        const source = catalog ? { catalog, name: catalog.file, imports: o.withImports } : { data: o.data!, boxes: o.boxes, rotate: o.rotate };
        if (o.matcher !== undefined) {
          const { calibrateMatcher } = await import('../../pipeline/calibrate-matcher.js');
          // the option table's output guard has already refused an existing --out without --force
          const r = await calibrateMatcher({ models: o.model, matcher: o.matcher, source, out: o.out, force: true, seed: o.splitSeed, newShare: o.newShare, calibrationShare: o.calibrationShare, cacheDir: o.cache, precision: o.precision }, report);
          const { calibration: cal, test, newWhale: nw } = r.result;
          io.out(`${r.file}: --matcher ${o.matcher} threshold ${r.calibration.threshold.toPrecision(6)}${r.calibration.fusion ? ' and its fusion' : ''} (calibration part: ${cal.queries} queries, MAP@5 ${cal.map5.toFixed(3)}); test part identified with it: MAP@5 ${test.map5.toFixed(3)}, top-1 ${pct(test.top1)}, new individuals found ${nw.correct}/${nw.actual}; ${r.photos} photos, ${r.individuals} individuals with 2+ photos split`);
          return;
        }
        const { calibrateModel } = await import('../../pipeline/model-calibration.js');
        const res = await calibrateModel({ model: o.model[0], source, threads: o.threads, centre: o.centre }, report);
        const centred = res.centre ? `; cosine of embeddings centred on the mean of ${res.centre.photos} photos of ${res.centre.source}` : '';
        io.out(`${res.file}: score = sigmoid(${res.scale.toFixed(3)} cos ${res.bias < 0 ? '-' : '+'} ${Math.abs(res.bias).toFixed(3)}), new-individual threshold ${res.threshold.toFixed(4)} (leave-one-out MAP@5 ${res.map5.toFixed(3)} over ${res.questions.known} known and ${res.questions.new} new questions; ${res.photos} photos of ${res.individuals} individuals, ${res.pairs.same} same and ${res.pairs.different} different pairs${centred})`);
      } finally {
        await catalog?.close();
      }
    },
  });
}
