import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { spreadsheetSafe } from '../util/spreadsheet-cell.js';
import { openCatalog, type Catalog } from './catalog.js';
import { isPostgresUrl } from './catalog-db.js';
import { WhaleidError } from '../util/errors.js';

/** Columns of {@link catalogCsv}: Kaggle's `Image,Id` first, then the photo's details. */
export const EXPORT_COLUMNS = ['Image', 'Id', 'PhotoId', 'OriginalName', 'Status', 'x0', 'y0', 'x1', 'y1', 'BoxSource', 'TakenOn', 'Location', 'UploadedBy', 'UploadedAt'] as const;

/** Box corners in pixels to 2 decimals (detector boxes carry 14, which say nothing more); empty without a box. */
function boxCells(box: { x0: number; y0: number; x1: number; y1: number } | null | undefined): (number | null)[] {
  return box ? [box.x0, box.y0, box.x1, box.y1].map((v) => Math.round(v * 100) / 100) : [null, null, null, null];
}

/**
 * The catalog as CSV, one row per photo: `Image` is the stored file name (`<sha256>.<ext>`, as in
 * the photo folder), `Id` the individual's name (empty while unidentified), so the first two
 * columns read like Kaggle's train.csv; the others give the name the photo came with
 * (`OriginalName`), status, box (pixels, 2 decimals), date, location and uploader.
 * Text cells that a spreadsheet would run as a formula are neutralised ({@link spreadsheetSafe}).
 *
 * @param catalog - an open catalog
 * @returns the CSV text with a header line
 * @example
 * await writeFileAtomic('catalog.csv', await catalogCsv(await openCatalog('whales.db', { readonly: true })));
 */
export async function catalogCsv(catalog: Catalog): Promise<string> {
  const rows: (string | number | null)[][] = [];
  const names = new Map<number, string>();
  for (let offset = 0; ; offset += 1000) {
    const page = await catalog.listPhotos({ limit: 1000, offset });
    for (const p of page.items) {
      let name = '';
      if (p.individualId !== null) {
        if (!names.has(p.individualId)) names.set(p.individualId, (await catalog.individual(p.individualId)).name);
        name = names.get(p.individualId)!;
      }
      rows.push([`${p.sha256}.${p.format === 'jpeg' ? 'jpg' : p.format === 'tiff' ? 'tif' : p.format}`, name, p.id, p.originalName, p.status, ...boxCells(p.box), p.boxSource, p.takenOn, p.location, p.uploadedBy, p.uploadedAt]);
    }
    if (page.items.length < 1000) break;
  }
  return stringify(rows.map((row) => row.map(spreadsheetSafe)), { header: true, columns: [...EXPORT_COLUMNS] });
}

/** SQLite's answers to a read-only open that needs to write its shared-memory file beside the catalog. */
const NEEDS_FOLDER = new Set(['SQLITE_READONLY_DIRECTORY', 'SQLITE_CANTOPEN', 'SQLITE_READONLY_CANTINIT', 'SQLITE_READONLY']);

const cannotRead = (location: string, code: string): WhaleidError => new WhaleidError(`${location}: this user cannot read the catalog (${code}); export it as a user who may read its file`);

/**
 * A private temporary folder for the copy of a catalog in a read-only folder; a temporary folder
 * this user may not write is one line naming it (it was "internal error: EACCES ... mkdtemp").
 */
function temporaryFolder(location: string): string {
  try {
    return mkdtempSync(path.join(tmpdir(), 'whaleid-read-'));
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') throw e;
    throw new WhaleidError(`${location}: its folder is read-only, so the catalog is read from a copy, and the temporary folder ${tmpdir()} cannot take one (${code}); set TMPDIR to a folder this user may write`);
  }
}

/**
 * Opens a catalog to read it (an export), even from a folder this user cannot write: SQLite
 * reads a WAL-mode database through a shared-memory file it creates beside it, which failed there
 * with "attempt to write a readonly database" (and `catalog export` said "internal error"). Then
 * the database file (and its WAL, if any) is copied to a private temporary folder and read there.
 *
 * @param location - the SQLite file or PostgreSQL URL
 * @param photoDir - the photo folder, if given
 * @returns the open catalog, and `close`, which also removes a temporary copy
 * @throws {@link WhaleidError} as {@link openCatalog}; the open's own error when the copy cannot help
 * @example
 * const { catalog, close } = await openCatalogToRead('/mnt/ro/whales.db');
 * try { console.log(await catalogCsv(catalog)); } finally { await close(); }
 */
export async function openCatalogToRead(location: string, photoDir?: string): Promise<{ catalog: Catalog; close(): Promise<void> }> {
  try {
    const catalog = await openCatalog(location, { readonly: true, photoDir });
    return { catalog, close: () => catalog.close() };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'EACCES' || code === 'EPERM') throw cannotRead(location, code);
    if (isPostgresUrl(location) || typeof code !== 'string' || !NEEDS_FOLDER.has(code) || !existsSync(location)) throw e;
    const dir = temporaryFolder(location);
    const copy = path.join(dir, path.basename(location));
    try {
      copyFileSync(location, copy);
      if (existsSync(`${location}-wal`)) copyFileSync(`${location}-wal`, `${copy}-wal`);
      const catalog = await openCatalog(copy, { readonly: true, photoDir: photoDir ?? `${location}.photos` });
      return { catalog, close: async () => { await catalog.close(); rmSync(dir, { recursive: true, force: true }); } };
    } catch (copyError) {
      rmSync(dir, { recursive: true, force: true });
      const copyCode = (copyError as { code?: unknown }).code;
      if (copyCode === 'EACCES' || copyCode === 'EPERM') throw cannotRead(location, copyCode);
      throw copyError;
    }
  }
}
