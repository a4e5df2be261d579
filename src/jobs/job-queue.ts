/**
 * The job queue: pg-boss on the catalog's own PostgreSQL database (its tables in their own schema,
 * no other server). Uploads and imports enqueue feature extraction; `whaleid worker` processes run
 * the jobs, several at a time and on any number of machines. A job whose worker dies (SIGKILL, a
 * lost machine) stays active until its expiry, then pg-boss's maintenance puts it back for another
 * worker; the job itself is idempotent (`feature-job.ts`), so a retry never writes twice.
 */
import pg from 'pg';
import PgBoss from 'pg-boss';
import type { FeaturesStore } from '../catalog/features-store.js';
import type { Catalog } from '../catalog/catalog.js';
import { invalidParameterError } from '../util/errors.js';

/** The queue of feature extraction jobs. */
export const FEATURE_QUEUE = 'extract-features';
/** The schema pg-boss keeps its tables in, beside the catalog's. */
export const JOB_SCHEMA = 'whaleid_jobs';
/** Default time a job may run before it is taken as dead and retried (seconds). */
export const DEFAULT_JOB_EXPIRY_S = 60;

/** The data of a feature extraction job. */
export interface FeatureJobData {
  photoId: number;
}

/** Jobs per insert statement when a whole catalog is swept. */
const IDS_PER_INSERT = 5000;

/**
 * The advisory lock key that serialises sweeps ({@link JobQueue.catchUpFeatures}): two workers
 * starting together would otherwise both see a photo without a job and both queue one.
 */
const SWEEP_LOCK = 0x7768_6964; // 'whid'

/** What one sweep of a model found and did ({@link JobQueue.catchUpFeatures}). */
export interface FeatureCatchUp {
  modelVersion: string;
  /** Photos of the catalog without this model's features. */
  missing: number;
  /** Of those, photos whose job was already queued or running. */
  waiting: number;
  /** Of those, photos whose job failed for good (left as they are: the service shows why). */
  failed: number;
  /** Jobs queued by this sweep (the rest of `missing`). */
  queued: number;
}

/**
 * The newest unfinished job of each photo, from pg-boss's job and archive tables (its documented
 * schema: state, data, output, created_on). Completed and cancelled jobs say nothing here: the
 * features are then present, or were dropped since (a new box), and a new job is queued.
 */
async function featureJobStates(boss: PgBoss, photoIds: readonly number[]): Promise<Map<number, FeatureJobState>> {
  const out = new Map<number, FeatureJobState>();
  if (photoIds.length === 0) return out;
  const sql = `SELECT DISTINCT ON (photo) photo, state, output FROM (
      SELECT (data->>'photoId')::bigint AS photo, state::text AS state, output, created_on FROM ${JOB_SCHEMA}.job WHERE name = $1 AND (data->>'photoId')::bigint = ANY($2::bigint[])
      UNION ALL
      SELECT (data->>'photoId')::bigint AS photo, state::text AS state, output, created_on FROM ${JOB_SCHEMA}.archive WHERE name = $1 AND (data->>'photoId')::bigint = ANY($2::bigint[])
    ) jobs ORDER BY photo, created_on DESC`;
  const { rows } = (await boss.getDb().executeSql(sql, [FEATURE_QUEUE, photoIds])) as { rows: { photo: string; state: string; output: unknown }[] };
  for (const r of rows) {
    if (r.state === 'failed') out.set(Number(r.photo), { state: 'failed', reason: failureReason(r.output) });
    else if (r.state !== 'completed' && r.state !== 'cancelled') out.set(Number(r.photo), { state: 'waiting' });
  }
  return out;
}

/**
 * Runs `f` holding the sweep lock: a session advisory lock on a connection of its own (pg-boss's
 * pool may run each statement on another one), released when `f` ends. The jobs `f` inserts are
 * committed before the lock goes, so the next sweep sees them.
 */
async function underSweepLock<T>(url: string, f: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'whaleid-jobs-sweep' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [SWEEP_LOCK]);
    try {
      return await f();
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [SWEEP_LOCK]);
    }
  } finally {
    await client.end();
  }
}

