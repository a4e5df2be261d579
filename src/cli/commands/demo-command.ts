import path from 'node:path';
import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { int, text } from '../option-field.js';
import { cacheOption, common } from '../common-options.js';
import { ALL_TRAIN_OPTIONS, TRAIN_OPTIONS, RECIPE_OPTION, engineChoice, trainSettings } from '../train-options.js';
import { cliReport } from '../cli-report.js';
import { commandLine, stopOnInterrupt } from '../interrupt.js';
import type { CliIo } from '../io.js';

const DEMO_OPTIONS = {
  out: text('--out <path>', 'working folder (each step is skipped when its output is there)').asOutput({ kind: 'work' }).withDefault('demo-out'),
  individuals: int('--individuals <n>', 'individuals (whales) in the synthetic catalog', 5, 100000).withDefault(150),
  tta: common.tta.describedAs('test-time augmentation copies').withDefault(4),
  ...ALL_TRAIN_OPTIONS,
  // the demo recipe: the synthetic recipe's model, sized so the LAP-mined pairs run within the budget
  recipe: RECIPE_OPTION.recipe.withDefault('demo'),
  maxMinutes: TRAIN_OPTIONS.maxMinutes.withDefault(6),
  cacheDir: cacheOption({ from: (v) => path.join(String(v.out), 'cache'), text: '<out>/cache' }),
  quiet: common.quiet,
};

/** `whaleid demo`: the main job end to end on the embedded synthetic catalog (src/pipeline/demo.ts). */
export function registerDemoCommand(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'demo',
    description: 'synthetic catalog -> baselines -> train -> identify -> MAP@5 (a few minutes on 2 cores)',
    example: 'whaleid demo --out demo-out --seed 1',
    options: DEMO_OPTIONS,
    run: async (o) => {
      const { runDemo } = await import('../../pipeline/demo.js');
      const stop = stopOnInterrupt(io, 'stopping after this training step; the checkpoint is kept (Ctrl-C again to quit now)');
      const { rows, stopped } = await runDemo({ out: o.out, individuals: o.individuals, tta: o.tta, train: trainSettings(o), engine: engineChoice(o) }, cliReport(io, o.quiet), stop.signal).finally(() => stop.release());
      if (stopped) {
        io.out(`stopped: the catalog and the training's last checkpoint are kept in ${o.out}; continue with: ${commandLine(io)}`);
        io.setExitCode(130);
        return;
      }
      const { demoSummary } = await import('../../pipeline/demo.js');
      io.out('');
      for (const line of demoSummary(rows, o.out)) io.out(line);
    },
  });
}
