import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { choice, int, list, switchOn, text } from '../option-field.js';
import { common } from '../common-options.js';
import { WhaleidError } from '../../util/errors.js';
import { createPassProgress } from '../../util/progress.js';
import type { CliIo } from '../io.js';
import { matcherOf } from '../../infer/matchers/matcher-registry.js';
import { EXPORT_FORMATS, exportFormatFile, IMPORT_FORMATS, importFormatFile } from './catalog-format-commands.js';
import { osUserName } from './users-command.js';

const catalog = common.catalog.required('the catalog: a SQLite file or a postgres:// URL');
const photos = common.photos;

const IMPORT_OPTIONS = {
  catalog: common.catalog.required('the catalog: a SQLite file or a postgres:// URL'),
  photos,
  data: common.data.describedAs('dataset folder to import (kaggle), or the file: annotations.json or Wildbook\'s .tar.gz of it (coco), the .csv or .xlsx sheet (wildbook)').required('the dataset folder or file to import'),
  format: choice('--format <name>', 'what --data holds', () => IMPORT_FORMATS, (f) => ({ kaggle: 'Kaggle layout or one folder per individual', coco: 'COCO, Wildbook\'s export layout too', wildbook: 'Wildbook bulk-import sheet, .csv or .xlsx' })[f]).withDefault('kaggle'),
  media: text('--media <dir>', 'the photos a coco or wildbook file names (default: images/ beside the file when there, else its folder)').asInput('folder'),
  boxes: common.boxes,
  by: text('--by <name>', 'who is recorded as the importer').withDefault(osUserName(), 'the system user running it'),
  quiet: common.quiet,
};

const FEATURES_OPTIONS = {
  catalog,
  photos,
  model: common.models.required('the training run or imported model folder (repeat --model for each model a service fuses)'),
  precision: common.precision,
  matcher: common.matcher.describedAs('with local or fused, each photo\'s keypoints and descriptors are stored too (what serve --matcher local|fused matches with)'),
  cache: common.cache,
  quiet: common.quiet,
};

const BACKUP_OPTIONS = {
  catalog,
  photos,
  out: common.outFile('backup database file (its photos go to <out>.photos)', ['.photos']).required('the backup file to write'),
};

const EXPORT_OPTIONS = {
  catalog,
  photos,
  out: common.outFile('file to write (atomically)').required('the file to write'),
  format: choice('--format <name>', 'what to write', () => EXPORT_FORMATS, (f) => ({ csv: 'Image,Id and details', coco: 'COCO in Wildbook\'s export layout', 'wildbook-csv': 'Wildbook bulk-import sheet', 'wildbook-xlsx': 'the same as .xlsx', dwca: 'Darwin Core Archive, zipped' })[f]).withDefault('csv'),
  images: text('--images <dir>', 'coco, wildbook-*, dwca: also copy the photos into this folder under the names the file gives (files with other bytes there are refused)').asOutput({ kind: 'work' }),
  title: text('--title <text>', 'dwca: the dataset title in eml.xml (default: whaleid catalog <name>)'),
  creator: text('--creator <name>', 'dwca: the creator and contact in eml.xml (default: whaleid)'),
  license: choice('--license <id>', 'dwca: the licence in eml.xml', () => ['CC-BY-4.0', 'CC0-1.0', 'CC-BY-NC-4.0'] as const).withDefault('CC-BY-4.0'),
  quiet: common.quiet,
};

const COPY_OPTIONS = {
  from: text('--from <file|url>', 'the catalog to copy: a SQLite file or a postgres:// URL').asInput('catalog').required('the catalog to copy (a SQLite file or a postgres:// URL)'),
  to: text('--to <file|url>', 'the target: a SQLite file (created) or a postgres:// URL of an existing database (createdb)').required('the target (a SQLite file or a postgres:// URL)'),
  fromPhotos: text('--from-photos <dir>', "the source's photo folder (default: <from>.photos beside a SQLite file)").asInput('folder'),
  toPhotos: text('--to-photos <dir>', "the target's photo folder (default: <to>.photos beside a SQLite file; needed for PostgreSQL)"),
  force: switchOn('--force', 'replace the rows of a target that holds a catalog already (without it such a target is refused)'),
  quiet: common.quiet,
};