/** Options of {@link openJobQueue}. */
export interface JobQueueOptions {
  /**
   * Run pg-boss's maintenance here (expire jobs of dead workers, archive finished ones): workers
   * do, services only send. Default false.
   */
  supervise?: boolean;
  /** How often maintenance runs (seconds, >= 1); default 5. */
  maintenanceIntervalSeconds?: number;
  /** Sets the queue's job expiry (seconds, >= 1): jobs sent afterwards are retried this long after their worker went silent. */
  expireInSeconds?: number;
  /** Retries of a job that failed or expired; default 5. */
  retryLimit?: number;
  /** Where pg-boss's errors go (a lost connection is retried by pg-boss). */
  onError?: (err: Error) => void;
}

/**
 * Where the feature job of a photo whose features are missing stands: `waiting` (queued, running,
 * or failed with retries left), or `failed` for good, with the last attempt's reason.
 */
export interface FeatureJobState {
  readonly state: 'waiting' | 'failed';
  /** The last attempt's error (failed jobs). */
  readonly reason?: string;
}

/** An open job queue. */
export interface JobQueue {
  /** pg-boss itself, for the worker loop and checks. */
  readonly boss: PgBoss;
  /** Enqueues feature extraction for photos (one job each, in one statement). */
  enqueueFeatures(photoIds: readonly number[]): Promise<string[]>;
  /**
   * The state of the newest feature job of each photo that has one (queued, running, retried or
   * failed; finished jobs are left out), archived jobs included.
   */
  featureJobStates(photoIds: readonly number[]): Promise<Map<number, FeatureJobState>>;
  /**
   * Enqueues a job for each photo of the catalog without features of a model and without a job
   * waiting or failed for good: the photos of a catalog that was copied or filled in bulk, which no
   * upload enqueued, and every photo when a worker set starts with a model the catalog has no
   * features of yet. Sweeps are serialised by an advisory lock on the database, so workers
   * sweeping at once queue each photo once.
   *
   * @returns the counts: photos missing the model's features, already waiting, failed, queued now
   */
  catchUpFeatures(catalog: Pick<FeaturesStore, 'photosWithoutFeatures'>, modelVersion: string): Promise<FeatureCatchUp>;
  /**
   * {@link JobQueue.catchUpFeatures}, counting only the jobs queued.
   *
   * @returns how many photos were enqueued
   */
  enqueueMissingFeatures(catalog: Pick<FeaturesStore, 'photosWithoutFeatures'>, modelVersion: string): Promise<number>;
  close(): Promise<void>;
}

/** The reason stored with a failed job (pg-boss keeps the thrown error, serialised). */
function failureReason(output: unknown): string {
  if (output && typeof output === 'object' && 'message' in output && typeof output.message === 'string') return output.message.split('\n')[0];
  return 'no reason recorded';
}

/** What a catalog's database means for where features are extracted and queries scored. */
export interface CatalogTopology {
  /** Features come from the job queue's workers (`whaleid worker`), never extracted in the service or the import. */
  queued: boolean;
  /** Queries are sharded over the live workers through the database's LISTEN/NOTIFY; null: scored in the service. */
  scoring: { url: string } | null;
}

/**
 * The one place that decides what a catalog's database means for the topology: a PostgreSQL
 * catalog (shared by services and workers on several machines) has its features extracted by the
 * workers from its job queue, and its queries sharded over them; a SQLite catalog (one machine)
 * does both in the service.
 *
 * @param catalog - the open catalog
 * @param url - where it was opened (the queue and the scoring messages use the same database)
 * @returns queued features and sharded scoring, or neither
 * @example
 * const { queued, scoring } = catalogTopology(cat, 'postgres://db/whales');
 */
export function catalogTopology(catalog: Pick<Catalog, 'backend'>, url: string): CatalogTopology {
  const postgres = catalog.backend === 'postgres';
  return { queued: postgres, scoring: postgres ? { url } : null };
}

/**
 * The job queue of a queued catalog ({@link catalogTopology}), or null for one whose features are
 * extracted where they are needed.
 *
 * @param catalog - the open catalog
 * @param url - where it was opened
 * @param o - see {@link openJobQueue}
 * @returns the queue (the caller closes it), or null
 * @example
 * const jobs = await openCatalogJobs(cat, file, { onError: (e) => console.error(e.message) });
 * if (jobs) await jobs.enqueueFeatures([photoId]);
 */
