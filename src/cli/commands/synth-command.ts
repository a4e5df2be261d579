import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { int, num, text } from '../option-field.js';
import { common } from '../common-options.js';
import { createPassProgress } from '../../util/progress.js';
import type { CliIo } from '../io.js';

const SYNTH_OPTIONS = {
  out: text('--out <path>', 'folder to write the catalog to').asOutput({ kind: 'folder', files: ['train.csv', 'test_truth.csv'] }).required('the folder to write the catalog to'),
  individuals: int('--individuals <n>', 'number of distinct individuals (whales)', 1, 1_000_000).withDefault(100),
  photosPer: num('--photos-per <n>', 'mean photos per individual (skewed: many with 1-3, a few with many)', 1, 100).withDefault(3),
  newShare: num('--new-share <x>', 'share of test photos that are new individuals', 0, 1).withDefault(0.3),
  seed: common.seed,
  quiet: common.quiet,
};

/** `whaleid synth`: the embedded default dataset, a synthetic fluke catalog in the Kaggle layout. */
export function registerSynthCommand(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'synth',
    description: 'draw a synthetic fluke catalog in the Kaggle layout (deterministic for a seed)',
    example: 'whaleid synth --out ./catalog --individuals 300 --photos-per 3 --seed 1',
    options: SYNTH_OPTIONS,
    run: async (opts) => {
      const out = opts.out;
      const summary = await (await import('../../data/synth/index.js')).generateSynthCatalog({
        out,
        individuals: opts.individuals,
        photosPerIndividual: opts.photosPer,
        newShare: opts.newShare,
        seed: opts.seed,
        onProgress: createPassProgress('synth', io.progress && !opts.quiet),
      });
      io.out(
        `wrote ${summary.trainPhotos} train and ${summary.testPhotos} test photos of ${summary.individuals} individuals ` +
          `(${(summary.newWhaleTestShare * 100).toFixed(1)}% of test photos new) to ${out} in ${summary.seconds.toFixed(1)} s`,
      );
    },
  });
}
