/**
 * The job queue: pg-boss on the catalog's own PostgreSQL database (its tables in their own schema,
 * no other server). Uploads and imports enqueue feature extraction; `whaleid worker` processes run
 * the jobs, several at a time and on any number of machines. A job whose worker dies (SIGKILL, a
 * lost machine) stays active until its expiry, then pg-boss's maintenance puts it back for another
 * worker; the job itself is idempotent (`feature-job.ts`), so a retry never writes twice.
 */
import PgBoss from 'pg-boss';
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

/** An open job queue. */
export interface JobQueue {
  /** pg-boss itself, for the worker loop and checks. */
  readonly boss: PgBoss;
  /** Enqueues feature extraction for photos (one job each, in one statement). */
  enqueueFeatures(photoIds: readonly number[]): Promise<string[]>;
  close(): Promise<void>;
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
  return {
    boss,
    async enqueueFeatures(photoIds) {
      if (photoIds.length === 0) return [];
      const ids = photoIds.map(() => crypto.randomUUID());
      await boss.insert(photoIds.map((photoId, i) => ({ id: ids[i], name: FEATURE_QUEUE, data: { photoId } satisfies FeatureJobData })));
      return ids;
    },
    async close() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    },
  };
}
