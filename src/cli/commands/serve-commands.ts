import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { defineCommand, commonFlags, requireOption } from '../options.js';
import { parseIntOption, WhaleidError } from '../../util/errors.js';
import { createPassProgress } from '../../util/progress.js';
import { defaultCacheDir } from './image-commands.js';
import type { CliIo } from '../io.js';

const catalogOption = (): Option => new Option('--catalog <file>', 'catalog database (SQLite; photos are kept in <file>.photos)');

/**
 * Registers `whaleid catalog import|features|backup|export` and `whaleid serve`: the photo-ID
 * catalog and the review service over it.
 *
 * @param program - the whaleid program
 * @param io - where output goes
 * @example
 * registerServeCommands(program, io);
 */
export function registerServeCommands(program: Command, io: CliIo): void {
  const catalog = program.command('catalog').description('the photo-ID catalog: import a dataset, compute features, back up, export');

  defineCommand(catalog, 'import', 'load a Kaggle-layout or folder-per-individual dataset into a catalog (creating it); photos already there are recognised by content', 'whaleid catalog import --catalog whales.db --data ../shared/datasets/nyala-train')
    .addOption(catalogOption())
    .addOption(commonFlags.data())
    .addOption(new Option('--boxes <csv>', 'boxes CSV (default: <data>/bounding_boxes.csv if present)'))
    .addOption(new Option('--by <name>', 'who is recorded as the importer').default('import'))
    .addOption(commonFlags.quiet())
    .action(async (opts: { catalog?: string; data?: string; boxes?: string; by: string; quiet?: boolean }) => {
      const file = requireOption(opts.catalog, '--catalog', 'the catalog database file');
      const data = requireOption(opts.data, '--data', 'the dataset folder to import');
      const { openCatalog } = await import('../../catalog/catalog.js');
      const { importDataset } = await import('../../catalog/catalog-import.js');
      const cat = openCatalog(file);
      try {
        const s = await importDataset(cat, data, { boxes: opts.boxes, by: opts.by, onMessage: (l) => io.err(l), onProgress: createPassProgress('import', io.progress && !opts.quiet) });
        io.out(`${file}: ${s.added} photos added, ${s.duplicates} already there, ${s.newIndividuals} new individuals; ${s.skipped} photos skipped (new_whale or unlabelled), ${s.failed} unreadable`);
        if (s.failed) io.setExitCode(1);
      } finally {
        cat.close();
      }
    });

  defineCommand(catalog, 'features', "compute and store a model's features of every identified photo (the service does it at start too)", 'whaleid catalog features --catalog whales.db --model runs/a')
    .addOption(catalogOption())
    .addOption(new Option('--model <runDir>', 'training run folder'))
    .addOption(new Option('--cache <dir>', 'decoded-photo cache folder').default(defaultCacheDir()))
    .addOption(commonFlags.quiet())
    .action(async (opts: { catalog?: string; model?: string; cache: string; quiet?: boolean }) => {
      const file = requireOption(opts.catalog, '--catalog', 'the catalog database file');
      const runDir = requireOption(opts.model, '--model', 'the training run folder');
      const { identifier, cat } = await openService(file, runDir, opts.cache);
      try {
        const n = await identifier.sync(createPassProgress('features', io.progress && !opts.quiet));
        io.out(`${file}: ${n} photos' features computed for model ${identifier.modelVersion}`);
      } finally {
        await identifier.close();
        cat.close();
      }
    });

  defineCommand(catalog, 'backup', 'copy the catalog (consistent even while the service runs) and its photos; never overwrites', 'whaleid catalog backup --catalog whales.db --out backups/whales-2026-11-28.db')
    .addOption(catalogOption())
    .addOption(commonFlags.out('backup database file (its photos go to <out>.photos)'))
    .action(async (opts: { catalog?: string; out?: string }) => {
      const file = requireOption(opts.catalog, '--catalog', 'the catalog database file');
      const out = requireOption(opts.out, '--out', 'the backup file to write');
      const { openCatalog } = await import('../../catalog/catalog.js');
      const cat = openCatalog(file, { readonly: true });
      try {
        const { photos } = await cat.backup(out);
        io.out(`backed up ${file} to ${out} (${photos} photos copied to ${out}.photos)`);
      } finally {
        cat.close();
      }
    });

  defineCommand(catalog, 'export', 'the catalog as CSV: Image,Id (like train.csv) plus each photo\'s status, box, date, location, uploader', 'whaleid catalog export --catalog whales.db --out catalog.csv')
    .addOption(catalogOption())
    .addOption(commonFlags.out('CSV file to write (atomically)'))
    .action(async (opts: { catalog?: string; out?: string }) => {
      const file = requireOption(opts.catalog, '--catalog', 'the catalog database file');
      const out = requireOption(opts.out, '--out', 'the CSV file to write');
      const { openCatalog } = await import('../../catalog/catalog.js');
      const { catalogCsv } = await import('../../catalog/catalog-export.js');
      const { writeFileAtomic } = await import('../../util/atomic-file.js');
      const cat = openCatalog(file, { readonly: true });
      try {
        const csv = catalogCsv(cat);
        await writeFileAtomic(out, csv);
        io.out(`wrote ${csv.trim().split('\n').length - 1} photos of ${file} to ${out}`);
      } finally {
        cat.close();
      }
    });

  defineCommand(program, 'serve', 'the photo-ID service: JSON API (/api, OpenAPI at /api/openapi.json) and the review web page', 'WHALEID_TOKEN=s3cret whaleid serve --catalog whales.db --model runs/a --port 8080')
    .addOption(catalogOption())
    .addOption(new Option('--model <runDir>', 'training run folder used to propose matches (without it uploads get no candidates)'))
    .addOption(new Option('--box-model <dir>', "fluke detector for photos uploaded without a box: a `whaleid boxes train` folder, or 'none' (default: the shipped one when --model was trained with boxes)"))
    .addOption(new Option('--port <n>', 'TCP port').default(8080).argParser((v) => parseIntOption('--port', v, 0, 65535)))
    .addOption(new Option('--host <addr>', 'address to listen on').default('127.0.0.1'))
    .addOption(new Option('--token <token>', 'bearer token that allows changes (default: $WHALEID_TOKEN); without one the service is read-only').env('WHALEID_TOKEN'))
    .addOption(new Option('--max-upload-mb <n>', 'largest photo accepted, in MB').default(30).argParser((v) => parseIntOption('--max-upload-mb', v, 1, 1000)))
    .addOption(new Option('--max-pixels <n>', 'largest photo accepted, in pixels').default(100_000_000).argParser((v) => parseIntOption('--max-pixels', v, 1)))
    .addOption(new Option('--cache <dir>', 'decoded-photo cache folder').default(defaultCacheDir()))
    .addOption(commonFlags.quiet())
    .action(async (opts: { catalog?: string; model?: string; boxModel?: string; port: number; host: string; token?: string; maxUploadMb: number; maxPixels: number; cache: string; quiet?: boolean }) => {
      const file = requireOption(opts.catalog, '--catalog', 'the catalog database file (created when missing)');
      if (opts.token !== undefined && opts.token.length < 8) throw new WhaleidError('--token: expected at least 8 characters');
      const { openCatalog } = await import('../../catalog/catalog.js');
      const cat = openCatalog(file, { maxPixels: opts.maxPixels });
      let identifier = null;
      if (opts.model) {
        identifier = (await openService(file, opts.model, opts.cache, cat)).identifier;
        const n = await identifier.sync(createPassProgress('features', io.progress && !opts.quiet));
        io.err(`model ${identifier.modelVersion}: ${n} catalog photos' features computed`);
      }
      const { openBoxDetector } = await import('../../boxes/box-predict.js');
      const { shippedBoxModelDir } = await import('../../boxes/box-spec.js');
      // default: the shipped detector when the model learnt boxed crops (see trainedWithBoxes)
      const boxedRun = identifier ? identifier.trainedWithBoxes : true;
      const boxModel = opts.boxModel ?? (boxedRun ? shippedBoxModelDir() : 'none');
      const boxDetector = boxModel === 'none' || (opts.boxModel === undefined && !existsSync(path.join(boxModel, 'model.onnx'))) ? null : await openBoxDetector(boxModel);
      io.err(boxDetector ? `fluke boxes of unboxed uploads: ${boxDetector.file}` : 'no box model: photos without a box are matched whole');
      const { createServer } = await import('../../serve/server.js');
      const app = await createServer({ catalog: cat, identifier, boxDetector, token: opts.token ?? null, maxUploadBytes: opts.maxUploadMb * 1024 * 1024 });
      const address = await app.listen({ port: opts.port, host: opts.host });
      io.out(`whaleid serving ${path.resolve(file)} at ${address} (${opts.token ? 'changes need the token' : 'read-only: no --token'})`);
      const stop = async (): Promise<void> => {
        await app.close();
        await identifier?.close();
        await boxDetector?.dispose();
        cat.close();
      };
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => void stop().then(resolve));
        process.once('SIGTERM', () => void stop().then(resolve));
      });
    });
}

async function openService(file: string, runDir: string, cacheDir: string, open?: import('../../catalog/catalog.js').Catalog) {
  const { initEngine } = await import('../../model/engine.js');
  await initEngine({ backend: 'wasm' });
  const { openCatalog } = await import('../../catalog/catalog.js');
  const cat = open ?? openCatalog(file);
  const { createIdentifier } = await import('../../serve/identifier.js');
  return { cat, identifier: await createIdentifier(cat, runDir, { cacheDir }) };
}
