/**
 * `whaleid catalog import` of a dataset folder (or, `--format coco|wildbook`, of an exchange file) as a use case: the photos added to the catalog and,
 * for a PostgreSQL catalog, one feature job queued per photo added (the workers extract them), in
 * batches of 100 as the import goes, so an interrupted import leaves no added photo without its
 * job (`feature-batches.ts`). What a PostgreSQL catalog means is asked of {@link openCatalogJobs}, the one place that
 * says it.
 */
import { openCatalog } from '../catalog/catalog.js';
import { importDataset, type ImportOptions, type ImportSummary } from '../catalog/catalog-import.js';
import { importExchange, type ExchangeImportOptions, type ExchangeImportSummary } from '../catalog/catalog-exchange-import.js';
import type { ExchangeRead } from '../data/formats/exchange.js';
import type { DataIssue } from '../data/issues.js';
import { featureBatches } from './feature-batches.js';
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
  try {
    const jobs = await openCatalogJobs(cat, location, { onError: o.onQueueError });
    const batches = featureBatches(jobs);
    try {
      const s = await importDataset(cat, data, { boxes: o.boxes, by: o.by, onMessage: o.onMessage, onProgress: o.onProgress, onAdded: batches.onAdded });
      await batches.flush();
      return { ...s, catalog: cat.file, jobsQueued: batches.queued };
    } finally {
      await jobs?.close();
    }
  } finally {
    await cat.close();
  }
}

/** What {@link importExchangeQueued} did: the issues, and the counts when it imported. */
export interface QueuedExchangeImport {
  /** Every problem found (errors: nothing was written), and warnings. */
  issues: DataIssue[];
  /** The counts; null when the issues refused the file. */
  summary: ExchangeImportSummary | null;
  /** The catalog as shown (a URL without its password). */
  catalog: string;
  /** Feature jobs queued for the workers; null when the catalog has no queue (SQLite). */
  jobsQueued: number | null;
}

/**
 * Imports what a COCO or Wildbook file holds into a catalog (created when missing), all or
 * nothing as {@link importExchange} says, queueing the features of every photo added where the
 * catalog's workers compute them (in batches, as {@link importDatasetQueued}).
 *
 * @param location - the SQLite file or postgres:// URL
 * @param read - what the format's reader found
 * @param o - media folder, importer, progress, photo folder, queue errors
 * @returns the issues, the counts (null: refused) and the jobs queued
 * @throws {@link WhaleidError} for a catalog that cannot be opened or a disk failing mid-import
 * @example
 * const r = await importExchangeQueued('whales.db', readCoco(text, 'annotations.json'), { media: 'images', by: 'ann' });
 * if (!r.summary) reportIssues(r.issues, console.error);
 */
export async function importExchangeQueued(location: string, read: ExchangeRead, o: ExchangeImportOptions & Pick<QueuedImportOptions, 'photos' | 'onQueueError'>): Promise<QueuedExchangeImport> {
  const cat = await openCatalog(location, { photoDir: o.photos });
  try {
    const jobs = await openCatalogJobs(cat, location, { onError: o.onQueueError });
    const batches = featureBatches(jobs);
    try {
      const r = await importExchange(cat, read, { media: o.media, by: o.by, onCheck: o.onCheck, onProgress: o.onProgress, onAdded: batches.onAdded });
      await batches.flush();
      return { ...r, catalog: cat.file, jobsQueued: batches.queued };
    } finally {
      await jobs?.close();
    }
  } finally {
    await cat.close();
  }
}
