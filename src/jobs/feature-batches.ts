/**
 * Feature jobs queued in batches as an import adds photos: one insert per 100 photos instead of
 * one per photo, and never more than a batch of added photos without its job should the import be
 * interrupted. Shared by every import that fills a queued catalog (the Kaggle folder import and
 * the exchange formats).
 */
import type { JobQueue } from './job-queue.js';

/** Photos per insert. */
export const FEATURE_BATCH = 100;

/** The batches of one import. */
export interface FeatureBatches {
  /** The import's `onAdded` hook: undefined when the catalog has no queue (nothing to batch). */
  readonly onAdded: ((photoId: number) => Promise<void>) | undefined;
  /** Queues what is left in the last batch (call once the import ends, also after a refusal). */
  flush(): Promise<void>;
  /** Jobs queued so far; null when the catalog has no queue. */
  readonly queued: number | null;
}

/**
 * Batches the feature jobs of the photos an import adds.
 *
 * @param jobs - the catalog's job queue, or null for a catalog without one (SQLite)
 * @param size - photos per insert (default {@link FEATURE_BATCH})
 * @returns the import's hook, the final flush and the count
 * @example
 * const batches = featureBatches(await openCatalogJobs(cat, url));
 * await importDataset(cat, data, { onAdded: batches.onAdded });
 * await batches.flush();
 * batches.queued; // 1936
 */
export function featureBatches(jobs: Pick<JobQueue, 'enqueueFeatures'> | null, size = FEATURE_BATCH): FeatureBatches {
  const batch: number[] = [];
  let queued = 0;
  const flush = async (): Promise<void> => {
    if (!jobs || batch.length === 0) return;
    const ids = batch.splice(0);
    await jobs.enqueueFeatures(ids);
    queued += ids.length;
  };
  return {
    onAdded: jobs ? async (photoId) => {
      batch.push(photoId);
      if (batch.length >= size) await flush();
    } : undefined,
    flush,
    get queued() {
      return jobs ? queued : null;
    },
  };
}
