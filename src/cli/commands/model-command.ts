import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { choice, commaList, int, num, text } from '../option-field.js';
import { common } from '../common-options.js';
import { cliReport } from '../cli-report.js';
import type { CliIo } from '../io.js';
import { WhaleidError } from '../../util/errors.js';
import { CHANNEL_ORDERS, RESIZE_POLICIES, TENSOR_LAYOUTS, type Preprocessing } from '../../image/embedding-input.js';
import { EMBEDDING_ONNX, PREPROCESSING_JSON } from '../../model/folders/model-folder.js';

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

const CALIBRATE_OPTIONS = {
  model: text('--model <dir>', 'the imported model folder (whaleid model import)').asInput('run').required('the model folder to calibrate'),
  data: common.data.describedAs('labelled dataset to fit on (Kaggle layout or one folder per individual)'),
  boxes: common.boxes,
  rotate: common.rotate,
  catalog: text('--catalog <file|url>', "fit on a catalog's identified photos instead (imported with their individual or confirmed)").asInput('catalog'),
  photos: common.photos,
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
    description: "fit an imported model's cosine-to-probability curve and new-individual threshold on labelled photos (writes calibration.json)",
    example: 'whaleid model calibrate --model models/vit --data ./labelled-flukes',
    options: CALIBRATE_OPTIONS,
    run: async (o) => {
      if ((o.data === undefined) === (o.catalog === undefined)) throw new WhaleidError('give one of --data (a labelled dataset) or --catalog (its identified photos)');
      const { calibrateModel } = await import('../../pipeline/model-calibration.js');
      const report = cliReport(io, o.quiet, '');
      let res;
      if (o.catalog !== undefined) {
        const { openCatalog } = await import('../../catalog/catalog.js');
        const catalog = await openCatalog(o.catalog, { photoDir: o.photos, create: false, readonly: true });
        try {
          res = await calibrateModel({ model: o.model, source: { catalog, name: o.catalog }, threads: o.threads }, report);
        } finally {
          await catalog.close();
        }
      } else {
        res = await calibrateModel({ model: o.model, source: { data: o.data!, boxes: o.boxes, rotate: o.rotate }, threads: o.threads }, report);
      }
      io.out(`${res.file}: score = sigmoid(${res.scale.toFixed(3)} cos ${res.bias < 0 ? '-' : '+'} ${Math.abs(res.bias).toFixed(3)}), new-individual threshold ${res.threshold.toFixed(4)} (leave-one-out MAP@5 ${res.map5.toFixed(3)} over ${res.questions.known} known and ${res.questions.new} new questions; ${res.photos} photos of ${res.individuals} individuals, ${res.pairs.same} same and ${res.pairs.different} different pairs)`);
    },
  });
}