const SERVE_OPTIONS = {
  catalog: common.catalog.required('the catalog: a SQLite file or a postgres:// URL (it must exist unless --create)'),
  photos,
  create: switchOn('--create', 'start a new, empty catalog when --catalog does not exist (without it a missing file is refused, so a mistyped path never serves an empty catalog)'),
  model: common.models.describedAs('training run (or imported model) folder used to propose matches (without it uploads get no candidates); repeat --model to fuse several with --matcher fused or fused-learned'),
  boxModel: text('--box-model <dir>', "fluke detector for photos uploaded without a box: a `whaleid boxes train` folder, or 'none' (default: the shipped one when --model was trained with boxes)").asInput('folder'),
  port: int('--port <n>', 'TCP port', 0, 65535).withDefault(8080),
  host: text('--host <addr>', 'address to listen on').withDefault('127.0.0.1'),
  allowHost: list('--allow-host <name>', "a host name the service answers to besides localhost and its address (repeatable; e.g. the machine's DNS name with --host 0.0.0.0); other Host headers are refused against DNS rebinding"),
  token: text('--token <token>', 'a single bearer token that allows everything, for one-person use (default: $WHALEID_TOKEN); the catalog\'s users (whaleid users add) have their own; with neither the service is read-only').fromEnv('WHALEID_TOKEN'),
  maxUploadMb: int('--max-upload-mb <n>', 'largest photo accepted, in MB', 1, 1000).withDefault(30),
  maxPixels: int('--max-pixels <n>', 'largest photo accepted, in pixels', 1).withDefault(100_000_000),
  matcher: common.matcher.describedAs('which score ranks the candidates: siamese (the run\'s network), local (keypoints; descriptors stored in the catalog) or fused (both, by the calibrated fusion)'),
  matcherCalibration: text('--matcher-calibration <file>', 'the <out>.matcher.json of evaluate-open --matcher: its threshold (before the run\'s), and the fusion of --matcher fused').asInput('file'),
  precision: common.precision,
  cache: common.cache,
  quiet: common.quiet,
};

/**
 * Registers `whaleid catalog import|features|backup|export|copy` and `whaleid serve`: the photo-ID
 * catalog and the review service over it.
 *
 * @param program - the whaleid program
 * @param io - where output goes
 * @example
 * registerServeCommands(program, io);
 */
export function registerServeCommands(program: Command, io: CliIo): void {
  const catalog = program.command('catalog').description('the photo-ID catalog: import a dataset, compute features, back up, export, copy between SQLite and PostgreSQL');

  for (const register of [registerCatalogImport, registerCatalogFeatures, registerCatalogBackup, registerCatalogExport, registerCatalogCopy]) register(catalog, io);
  registerServe(program, io);
}

function registerCatalogImport(catalog: Command, io: CliIo): void {
  defineCommand(catalog, {
    name: 'import',
    description: 'load a Kaggle-layout or folder-per-individual dataset, a COCO file or a Wildbook bulk-import sheet into a catalog (creating it); a file\'s problems are all reported before anything is written; photos already there are recognised by content',
    example: 'whaleid catalog import --catalog whales.db --data ../shared/datasets/nyala-train   (or --format coco --data export/annotations.json)',
    options: IMPORT_OPTIONS,
    run: async (opts) => {
      if (opts.format !== 'kaggle') return importFormatFile(io, { ...opts, format: opts.format });
      const { importDatasetQueued } = await import('../../jobs/catalog-import-queued.js');
      const s = await importDatasetQueued(opts.catalog, opts.data, {
        photos: opts.photos, boxes: opts.boxes, by: opts.by, onMessage: (l) => io.err(l), onProgress: createPassProgress('import', io.progress && !opts.quiet),
        onQueueError: (e) => io.err(`job queue: ${e.message}`),
      });
      io.out(`${s.catalog}: ${s.added} photos added, ${s.duplicates} already there, ${s.newIndividuals} new individuals; ${s.queued} photos put in the review queue (new individuals or unlabelled), ${s.failed} unreadable, ${s.skipped} dataset rows skipped${s.jobsQueued !== null ? `; their features are extracted by whaleid worker (${s.jobsQueued} jobs queued)` : ''}`);
      if (s.failed || s.skipped) io.setExitCode(1);
    },
  });
}

