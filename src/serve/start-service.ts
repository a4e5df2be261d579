import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { checkPortFree } from '../util/port-check.js';
import { openCatalog, type Catalog } from '../catalog/catalog.js';
import { catalogWriteError } from '../catalog/catalog-writable.js';
import { shownUrl } from '../catalog/catalog-db.js';
import { matcherOf, type MatcherKind } from '../infer/matchers/matcher-registry.js';
import { readMatcherCalibration } from '../infer/matchers/matcher-calibration.js';
import type { Precision } from '../infer/int8-branch.js';
import { openFallbackDetector } from '../boxes/box-fallback.js';
import { catalogTopology, openCatalogJobs, type JobQueue } from '../jobs/job-queue.js';
import { createIdentifier, type Identifier } from './identifier.js';
import { NO_WORKER_WARNING } from './service-context.js';
import { createServer } from './server.js';

/** Options of {@link startService}: what `whaleid serve` parsed. */
export interface ServiceOptions {
  /** The catalog: a SQLite file or a postgres:// URL. */
  catalog: string;
  /** The catalog's photo folder (needed for PostgreSQL). */
  photos?: string;
  /** Start a new, empty catalog when it does not exist (otherwise a missing file is refused). */
  create?: boolean;
  /** The run (or model folder) that proposes matches; without it uploads get no candidates. */
  model?: string;
  /** The other learned models fused with it (`--model` repeated; `--matcher fused` or `fused-learned`). */
  moreModels?: readonly string[];
  /** The fluke detector for unboxed uploads: a folder, `none`, or undefined for the default. */
  boxModel?: string;
  host: string;
  port: number;
  /** Host names answered besides localhost and the bound address. */
  allowedHosts?: readonly string[];
  /** The single token (one-person use, acts as an admin); none: only the catalog's users' tokens, read-only without users. */
  token?: string | null;
  maxUploadBytes: number;
  maxPixels: number;
  matcher?: MatcherKind;
  /** The `.matcher.json` of evaluate-open --matcher. */
  matcherCalibration?: string;
  precision?: Precision;
  /** Decoded-photo cache folder. */
  cacheDir?: string;
  /** Lines for the operator (model, box model, warnings). */
  onLine?: (line: string) => void;
  /** Progress of the catalog's features at start. */
  onProgress?: (done: number, total: number) => void;
}

/** A listening service. */
export interface RunningService {
  app: FastifyInstance;
  /** Where it listens (`http://127.0.0.1:8080`). */
  address: string;
  /** The catalog as shown to people: a SQLite file's absolute path, a URL without its password. */
  catalogShown: string;
  readOnly: boolean;
  /** Stops it: requests in progress finish, then the models, the queue and the catalog close. */
  stop(): Promise<void>;
}

/**
 * Starts the photo-ID service: the port checked first (loading takes minutes, a port in use a
 * moment), the catalog opened and checked writable, the job queue of a queued catalog (what its
 * database means: {@link catalogTopology}), the identifier with the catalog's features, the fluke
 * detector for unboxed uploads, then the HTTP server listening.
 *
 * @param o - what to serve and how (see {@link ServiceOptions})
 * @returns the running service
 * @throws {@link WhaleidError} for a port in use, a catalog that cannot be opened or written, a run or calibration that cannot be used
 * @example
 * const service = await startService({ catalog: 'whales.db', model: 'runs/a', host: '127.0.0.1', port: 8080, maxUploadBytes: 30e6, maxPixels: 1e8 });
 * await service.stop();
 */
export async function startService(o: ServiceOptions): Promise<RunningService> {
  await checkPortFree(o.host, o.port);
  const matcher = matcherOf(o.matcher ?? 'siamese');
  const calibration = o.matcherCalibration ? await readMatcherCalibration(o.matcherCalibration, matcher.kind) : undefined;
  // a catalog this user may only read is refused here with one line, not an internal error
  const cat = await openCatalog(o.catalog, { maxPixels: o.maxPixels, create: o.create, photoDir: o.photos }).catch((e: unknown) => {
    throw catalogWriteError(shownUrl(o.catalog), e) ?? e;
  });
  const opened: { identifier: Identifier | null; jobs: JobQueue | null; close(): Promise<void> } = { identifier: null, jobs: null, close: () => cat.close() };
  try {
    // the service writes (features, uploads, decisions): refused now, not with a 500 at each change
    await cat.checkWritable();
    return await startOver(cat, o, matcher.kind, calibration, opened);
  } catch (e) {
    await opened.identifier?.close();
    await opened.jobs?.close();
    await cat.close();
    throw e;
  }
}

/** The rest of {@link startService} over the open catalog; what it opens goes into `opened`, closed by the caller on failure. */
async function startOver(cat: Catalog, o: ServiceOptions, kind: MatcherKind, calibration: Awaited<ReturnType<typeof readMatcherCalibration>> | undefined, opened: { identifier: Identifier | null; jobs: JobQueue | null }): Promise<RunningService> {
  const line = o.onLine ?? ((): void => {});
  const topology = catalogTopology(cat, o.catalog);
  const jobs = (opened.jobs = await openCatalogJobs(cat, o.catalog, { onError: (e) => line(`job queue: ${e.message}`) }));
  let identifier: Identifier | null = null;
  if (o.model) {
    identifier = opened.identifier = await createIdentifier(cat, o.model, { moreModels: o.moreModels, cacheDir: o.cacheDir, onWarning: line, matcher: kind, precision: o.precision, calibration, queued: topology.queued, scoring: topology.scoring });
    const n = await identifier.sync(o.onProgress);
    line(`model ${identifier.modelVersion}: ${topology.queued ? 'features from the workers (whaleid worker), queries sharded over the live workers' : `${n} catalog photos' features computed${matcherOf(kind).describes.local ? ' (with their keypoints)' : ''}`}; candidates ranked by the ${kind} matcher, new-individual threshold ${identifier.threshold}`);
    if (topology.queued && identifier.scoringStats()?.workers === 0) {
      // workers say hello every second: one interval and a little more before saying none is there
      await new Promise((resolve) => setTimeout(resolve, 1200));
      if (identifier.scoringStats()?.workers === 0) line(`warning: ${NO_WORKER_WARNING}`);
    }
  }
  const boxDetector = await openFallbackDetector(o.boxModel, identifier ? identifier.trainedWithBoxes : true);
  line(boxDetector ? `fluke boxes of unboxed uploads: ${boxDetector.file}` : 'no box model: photos without a box are matched whole');
  let app: FastifyInstance;
  try {
    app = await createServer({ catalog: cat, identifier, boxDetector, jobs, token: o.token ?? null, maxUploadBytes: o.maxUploadBytes, allowedHosts: o.allowedHosts ?? [] });
  } catch (e) {
    await boxDetector?.dispose();
    throw e;
  }
  const address = await app.listen({ port: o.port, host: o.host }).catch(async (e: unknown) => {
    await app.close();
    await boxDetector?.dispose();
    throw e;
  });
  return {
    app,
    address,
    catalogShown: cat.backend === 'sqlite' ? path.resolve(o.catalog) : cat.file,
    // a catalog with users takes their tokens (whaleid users add), besides or instead of --token
    readOnly: !o.token && (await cat.countActiveUsers()) === 0,
    async stop() {
      await app.close();
      await identifier?.close();
      await boxDetector?.dispose();
      await jobs?.close();
      await cat.close();
    },
  };
}
