import path from 'node:path';
import { inject } from 'vitest';
import { openCatalog, type Catalog, type CatalogOptions } from '../../src/catalog/catalog.js';
import { createPostgresDatabase } from './postgres-server.js';

/** A database a catalog test runs on. */
export interface TestBackend {
  name: 'sqlite' | 'postgres';
  /** Why the backend's tests are skipped here ('' when they run). */
  skip: string;
  /**
   * A new, empty catalog location: a SQLite file in `dir`, or a new PostgreSQL database of the
   * test server; with the photo folder it is opened with.
   */
  location(dir: string, name: string): Promise<{ catalog: string; photoDir: string }>;
}

const serverUrl = inject('postgresUrl');

/**
 * A new database on the test server (one per call), dropped never: the server goes at the end.
 *
 * @param name - a readable part of its name
 * @returns its URL
 */
export async function newPostgresDatabase(name: string): Promise<string> {
  if (!serverUrl) throw new Error(inject('postgresMissing'));
  const db = `t_${name.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 30)}_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
  return createPostgresDatabase(serverUrl, db);
}

/** SQLite, and PostgreSQL when the test server runs (test/helpers/postgres-server.ts). */
export const BACKENDS: readonly TestBackend[] = [
  { name: 'sqlite', skip: '', location: async (dir, name) => ({ catalog: path.join(dir, `${name}.db`), photoDir: path.join(dir, `${name}.db.photos`) }) },
  {
    name: 'postgres',
    skip: serverUrl ? '' : inject('postgresMissing'),
    location: async (dir, name) => ({ catalog: await newPostgresDatabase(name), photoDir: path.join(dir, `${name}.pg.photos`) }),
  },
];

/**
 * The describe title of a backend's variant: its name, and why it is skipped here.
 *
 * @param title - the suite's title
 * @param b - the backend
 * @returns e.g. `catalog (postgres)` or `catalog (postgres: skipped, PostgreSQL is not installed ...)`
 */
export function onBackend(title: string, b: TestBackend): string {
  return b.skip ? `${title} (${b.name}: skipped, ${b.skip})` : `${title} (${b.name})`;
}

/**
 * Opens a new catalog on a backend (the test closes it).
 *
 * @param backend - where
 * @param dir - the test's folder (the SQLite file and photo folders)
 * @param name - the catalog's name in it
 * @param options - as {@link openCatalog}
 * @returns the open catalog
 */
export async function openTestCatalog(backend: TestBackend, dir: string, name: string, options: CatalogOptions = {}): Promise<Catalog> {
  const where = await backend.location(dir, name);
  return openCatalog(where.catalog, { photoDir: where.photoDir, ...options });
}