function registerCatalogFeatures(catalog: Command, io: CliIo): void {
  defineCommand(catalog, {
    name: 'features',
    description: "compute and store a model's features of every identified photo (the service does it at start too)",
    example: 'whaleid catalog features --catalog whales.db --model runs/a',
    options: FEATURES_OPTIONS,
    run: async (opts) => {
      const { catalog: file, model: [runDir, ...moreModels] } = opts;
      const { openCatalog } = await import('../../catalog/catalog.js');
      const { createIdentifier } = await import('../../serve/identifier.js');
      const cat = await openCatalog(file, { create: false, photoDir: opts.photos });
      const identifier = await createIdentifier(cat, runDir, { moreModels, cacheDir: opts.cache, onWarning: (l) => io.err(l), matcher: opts.matcher, precision: opts.precision }).catch(async (e: unknown) => {
        await cat.close();
        throw e;
      });
      try {
        const n = await identifier.sync(createPassProgress('features', io.progress && !opts.quiet));
        io.out(`${cat.file}: ${n} photos' features computed for model ${identifier.modelVersion}${matcherOf(opts.matcher).describes.local ? ' (and their keypoints and descriptors)' : ''}`);
      } finally {
        await identifier.close();
        await cat.close();
      }
    },
  });
}

function registerCatalogBackup(catalog: Command, io: CliIo): void {
  defineCommand(catalog, {
    name: 'backup',
    description: 'copy the catalog (consistent even while the service runs) and its photos; never overwrites',
    example: 'whaleid catalog backup --catalog whales.db --out backups/whales-2026-11-28.db',
    options: BACKUP_OPTIONS,
    run: async (opts) => {
      const { backupCatalog } = await import('../../catalog/catalog-copy.js');
      const { shownUrl } = await import('../../catalog/catalog-db.js');
      const { catalog: location, out } = opts;
      const { photos } = await backupCatalog(location, out, { photos: opts.photos });
      io.out(`backed up ${shownUrl(location)} to ${out} (${photos} photos copied to ${out}.photos)`);
    },
  });
}

function registerCatalogExport(catalog: Command, io: CliIo): void {
  defineCommand(catalog, {
    name: 'export',
    description: 'the catalog as CSV (Image,Id like train.csv plus each photo\'s status, box, date, location, uploader), or with every annotation as COCO, a Wildbook bulk-import sheet (.csv, .xlsx) or a Darwin Core Archive',
    example: 'whaleid catalog export --catalog whales.db --out catalog.csv   (or --format coco --out export/annotations.json --images export/images)',
    options: EXPORT_OPTIONS,
    run: async (opts) => {
      if (opts.format !== 'csv') return exportFormatFile(io, { ...opts, format: opts.format });
      const { catalogCsv, openCatalogToRead } = await import('../../catalog/catalog-export.js');
      const { writeFileAtomic } = await import('../../util/atomic-file.js');
      const { shownUrl } = await import('../../catalog/catalog-db.js');
      const { catalog: file, out } = opts;
      // readable from a folder this user may not write (a read-only mount, another user's files)
      const { catalog: cat, close } = await openCatalogToRead(file, opts.photos);
      try {
        const csv = await catalogCsv(cat);
        try {
          await writeFileAtomic(out, csv);
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM' || code === 'ENOENT') throw new WhaleidError(`--out ${out}: cannot write the CSV there (${code}); give a file in a folder you can write`);
          throw e;
        }
        io.out(`wrote ${csv.trim().split('\n').length - 1} photos of ${shownUrl(file)} to ${out}`);
      } finally {
        await close();
      }
    },
  });
}

