import { Command, Option } from 'commander';
import { defineCommand, commonFlags, requireOption } from '../options.js';
import { parseIntOption, parseNumberOption } from '../../util/errors.js';
import { createPassProgress } from '../../util/progress.js';
import type { CliIo } from '../io.js';

/** `whaleid synth`: the embedded default dataset, a synthetic fluke catalog in the Kaggle layout. */
export function registerSynthCommand(program: Command, io: CliIo): void {
  defineCommand(program, 'synth', 'draw a synthetic fluke catalog in the Kaggle layout (deterministic for a seed)', 'whaleid synth --out ./catalog --individuals 300 --photos-per 3 --seed 1')
    .addOption(commonFlags.out('folder to write the catalog to'))
    .addOption(new Option('--individuals <n>', 'number of distinct whales').default(100).argParser((v) => parseIntOption('--individuals', v, 1, 1_000_000)))
    .addOption(new Option('--photos-per <n>', 'mean photos per individual (skewed: many with 1-3, a few with many)').default(3).argParser((v) => parseNumberOption('--photos-per', v, 1, 100)))
    .addOption(new Option('--new-share <x>', 'share of test photos that are new individuals').default(0.3).argParser((v) => parseNumberOption('--new-share', v, 0, 1)))
    .addOption(commonFlags.seed())
    .addOption(commonFlags.quiet())
    .action(async (opts: { out?: string; individuals: number; photosPer: number; newShare: number; seed: number; quiet?: boolean }) => {
      const out = requireOption(opts.out, '--out', 'the folder to write the catalog to');
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
    });
}
