/**
 * `whaleid worker`: runs the catalog's feature extraction jobs (a photo's job covers its further
 * annotations too, each cropped by its own box and rotation; with `local`, their keypoints and
 * descriptors are stored too) and answers sharded scoring queries, both with one
 * trained run. Several jobs at a time (`concurrency`), any number of workers on any number of
 * machines; stopping (Ctrl-C, SIGTERM) finishes the jobs in hand and takes no new ones; a worker
 * killed outright leaves its jobs to expire and be retried elsewhere.
 */
import { readFeatureBlock } from '../infer/feature-block.js';
import { featureBlockFile, galleryIndexDir, galleryIndexName } from '../infer/gallery-index.js';
import type { Catalog } from '../catalog/catalog.js';
import { decodeSideFor } from '../image/crop.js';
import { createImageCache } from '../image/image-cache.js';
import { checkLocalSettings, type LocalSettings } from '../infer/local/local-features.js';
import { createCatalogLocalFeatures } from '../infer/local/catalog-local-features.js';
import { loadRunModel, type RunModel } from '../predict/run-model.js';
import { invalidParameterError } from '../util/errors.js';
import { runFeatureJob, type FeatureExtractor, type FeatureJobResult } from './feature-job.js';
import { FEATURE_QUEUE, openJobQueue, type FeatureCatchUp, type FeatureJobData } from './job-queue.js';
import { startShardScorer } from './shard-scorer.js';
import type { Precision } from '../infer/int8-branch.js';

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  /** The open catalog (PostgreSQL). */
  catalog: Catalog;
  /** Its `postgres://` URL: the job queue and the scoring messages use the same database. */
  url: string;
  /** The training run whose features it extracts and scores. */
  runDir: string;
  /**
   * The other learned models whose features it extracts too (services fusing several models:
   * `--model` repeated); the shards it scores are `runDir`'s.
   */
  moreModels?: readonly string[];
  /** The branch's precision (float32 by default; int8 needs the run's onnx/branch.int8.onnx). */
  precision?: Precision;
  /** Jobs at a time (>= 1). */
  concurrency: number;
  /** How long a job may take before it counts as dead and is retried (seconds). */
  jobExpirySeconds?: number;
  /** Decoded-photo cache folder. */
  cacheDir?: string;
  /**
   * Store each job's photo's local features (keypoints, descriptors) with these settings too, for
   * services with the local or fused matcher (none: Siamese features only).
   */
  local?: LocalSettings;
  /** ONNX Runtime threads per run (default: ORT's). */
  threads?: number;
  /** Answer scoring queries too (default true). */
  scoring?: boolean;
  /** Lines for the operator: start, a summary every `statusEveryMs`, warnings. */
  onLine: (line: string) => void;
  /** Called as a job starts (its photo). */
  onJobStart?: (photoId: number) => void;
  /** Called after each job. */
  onJob?: (result: FeatureJobResult) => void;
  /** Default 10 s. */
  statusEveryMs?: number;
  /**
   * How often photos still without a model's features are looked for and queued again (default
   * 60 s; the first sweep is at the start).
   */
  catchUpEveryMs?: number;
  /** Stops the worker (after the jobs in hand). */
  signal: AbortSignal;
}

/** What a worker did until it stopped. */
export interface WorkerSummary {
  jobs: number;
  written: number;
  present: number;
  gone: number;
  failed: number;
  /** Scoring queries answered. */
  queries: number;
  /** Scoring queries dropped (the service had stopped waiting). */
  dropped: number;
}

/** The operator's line of a sweep: what is missing of a model, and what became of it. */
function catchUpLine(c: FeatureCatchUp): string {
  return `worker: model ${c.modelVersion}: ${c.missing} photo(s) without its features: ${c.queued} queued now, ${c.waiting} already queued or running${c.failed ? `, ${c.failed} failed for good` : ''}`;
}

/**
 * Runs a worker until `signal` aborts.
 *
 * @param o - catalog and URL, run, concurrency, expiry, local features or not, where lines go, the stop signal
 * @returns the counts of what it did
 * @throws {@link WhaleidError} for a bad concurrency or local setting, or a run without an ONNX export
 * @example
 * const stop = new AbortController();
 * process.once('SIGINT', () => stop.abort());
 * await runWorker({ catalog, url, runDir: 'runs/a', concurrency: 2, onLine: console.error, signal: stop.signal });
 */
