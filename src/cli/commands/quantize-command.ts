import type { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { int } from '../option-field.js';
import { common } from '../common-options.js';
import { cliReport } from '../cli-report.js';
import type { CliIo } from '../io.js';

const QUANTIZE_OPTIONS = {
  model: common.model.required('the training run folder to quantize'),
  photos: int('--photos <n>', "calibration photos, spread over the run's training photos", 1, 100_000).withDefault(300),
  threads: int('--threads <n>', 'ONNX Runtime threads', 1, 256).withDefault(2),
  quiet: common.quiet,
};

/**
 * Registers `whaleid quantize`: post-training int8 quantization of a run's branch
 * (`onnx/branch.int8.onnx`, served with `--precision int8`).
 *
 * @param program - the whaleid program
 * @param io - where output goes
 * @example
 * registerQuantizeCommand(program, io);
 */
export function registerQuantizeCommand(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'quantize',
    description: "quantize a run's branch to int8 (per-channel weights, activations calibrated on the run's own training crops): onnx/branch.int8.onnx, used with --precision int8",
    example: 'whaleid quantize --model runs/a --photos 300',
    options: QUANTIZE_OPTIONS,
    run: async (o) => {
      const { quantizeRun } = await import('../../pipeline/quantize-run.js');
      const r = await quantizeRun({ runDir: o.model, photos: o.photos, threads: o.threads }, cliReport(io, o.quiet, ''));
      io.out(`${r.file}: ${r.report.quantizedConvs} int8 convs (${r.report.foldedBatchNorms} BatchNorms folded), calibrated on ${r.photos} training photos, ${(r.bytes / 1e6).toFixed(2)} MB (float32 ${(r.floatBytes / 1e6).toFixed(2)} MB); features against float32: cosine mean ${r.cosine.mean.toFixed(4)}, least ${r.cosine.min.toFixed(4)} over ${r.cosine.photos} photos; use it with --precision int8`);
    },
  });
}