export async function openCatalogJobs(catalog: Pick<Catalog, 'backend'>, url: string, o: JobQueueOptions = {}): Promise<JobQueue | null> {
  return catalogTopology(catalog, url).queued ? openJobQueue(url, o) : null;
}

/**
 * Opens the queue on a PostgreSQL database, creating pg-boss's schema and the feature queue when
 * missing.
 *
 * @param url - `postgres://...` of the catalog
 * @param o - maintenance (workers), expiry and retries
 * @returns the queue
 * @throws {@link WhaleidError} for an expiry or retry count out of range; pg's error when the
 *   database cannot be reached
 * @example
 * const queue = await openJobQueue('postgres://localhost/whales');
 * await queue.enqueueFeatures([42]);
 */
export async function openJobQueue(url: string, o: JobQueueOptions = {}): Promise<JobQueue> {
  if (o.expireInSeconds !== undefined && !(Number.isSafeInteger(o.expireInSeconds) && o.expireInSeconds >= 1 && o.expireInSeconds < 86_400)) throw invalidParameterError('job expiry', 'whole seconds from 1 to 86399', o.expireInSeconds);
  const retryLimit = o.retryLimit ?? 5;
  if (!Number.isSafeInteger(retryLimit) || retryLimit < 0) throw invalidParameterError('retryLimit', 'a whole number >= 0', retryLimit);
  const boss = new PgBoss({
    connectionString: url,
    schema: JOB_SCHEMA,
    application_name: 'whaleid-jobs',
    max: 4,
    supervise: o.supervise ?? false,
    schedule: false,
    maintenanceIntervalSeconds: o.maintenanceIntervalSeconds ?? 5,
  });
  boss.on('error', (e) => o.onError?.(e));
  await boss.start();
  const queue = { name: FEATURE_QUEUE, policy: 'standard' as const, retryLimit, retryDelay: 1, ...(o.expireInSeconds ? { expireInSeconds: o.expireInSeconds } : {}) };
  if (!(await boss.getQueue(FEATURE_QUEUE))) {
    try {
      await boss.createQueue(FEATURE_QUEUE, { expireInSeconds: DEFAULT_JOB_EXPIRY_S, ...queue });
    } catch (e) {
      // another process created it at the same moment
      if (!(await boss.getQueue(FEATURE_QUEUE))) throw e;
    }
  }
  if (o.expireInSeconds) await boss.updateQueue(FEATURE_QUEUE, queue);
  const enqueueFeatures = async (photoIds: readonly number[]): Promise<string[]> => {
    if (photoIds.length === 0) return [];
    const ids = photoIds.map(() => crypto.randomUUID());
    await boss.insert(photoIds.map((photoId, i) => ({ id: ids[i], name: FEATURE_QUEUE, data: { photoId } satisfies FeatureJobData })));
    return ids;
  };
  const catchUp = (catalog: Pick<FeaturesStore, 'photosWithoutFeatures'>, modelVersion: string): Promise<FeatureCatchUp> => underSweepLock(url, async () => {
    const missing = await catalog.photosWithoutFeatures(modelVersion);
    const states = await featureJobStates(boss, missing);
    // a job that finished between the two reads wrote its features first: read again, or its
    // photo would look like one without features and without a job
    const still = new Set(await catalog.photosWithoutFeatures(modelVersion));
    const fresh = missing.filter((id) => !states.has(id) && still.has(id));
    for (let i = 0; i < fresh.length; i += IDS_PER_INSERT) await enqueueFeatures(fresh.slice(i, i + IDS_PER_INSERT));
    const failed = [...states.values()].filter((st) => st.state === 'failed').length;
    return { modelVersion, missing: missing.length, waiting: states.size - failed, failed, queued: fresh.length };
  });
  return {
    boss,
    enqueueFeatures,
    featureJobStates: (photoIds) => featureJobStates(boss, photoIds),
    catchUpFeatures: (catalog, modelVersion) => catchUp(catalog, modelVersion),
    enqueueMissingFeatures: async (catalog, modelVersion) => (await catchUp(catalog, modelVersion)).queued,
    async close() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    },
  };
}
