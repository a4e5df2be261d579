import { Command } from 'commander';
import { defineCommand } from '../option-table.js';
import { int, switchOn } from '../option-field.js';
import { common } from '../common-options.js';
import { stopOnInterrupt } from '../interrupt.js';
import { WhaleidError } from '../../util/errors.js';
import { matcherOf } from '../../infer/matchers/matcher-registry.js';
import type { CliIo } from '../io.js';

const WORKER_OPTIONS = {
  catalog: common.catalog.required('the catalog: a postgres:// URL (its job queue is in the same database)'),
  photos: common.photos,
  model: common.models.required('the training run (or imported model) whose features it extracts and scores (the one the services use); repeat --model for services fusing several models: it extracts each one\'s features'),
  matcher: common.matcher.describedAs("the services' matcher: with local or fused, each job stores its photo's keypoints and descriptors too (what serve --matcher local|fused matches with)"),
  precision: common.precision,
  concurrency: int('--concurrency <n>', 'feature extraction jobs at a time', 1, 64).withDefault(2),
  jobExpiry: int('--job-expiry <seconds>', 'how long a job may run before it counts as dead (its worker killed) and is retried by another', 1, 86_399).withDefault(60),
  threads: int('--threads <n>', 'ONNX Runtime threads (default: its own choice)', 1, 256),
  logJobs: switchOn('--log-jobs', 'a line as each job starts and ends (photo id, what it did)'),
  cache: common.cache,
  quiet: common.quiet,
};

/**
 * Registers `whaleid worker`: runs a PostgreSQL catalog's feature extraction jobs and answers the
 * services' sharded scoring queries, until Ctrl-C or SIGTERM.
 *
 * @param program - the whaleid program
 * @param io - where output goes
 * @example
 * registerWorkerCommand(program, io);
 */
export function registerWorkerCommand(program: Command, io: CliIo): void {
  defineCommand(program, {
    name: 'worker',
    description: "run a PostgreSQL catalog's jobs (features of uploaded and imported photos) and score shards of its gallery for the services; start any number, on any machine",
    example: 'whaleid worker --catalog postgres://whaleid@db/whales --photos /mnt/whales-photos --model runs/a --concurrency 2 --matcher fused',
    options: WORKER_OPTIONS,
    run: async (opts) => {
      const url = opts.catalog;
      const { isPostgresUrl } = await import('../../catalog/catalog-db.js');
      if (!isPostgresUrl(url)) throw new WhaleidError(`--catalog: expected a postgres:// URL (the job queue lives in the catalog's PostgreSQL database), got ${url}`);
      const { openCatalog } = await import('../../catalog/catalog.js');
      const { runWorker } = await import('../../jobs/worker.js');
      const { DEFAULT_LOCAL } = await import('../../infer/local/local-features.js');
      const cat = await openCatalog(url, { create: false, photoDir: opts.photos });
      const stop = stopOnInterrupt(io, 'stopping: finishing the jobs in hand (Ctrl-C again to quit now; unfinished jobs are retried after their expiry)');
      // SIGTERM (a supervisor's stop) as Ctrl-C
      const term = new AbortController();
      const onTerm = (): void => term.abort();
      process.once('SIGTERM', onTerm);
      try {
        const s = await runWorker({
          catalog: cat, url, runDir: opts.model[0], moreModels: opts.model.slice(1), precision: opts.precision, concurrency: opts.concurrency, jobExpirySeconds: opts.jobExpiry, threads: opts.threads, cacheDir: opts.cache,
          local: matcherOf(opts.matcher).describes.local ? DEFAULT_LOCAL : undefined,
          onLine: (l) => {
            if (!opts.quiet) io.err(l);
          },
          ...(opts.logJobs ? { onJobStart: (id: number) => io.err(`job photo ${id}: started`), onJob: (r: { photoId: number; outcome: string }) => io.err(`job photo ${r.photoId}: ${r.outcome}`) } : {}),
          signal: AbortSignal.any([stop.signal, term.signal]),
        });
        io.out(`worker stopped: ${s.jobs} jobs done (${s.written} photos' features extracted, ${s.present} already there), ${s.failed} failed attempts, ${s.queries} scoring queries answered`);
      } finally {
        stop.release();
        process.off('SIGTERM', onTerm);
        await cat.close();
      }
    },
  });
}
