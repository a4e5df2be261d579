/**
 * `whaleid catalog import` of a dataset folder as a use case: the photos added to the catalog and,
 * for a PostgreSQL catalog, one feature job queued per photo added (the workers extract them), in
 * batches of 100 as the import goes, so an interrupted import leaves no added photo without its
 * job. What a PostgreSQL catalog means is asked of {@link openCatalogJobs}, the one place that
 * says it.
 */
import { openCatalog } from '../catalog/catalog.js';
import { importDataset, type ImportOptions, type ImportSummary } from '../catalog/catalog-import.js';
import { openCatalogJobs } from './job-queue.js';

/** Options of {@link importDatasetQueued}. */
export interface QueuedImportOptions extends Pick<ImportOptions, 'boxes' | 'by' | 'onMessage' | 'onProgress'> {
  /** The catalog's photo folder (needed for PostgreSQL). */
  photos?: string;
  /** A job queue's error (its connection dropped), reported and not thrown. */
  onQueueError?: (e: Error) => void;
}

/** What {@link importDatasetQueued} did. */
export interface QueuedImportSummary extends ImportSummary {
  /** The catalog as shown (a URL without its password). */
  catalog: string;
  /** Feature jobs queued for the workers; null when the catalog has no queue (SQLite). */
  jobsQueued: number | null;
}

const BATCH = 100;

/**
 * Imports a dataset folder into a catalog (created when missing), queueing the features of every
 * photo added where the catalog's workers compute them.
 *
 * @param location - the SQLite file or postgres:// URL
 * @param data - the dataset folder (Kaggle layout or one folder per individual)
 * @param o - boxes, importer's name, progress, photo folder
 * @returns the import's counts and the jobs queued
 * @throws {@link WhaleidError} for a dataset or catalog that cannot be read or written
 * @example
 * const s = await importDatasetQueued('postgres://whaleid@db/whales', 'nyala-train', { photos: '/srv/photos' });
 * s.added; s.jobsQueued; // 1936, 1936
 */
export async function importDatasetQueued(location: string, data: string, o: QueuedImportOptions = {}): Promise<QueuedImportSummary> {
  const cat = await openCatalog(location, { photoDir: o.photos });
  let queued = 0;
  try {
    const jobs = await openCatalogJobs(cat, location, { onError: o.onQueueError });
    const batch: number[] = [];
    const flush = async (): Promise<void> => {
      if (!jobs || batch.length === 0) return;
      const ids = batch.splice(0);
      await jobs.enqueueFeatures(ids);
      queued += ids.length;
    };
    try {
      const s = await importDataset(cat, data, {
        boxes: o.boxes, by: o.by, onMessage: o.onMessage, onProgress: o.onProgress,
        onAdded: jobs ? async (id) => {
          batch.push(id);
          if (batch.length >= BATCH) await flush();
        } : undefined,
      });
      await flush();
      return { ...s, catalog: cat.file, jobsQueued: jobs ? queued : null };
    } finally {
      await jobs?.close();
    }
  } finally {
    await cat.close();
  }
}
