import { Command, Option } from 'commander';
import { defineCommand, commonFlags, requireOption } from '../options.js';
import { parseIntOption, parseNumberOption, WhaleidError } from '../../util/errors.js';
import { trainHooks } from '../train-hooks.js';
import { defaultCacheDir } from './image-commands.js';
import type { CliIo } from '../io.js';
import { TRAIN_RECIPES, applyRecipe } from '../../train/recipes.js';
import { readRunConfig } from '../../model/run-folder.js';

/** The stored replica count of the run in `runDir` (none when there is no run: the trainer says so). */
function storedReplicas(runDir: string): number | undefined {
  const replicas = readRunConfig(runDir)?.replicas;
  return typeof replicas === 'number' ? replicas : undefined;
}

/** `whaleid train`: the Siamese network with the method's pair mining and schedule. */
export function registerTrainCommand(program: Command, io: CliIo): void {
  defineCommand(program, 'train', 'train a Siamese network (LAP-mined pairs, schedule, checkpoints, validation MAP@5)', 'whaleid train --data ./catalog --out runs/a --preset cpu --schedule short')
    .addOption(commonFlags.data())
    .addOption(commonFlags.out('run folder (checkpoints, log.jsonl, report.html, model/)'))
    .addOption(new Option('--resume <runDir>', 'continue an interrupted run from its last checkpoint'))
    .addOption(new Option('--recipe <name>', `a measured CPU training recipe; flags given override it: ${Object.values(TRAIN_RECIPES).map((r) => `${r.name} (${r.summary})`).join('; ')}`).choices(Object.keys(TRAIN_RECIPES)))
    .addOption(new Option('--preset <name>', 'model: kernel (the method, 384 px), cpu (128 px), small (64 px), tiny (64 px)').choices(['kernel', 'cpu', 'small', 'tiny']))
    .addOption(new Option('--input-size <px>', 'input side (default: the preset\'s)').argParser((v) => parseIntOption('--input-size', v, 16, 1024)))
    .addOption(new Option('--schedule <name>', 'kernel (400 epochs), long (~60), short (~30), smoke (2)'))
    .addOption(new Option('--batch-size <n>', 'pairs per step (the method: 32)').argParser((v) => parseIntOption('--batch-size', v, 2, 1024)))
    .addOption(new Option('--micro-batch <n>', 'pairs per micro-batch: gradients accumulated, applied once per step (less memory: 512 px, batch 32 fits with 2)').argParser((v) => parseIntOption('--micro-batch', v, 1, 1024)))
    .addOption(new Option('--replicas <n>', 'data-parallel copies of the network, one per core, each on single-threaded wasm: every kernel of a step runs in parallel, not only the threaded build\'s convolutions (BatchNorm per share of the batch)').argParser((v) => parseIntOption('--replicas', v, 1, 64)))
    .addOption(new Option('--val-share <x>', 'share of whales with 2+ photos held out').argParser((v) => parseNumberOption('--val-share', v, 0, 1)))
    .addOption(new Option('--boxes <csv>', 'boxes CSV (default: <data>/bounding_boxes.csv if present)'))
    .addOption(new Option('--box-model <dir>', 'box model for photos the boxes CSV lacks, in boxed runs (default: the shipped fluke detector; none: crop them whole)'))
    .addOption(new Option('--rotate <list>', 'photos to turn 180 degrees (default: <data>/rotate.txt if present)'))
    .addOption(new Option('--exclude <list>', 'photos to leave out'))
    .addOption(new Option('--view-pattern <regex>', 'views with different marks, from the photo name (e.g. left|right for flanks): matching pairs only within a view'))
    .addOption(new Option('--no-dedup', 'keep duplicate photos'))
    .addOption(new Option('--margin <x>', 'share of the box added on each side').argParser((v) => parseNumberOption('--margin', v, 0, 1)))
    .addOption(new Option('--aspect <x>', 'width/height of the cropped region (flukes: 2.15)').argParser((v) => parseNumberOption('--aspect', v, 0.1, 10)))
    .addOption(new Option('--lr-scale <x>', 'multiply the schedule\'s learning rates').argParser((v) => parseNumberOption('--lr-scale', v, 1e-6, 1e3)))
    .addOption(new Option('--head-init <how>', 'head start: distance (fast on CPU) or keras (the method\'s random init)').choices(['distance', 'keras']))
    .addOption(new Option('--augment-from <epoch>', 'epochs without augmentation first').argParser((v) => parseIntOption('--augment-from', v, 0, 100000)))
    .addOption(new Option('--max-minutes <m>', 'time budget: finish at the first group boundary past it').argParser((v) => parseNumberOption('--max-minutes', v, 0.01, 1e6)))
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['wasm', 'cpu']).default('wasm'))
    .addOption(commonFlags.threads())
    .addOption(new Option('--cache <dir>', 'decoded-photo cache folder').default(defaultCacheDir()))
    .addOption(commonFlags.seed())
    .addOption(commonFlags.quiet())
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const resume = opts.resume as string | undefined;
      const runDir = resume ?? requireOption(opts.out as string | undefined, '--out', 'the run folder to write');
      if (!resume) requireOption(opts.data as string | undefined, '--data', 'the dataset to train on');
      if (resume && opts.out && opts.out !== resume) throw new WhaleidError('give either --resume RUN_DIR or --out RUN_DIR, not both');
      const { initEngine } = await import('../../model/engine.js');
      // replicas run single-threaded each (a resumed run keeps its own count)
      const replicas = (opts.replicas as number | undefined) ?? (resume ? (storedReplicas(resume) ?? 1) : 1);
      const engine = await initEngine({ backend: opts.backend as 'wasm' | 'cpu', threads: replicas > 1 ? 1 : (opts.threads as number) });
      io.out(`engine: tfjs ${engine.backend}, ${engine.threads} thread(s)${replicas > 1 ? ` x ${replicas} replicas` : ''}`);
      const { trainSiamese } = await import('../../train/trainer.js');
      const hooks = trainHooks(io, io.progress && !opts.quiet);
      const given = {
        data: opts.data as string,
        preset: opts.preset as never,
        inputSize: opts.inputSize as number | undefined,
        schedule: opts.schedule as string | undefined,
        batchSize: opts.batchSize as number | undefined,
        microBatch: opts.microBatch as number | undefined,
        replicas: opts.replicas as number | undefined,
        valShare: opts.valShare as number | undefined,
        boxes: opts.boxes as string | undefined,
        boxModel: opts.boxModel as string | undefined,
        rotate: opts.rotate as string | undefined,
        exclude: opts.exclude as string | undefined,
        viewPattern: opts.viewPattern as string | undefined,
        margin: opts.margin as number | undefined,
        aspect: opts.aspect as number | undefined,
        lrScale: opts.lrScale as number | undefined,
        maxMinutes: opts.maxMinutes as number | undefined,
        headInit: opts.headInit as 'distance' | 'keras' | undefined,
        augmentFromEpoch: opts.augmentFrom as number | undefined,
        // commander always sets the negatable flag: only a --no-dedup actually given may override a recipe
        dedup: cmd.getOptionValueSource('dedup') === 'cli' ? (opts.dedup as boolean) : undefined,
        seed: opts.seed as number,
        cacheDir: opts.cache as string,
      };
      if (resume && opts.recipe) throw new WhaleidError('--recipe starts a new run; a resumed run keeps its stored configuration');
      const settings = opts.recipe ? applyRecipe(opts.recipe as string, given) : given;
      if (opts.recipe) io.out(`recipe ${opts.recipe as string}: ${JSON.stringify({ ...settings, data: undefined, cacheDir: undefined, schedule: undefined })}`);
      const result = await trainSiamese(runDir, settings as never, { ...hooks, resume: Boolean(resume) });
      hooks.done();
      const v = result.validation;
      io.out(`trained ${result.epochs} epochs in ${(result.seconds / 60).toFixed(1)} min; ${v ? `validation MAP@5 ${v.map5.toFixed(4)} (threshold ${v.threshold}), top-1 ${v.top1.toFixed(3)}` : 'no validation queries'}; report: ${runDir}/report.html`);
    });
}