function registerCatalogCopy(catalog: Command, io: CliIo): void {
  defineCommand(catalog, {
    name: 'copy',
    description: 'copy a whole catalog between SQLite and PostgreSQL (either way): every table with its ids and the photo files, checked (row counts, contents, SHA-256 of every photo) before the target commits',
    example: 'whaleid catalog copy --from whales.db --to postgres://whaleid@localhost/whales --to-photos /srv/whaleid/photos',
    options: COPY_OPTIONS,
    run: async (opts) => {
      const { copyCatalog } = await import('../../catalog/catalog-copy.js');
      const { shownUrl } = await import('../../catalog/catalog-db.js');
      const s = await copyCatalog(opts.from, opts.to, { fromPhotos: opts.fromPhotos, toPhotos: opts.toPhotos, force: opts.force, onProgress: createPassProgress('photos', io.progress && !opts.quiet) });
      const rows = Object.entries(s.rows).map(([t, n]) => `${n} ${t}`).join(', ');
      io.out(`copied ${shownUrl(opts.from)} to ${shownUrl(opts.to)}: ${rows}; ${s.photosCopied} photo files copied, ${s.photosChecked} checked (SHA-256); row counts and contents checked`);
    },
  });
}

function registerServe(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'serve',
    description: 'the photo-ID service: JSON API (/api, OpenAPI at /api/openapi.json) and the review web page',
    example: 'WHALEID_TOKEN=s3cret whaleid serve --catalog whales.db --model runs/a --port 8080',
    options: SERVE_OPTIONS,
    run: async (opts) => {
      if (opts.token !== undefined && opts.token.length < 8) throw new WhaleidError('--token: expected at least 8 characters');
      const matcher = matcherOf(opts.matcher);
      if (matcher.describes.local && !opts.model) throw new WhaleidError(`--matcher ${opts.matcher}: needs --model RUN (the matcher also shows the run's Siamese score)`);
      if (!matcher.calibration.byRun && !opts.matcherCalibration) throw new WhaleidError(`--matcher ${opts.matcher}: needs --matcher-calibration FILE, the .matcher.json that evaluate-open --matcher ${opts.matcher} writes (its new-individual threshold${matcher.calibration.fusion ? ' and the fusion' : ''})`);
      const { startService } = await import('../../serve/start-service.js');
      const service = await startService({
        catalog: opts.catalog, photos: opts.photos, create: opts.create, model: opts.model?.[0], moreModels: opts.model?.slice(1), boxModel: opts.boxModel, host: opts.host, port: opts.port, allowedHosts: opts.allowHost ?? [],
        token: opts.token ?? null, maxUploadBytes: opts.maxUploadMb * 1024 * 1024, maxPixels: opts.maxPixels, matcher: opts.matcher, matcherCalibration: opts.matcherCalibration,
        precision: opts.precision, cacheDir: opts.cache, onLine: (l) => io.err(l), onProgress: createPassProgress('features', io.progress && !opts.quiet),
      });
      // the handlers before the line that says the service is up: a supervisor that stops it as
      // soon as it reads that line must find them in place
      const stopped = new Promise<void>((resolve) => {
        const on = (signal: string) => (): void => {
          io.err(`${signal}: stopping (requests in progress finish, the catalog is closed)`);
          void service.stop().then(() => {
            io.err('whaleid serve stopped');
            resolve();
          });
        };
        process.once('SIGINT', on('Ctrl-C'));
        process.once('SIGTERM', on('SIGTERM'));
      });
      io.out(`whaleid serving ${service.catalogShown} at ${service.address} (${service.readOnly ? 'read-only: no --token and no users (whaleid users add)' : 'changes need a token: --token or a user\'s'})`);
      await stopped;
    },
  });
}
