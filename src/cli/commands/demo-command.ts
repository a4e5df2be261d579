import path from 'node:path';
import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { defineCommand, commonFlags } from '../options.js';
import { loadDataset } from '../../data/dataset.js';
import { writeSubmission, type Prediction } from '../../data/submission.js';
import { allNewWhale, mostFrequentIds } from '../../predict/baselines.js';
import { evaluateFiles, formatScores } from './score-commands.js';
import { parseIntOption } from '../../util/errors.js';
import { createProgress } from '../../util/progress.js';
import type { CliIo } from '../io.js';

/**
 * `whaleid demo`: the main job end to end on the embedded synthetic catalog. Each step is skipped
 * when its output is already there, so a rerun (or a resumed run) is cheap.
 */
export function registerDemoCommand(program: Command, io: CliIo): void {
  defineCommand(program, 'demo', 'generate a small synthetic catalog, write baseline submissions and score them', 'whaleid demo --out demo-out --seed 1')
    .addOption(commonFlags.out('working folder').default('demo-out'))
    .addOption(new Option('--individuals <n>', 'whales in the synthetic catalog').default(120).argParser((v) => parseIntOption('--individuals', v, 5, 100000)))
    .addOption(commonFlags.seed())
    .addOption(commonFlags.quiet())
    .action(async (opts: { out: string; individuals: number; seed: number; quiet?: boolean }) => {
      const catalog = path.join(opts.out, 'catalog');
      if (existsSync(path.join(catalog, 'test_truth.csv'))) {
        io.out(`step 1/3: catalog already in ${catalog}, kept`);
      } else {
        io.out(`step 1/3: drawing a synthetic catalog of ${opts.individuals} whales into ${catalog}`);
        let bar: ReturnType<typeof createProgress> | null = null;
        const s = await (await import('../../data/synth/index.js')).generateSynthCatalog({
          out: catalog,
          individuals: opts.individuals,
          seed: opts.seed,
          onProgress: (done: number, total: number) => {
            bar ??= createProgress('synth', total, { enabled: io.progress && !opts.quiet });
            bar.tick(1);
            if (done === total) bar.stop();
          },
        });
        io.out(`  ${s.trainPhotos} train + ${s.testPhotos} test photos in ${s.seconds.toFixed(1)} s`);
      }
      const ds = await loadDataset(catalog);
      const images = ds.test.map((t) => t.image);
      const baselines: [string, Prediction[]][] = [
        ['all new_whale', allNewWhale(images)],
        ['most frequent ids', mostFrequentIds(ds.train.map((p) => p.id), images)],
      ];
      io.out('step 2/3: baseline submissions');
      const files: [string, string][] = [];
      for (const [name, preds] of baselines) {
        const file = path.join(opts.out, `baseline-${name.replace(/[^a-z]+/g, '-')}.csv`);
        await writeSubmission(file, preds);
        files.push([name, file]);
      }
      io.out('step 3/3: scores on the synthetic test photos');
      for (const [name, file] of files) {
        io.out(`  ${name.padEnd(18)} ${formatScores(await evaluateFiles(file, path.join(catalog, 'test_truth.csv')))}`);
      }
    });
}
