import path from 'node:path';
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { int, text } from '../option-field.js';
import { cacheOption, common } from '../common-options.js';
import { ALL_TRAIN_OPTIONS, TRAIN_OPTIONS, RECIPE_OPTION, trainSettings, trainingEngine } from '../train-options.js';
import { loadDataset } from '../../data/dataset.js';
import { writeSubmission, type Prediction } from '../../data/submission.js';
import { allNewWhale, mostFrequentIds } from '../../predict/baselines.js';
import { evaluateFiles, formatScores } from './score-commands.js';
import { createPassProgress } from '../../util/progress.js';
import { trainHooks } from '../train-hooks.js';
import { TRAIN_DEFAULTS } from '../../train/train-config.js';
import type { CliIo } from '../io.js';
import { hasCheckpoint, hasFinalModel } from '../../model/run-folder.js';

const DEMO_OPTIONS = {
  out: text('--out <path>', 'working folder (each step is skipped when its output is there)').asOutput({ kind: 'work' }).withDefault('demo-out'),
  individuals: int('--individuals <n>', 'whales in the synthetic catalog', 5, 100000).withDefault(150),
  tta: common.tta.describedAs('test-time augmentation copies').withDefault(4),
  ...ALL_TRAIN_OPTIONS,
  // the synthetic recipe (see README: measured to learn on this kind of catalog), with the demo's time budget
  recipe: RECIPE_OPTION.recipe.withDefault('synthetic'),
  maxMinutes: TRAIN_OPTIONS.maxMinutes.withDefault(6),
  cacheDir: cacheOption({ from: (v) => path.join(String(v.out), 'cache'), text: '<out>/cache' }),
  quiet: common.quiet,
};

/**
 * `whaleid demo`: the main job end to end on the embedded synthetic catalog: draw a catalog,
 * score the trivial baselines, train a small Siamese network, identify the test photos and score
 * the submission. Each step is skipped when its output is already there, so a rerun (or a run
 * resumed after a kill) is cheap.
 */
export function registerDemoCommand(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'demo',
    description: 'synthetic catalog -> baselines -> train -> identify -> MAP@5 (a few minutes on 2 cores)',
    example: 'whaleid demo --out demo-out --seed 1',
    options: DEMO_OPTIONS,
    run: async (opts) => {
      const seed = opts.seed ?? TRAIN_DEFAULTS.seed;
      const catalog = path.join(opts.out, 'catalog');
      const truth = path.join(catalog, 'test_truth.csv');
      const cacheDir = opts.cacheDir;
      const showProgress = io.progress && !opts.quiet;
      if (existsSync(truth)) {
        io.out(`step 1/4: catalog already in ${catalog}, kept`);
      } else {
        io.out(`step 1/4: drawing a synthetic catalog of ${opts.individuals} whales into ${catalog}`);
        const { generateSynthCatalog } = await import('../../data/synth/index.js');
        const s = await generateSynthCatalog({
          out: catalog,
          individuals: opts.individuals,
          seed,
          onProgress: createPassProgress('synth', showProgress),
        });
        io.out(`  ${s.trainPhotos} train + ${s.testPhotos} test photos in ${s.seconds.toFixed(1)} s`);
      }
      const ds = await loadDataset(catalog);
      const images = ds.test.map((t) => t.image);
      const rows: [string, string][] = [];
      io.out('step 2/4: baseline submissions');
      const baselines: [string, Prediction[]][] = [
        ['all new_whale', allNewWhale(images)],
        ['most frequent ids', mostFrequentIds(ds.train.map((p) => p.id), images)],
      ];
      for (const [name, preds] of baselines) {
        const file = path.join(opts.out, `baseline-${name.replace(/[^a-z]+/g, '-')}.csv`);
        await writeSubmission(file, preds);
        rows.push([name, formatScores(await evaluateFiles(file, truth))]);
      }

      const runDir = path.join(opts.out, 'run');
      const { initEngine } = await import('../../model/engine.js');
      const settings = { ...trainSettings(opts), data: catalog, seed };
      const engine = await initEngine(trainingEngine(opts, settings.replicas));
      if (hasFinalModel(runDir)) {
        io.out(`step 3/4: trained model already in ${runDir}, kept`);
      } else {
        const resume = hasCheckpoint(runDir);
        io.out(`step 3/4: ${resume ? 'resuming' : 'training'} a Siamese network (recipe ${opts.recipe}, preset ${settings.preset}, tfjs ${engine.backend}, ${engine.threads} thread(s)) in ${runDir}`);
        const { startTraining, resumeTraining } = await import('../../train/trainer.js');
        const hooks = trainHooks(io, showProgress, '  ');
        const r = resume ? await resumeTraining(runDir, hooks) : await startTraining(runDir, settings, hooks);
        hooks.done();
        io.out(`  ${r.epochs} epochs in ${(r.seconds / 60).toFixed(1)} min; validation MAP@5 ${r.validation?.map5.toFixed(4) ?? '-'} at threshold ${r.validation?.threshold ?? '-'}`);
      }

      io.out(`step 4/4: identifying the ${images.length} test photos (TTA ${opts.tta})`);
      const { predictDataset } = await import('../../predict/predict-dataset.js');
      for (const [label, tta] of [['Siamese, no TTA', 0], [`Siamese, TTA ${opts.tta}`, opts.tta]] as const) {
        if (label.endsWith('TTA 0')) continue;
        const res = await predictDataset({ runDir, data: catalog, tta, seed, cacheDir });
        const file = path.join(opts.out, `submission-tta${tta}.csv`);
        await writeSubmission(file, res.predictions);
        rows.push([`${label} (thr ${res.threshold})`, formatScores(await evaluateFiles(file, truth))]);
      }
      io.out('\nMAP@5 on the synthetic test photos:');
      for (const [name, line] of rows) io.out(`  ${name.padEnd(32)} ${line}`);
    },
  });
}