export async function runWorker(o: WorkerOptions): Promise<WorkerSummary> {
  if (!Number.isSafeInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > 64) throw invalidParameterError('concurrency', 'a whole number from 1 to 64', o.concurrency);
  if (o.local) checkLocalSettings(o.local);
  const { catalog } = o;
  const runs: RunModel[] = [];
  for (const dir of [o.runDir, ...(o.moreModels ?? [])]) runs.push(await loadRunModel(dir, { threads: o.threads, precision: o.precision, onWarning: o.onLine }));
  const [run] = runs;
  const F = run.inference.head.features;
  const extractors: FeatureExtractor[] = runs.map((r) => {
    const cache = createImageCache({ dir: o.cacheDir, maxSide: decodeSideFor(r.crop.size), maxPixels: catalog.maxPixels });
    const D = r.inference.head.features;
    return {
      modelVersion: r.inference.modelVersion,
      async extract(photos) {
        const out = await r.inference.features(cache, photos.map((p) => ({ file: catalog.photoFile(p), box: p.box ?? undefined })), r.crop);
        return photos.map((_, i) => out.slice(i * D, (i + 1) * D));
      },
    };
  });
  const [extractor] = extractors;
  const local = o.local ? createCatalogLocalFeatures(catalog, { cacheDir: o.cacheDir, settings: o.local }) : undefined;
  const summary: WorkerSummary = { jobs: 0, written: 0, present: 0, gone: 0, failed: 0, queries: 0, dropped: 0 };
  const queue = await openJobQueue(o.url, { supervise: true, expireInSeconds: o.jobExpirySeconds, onError: (e) => o.onLine(`job queue: ${e.message}`) });
  const scorer = o.scoring === false ? null : await startShardScorer({
    url: o.url, catalog, modelVersion: extractor.modelVersion, head: run.inference.head, onLine: o.onLine,
    featureBlock: () => readFeatureBlock(featureBlockFile(galleryIndexDir(catalog.photoFiles.dir), galleryIndexName(extractor.modelVersion)), F),
  });
  const handle = async ([job]: { data: FeatureJobData; retryCount: number; retryLimit: number }[]): Promise<FeatureJobResult> => {
    o.onJobStart?.(job.data.photoId);
    try {
      const result = await runFeatureJob(catalog, extractors, job.data.photoId, local);
      summary.jobs++;
      summary[result.outcome]++;
      o.onJob?.(result);
      return result;
    } catch (e) {
      summary.failed++;
      // the last attempt says so: the photo then shows as failed, with this reason, in the service
      const left = job.retryLimit - job.retryCount;
      o.onLine(`photo ${job.data.photoId}: ${(e as Error).message} (${left > 0 ? `the job is retried, ${left} ${left === 1 ? 'try' : 'tries'} left` : `failed for good after ${job.retryCount + 1} tries`})`);
      throw e;
    }
  };
  o.onLine(`worker ${scorer?.id ?? ''}: model ${extractors.map((e) => e.modelVersion).join(' + ')}, ${o.concurrency} jobs at a time${local ? `, local descriptors stored too (${local.recordKey})` : ''}${scorer ? ', scoring shards' : ''}`);
  // photos no upload enqueued (a copied or bulk-filled catalog; every photo, for a model added to
  // the worker set) get their jobs here, and again every catchUpEveryMs for the ones a worker
  // without this model finished (its job leaves only its own models' features); a line when a
  // sweep queues something or the count of photos missing moved (the catch-up's progress)
  const lastMissing = new Map<string, number>();
  const catchUp = async (): Promise<void> => {
    for (const e of extractors) {
      const c = await queue.catchUpFeatures(catalog, e.modelVersion);
      if (c.queued > 0 || c.missing !== (lastMissing.get(e.modelVersion) ?? 0)) o.onLine(catchUpLine(c));
      lastMissing.set(e.modelVersion, c.missing);
    }
  };
  await catchUp();
  for (let i = 0; i < o.concurrency; i++) await queue.boss.work<FeatureJobData>(FEATURE_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5, includeMetadata: true }, handle);
  const status = (): void => {
    if (scorer) {
      summary.queries = scorer.answered;
      summary.dropped = scorer.dropped;
    }
    o.onLine(`worker: ${summary.jobs} jobs (${summary.written} extracted, ${summary.present} already there, ${summary.gone} photos gone, ${summary.failed} failed), ${summary.queries} scoring queries answered, ${summary.dropped} dropped (too late)`);
  };
  const timer = setInterval(status, o.statusEveryMs ?? 10_000);
  let sweeping = Promise.resolve();
  const sweeper = setInterval(() => {
    sweeping = sweeping.then(catchUp).catch((e: Error) => o.onLine(`worker: catching up on missing features: ${e.message}`));
  }, o.catchUpEveryMs ?? 60_000);
  await new Promise<void>((resolve) => {
    if (o.signal.aborted) resolve();
    o.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  clearInterval(sweeper);
  await sweeping;
  await queue.boss.offWork(FEATURE_QUEUE);
  await scorer?.close();
  await queue.close();
  for (const r of runs) await r.inference.dispose();
  status();
  return summary;
}
