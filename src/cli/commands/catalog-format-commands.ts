import { existsSync, promises as fs, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WhaleidError } from '../../util/errors.js';
import { createPassProgress } from '../../util/progress.js';
import type { CliIo } from '../io.js';

/**
 * `whaleid catalog import --format coco|wildbook` and `catalog export --format
 * coco|wildbook-csv|wildbook-xlsx|dwca`: the catalog in and out of the field's exchange formats
 * (src/data/formats), beside the Kaggle import and the CSV export.
 */

/** Formats `catalog import` reads. */
export const IMPORT_FORMATS = ['kaggle', 'coco', 'wildbook'] as const;
/** Formats `catalog export` writes. */
export const EXPORT_FORMATS = ['csv', 'coco', 'wildbook-csv', 'wildbook-xlsx', 'dwca'] as const;

/**
 * The photo folder of an import file: the one given, else `images/` beside the file when there
 * is one (Wildbook's COCO export ships `annotations.json` and `images/`), else the file's folder.
 *
 * @param file - the COCO or spreadsheet file
 * @param given - `--media`, if given
 * @returns the folder
 * @example
 * mediaFolderOf('export/annotations.json', undefined); // 'export/images' when it exists
 */
export function mediaFolderOf(file: string, given: string | undefined): string {
  if (given) return given;
  const images = path.join(path.dirname(file), 'images');
  return existsSync(images) && statSync(images).isDirectory() ? images : path.dirname(file);
}

/**
 * Imports a COCO file (or Wildbook's .tar.gz of it) or a Wildbook spreadsheet (.csv or .xlsx) into a catalog: every problem of
 * the file and its photos reported first (file, row or JSON path, column, why), and then nothing
 * written (exit 1); else the photos with their annotations.
 *
 * @param io - where output goes
 * @param o - the catalog, its photo folder, the format, the file, the media folder, the importer
 * @example
 * await importFormatFile(io, { catalog: 'whales.db', format: 'coco', data: 'export/annotations.json', by: 'ann', quiet: false });
 */
export async function importFormatFile(io: CliIo, o: { catalog: string; photos?: string; format: 'coco' | 'wildbook'; data: string; media?: string; by: string; quiet: boolean }): Promise<void> {
  if (o.format !== 'coco' || !/\.(tar\.gz|tgz)$/i.test(o.data)) return importFile(io, o);
  const { dir, json } = await unpackCocoArchive(o.data);
  try {
    await importFile(io, { ...o, data: json, media: o.media ?? mediaFolderOf(json, undefined) });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Unpacks a COCO export shipped as .tar.gz (Wildbook's: `annotations.json` and `images/`) into a
 * private temporary folder.
 *
 * @param file - the archive
 * @returns the folder (the caller removes it) and the JSON file in it
 * @throws {@link WhaleidError} when it is not such an archive
 */
async function unpackCocoArchive(file: string): Promise<{ dir: string; json: string }> {
  const { readTarGz } = await import('../../data/formats/tar-file.js');
  const { unsafeMediaName } = await import('../../data/formats/exchange.js');
  let files: Map<string, Buffer>;
  try {
    files = readTarGz(await fs.readFile(file));
  } catch (e) {
    throw new WhaleidError(`--data ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not a COCO export in a .tar.gz (${(e as Error).message})`}`);
  }
  const jsons = [...files.keys()].filter((n) => n.endsWith('.json')).sort((a, b) => a.split('/').length - b.split('/').length);
  if (jsons.length === 0) throw new WhaleidError(`--data ${file}: the archive holds no .json file (expected annotations.json and images/)`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'whaleid-coco-'));
  for (const [name, bytes] of files) {
    if (unsafeMediaName(name) !== null) continue; // a path that would leave the folder is not unpacked
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), bytes);
  }
  return { dir, json: path.join(dir, jsons.find((n) => path.basename(n) === 'annotations.json') ?? jsons[0]) };
}

async function importFile(io: CliIo, o: { catalog: string; photos?: string; format: 'coco' | 'wildbook'; data: string; media?: string; by: string; quiet: boolean }): Promise<void> {
  const { readCoco } = await import('../../data/formats/coco.js');
  const { readWildbookCsv, readWildbookXlsx } = await import('../../data/formats/wildbook-files.js');
  const { reportIssues } = await import('../../data/issues.js');
  const bytes = await fs.readFile(o.data).catch((e: NodeJS.ErrnoException) => {
    throw new WhaleidError(`--data ${o.data}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? `a folder; --format ${o.format} reads a file (${o.format === 'coco' ? 'annotations.json' : 'the .csv or .xlsx sheet'})` : e.message}`);
  });
  const read = o.format === 'coco' ? readCoco(bytes.toString('utf8'), o.data)
    : /\.xlsx$/i.test(o.data) ? await readWildbookXlsx(bytes, o.data) : readWildbookCsv(bytes.toString('utf8'), o.data);
  const media = mediaFolderOf(o.data, o.media);
  const { checkExchange } = await import('../../catalog/catalog-exchange-import.js');
  const { isPostgresUrl } = await import('../../catalog/catalog-db.js');
  const refuse = (issues: import('../../data/issues.js').DataIssue[]): void => {
    reportIssues(issues, (l) => io.err(l));
    const n = issues.filter((i) => i.severity !== 'warning').length;
    io.err(`${o.data}: nothing imported: ${n} problem${n === 1 ? '' : 's'} to fix first (photos from ${media})`);
    io.setExitCode(1);
  };
  if (!isPostgresUrl(o.catalog) && !existsSync(o.catalog)) {
    // a new catalog is created only for a file that imports: a bad file leaves no empty catalog behind
    const issues = read.issues.some((i) => i.severity === 'fatal') ? read.issues : [...read.issues, ...await checkExchange({ maxPixels: 100_000_000, storedUuids: async () => ({ photos: new Map(), individuals: new Map() }), photo: async () => { throw new WhaleidError('a new catalog has no photos'); } }, read.photos, { media })];
    if (issues.some((i) => i.severity !== 'warning')) return refuse(issues);
  }
  const { importExchangeQueued } = await import('../../jobs/catalog-import-queued.js');
  const show = io.progress && !o.quiet;
  const r = await importExchangeQueued(o.catalog, read, {
    media, by: o.by, photos: o.photos, onCheck: createPassProgress('check', show), onProgress: createPassProgress('import', show),
    onQueueError: (e) => io.err(`job queue: ${e.message}`),
  });
  if (!r.summary) return refuse(r.issues);
  reportIssues(r.issues, (l) => io.err(l));
  const s = r.summary;
  io.out(`${r.catalog}: ${s.added} photos added with ${s.annotations} annotations, ${s.duplicates} already there, ${s.newIndividuals} new individuals (photos from ${media})${r.jobsQueued !== null ? `; their features are extracted by whaleid worker (${r.jobsQueued} jobs queued)` : ''}`);
}

/**
 * Exports a catalog as COCO (Wildbook's export layout), a Wildbook bulk-import sheet (.csv or
 * .xlsx) or a Darwin Core Archive, written to a temporary file and renamed; with `images`, the
 * photos are copied there under the names the file gives them.
 *
 * @param io - where output goes
 * @param o - the catalog, its photo folder, the format, the output, the images folder, eml.xml's fields
 * @example
 * await exportFormatFile(io, { catalog: 'whales.db', format: 'coco', out: 'export/annotations.json', images: 'export/images', license: 'CC-BY-4.0', quiet: false });
 */
export async function exportFormatFile(io: CliIo, o: { catalog: string; photos?: string; format: Exclude<(typeof EXPORT_FORMATS)[number], 'csv'>; out: string; images?: string; title?: string; creator?: string; license: string; quiet: boolean }): Promise<void> {
  const { openCatalogToRead } = await import('../../catalog/catalog-export.js');
  const { catalogExchange, writeExchangePhotos } = await import('../../catalog/catalog-exchange-export.js');
  const { writeFileAtomic } = await import('../../util/atomic-file.js');
  const { shownUrl } = await import('../../catalog/catalog-db.js');
  const { catalog: cat, close } = await openCatalogToRead(o.catalog, o.photos);
  try {
    const exchange = await catalogExchange(cat);
    const name = `whaleid catalog ${path.basename(shownUrl(o.catalog))}`;
    let data: string | Buffer;
    if (o.format === 'coco') data = (await import('../../data/formats/coco.js')).cocoText(exchange.photos, name);
    else if (o.format === 'wildbook-csv') data = (await import('../../data/formats/wildbook-files.js')).wildbookCsvText(exchange.photos);
    else if (o.format === 'wildbook-xlsx') data = await (await import('../../data/formats/wildbook-files.js')).wildbookXlsx(exchange.photos);
    else data = (await import('../../data/formats/dwca.js')).dwcaArchive(exchange.photos, { title: o.title ?? name, creator: o.creator ?? 'whaleid', license: o.license });
    const copied = o.images ? await writeExchangePhotos(exchange, o.images, false, createPassProgress('photos', io.progress && !o.quiet)) : 0;
    await writeFileAtomic(o.out, data).catch((e: NodeJS.ErrnoException) => {
      if (['EACCES', 'EROFS', 'EPERM', 'ENOENT'].includes(e.code ?? '')) throw new WhaleidError(`--out ${o.out}: cannot write there (${e.code}); give a file in a folder you can write`);
      throw e;
    });
    const annotations = exchange.photos.reduce((n, p) => n + p.annotations.length, 0);
    io.out(`wrote ${exchange.photos.length} photos (${annotations} annotations) of ${shownUrl(o.catalog)} to ${o.out} as ${o.format}${o.images ? `; ${copied} photo files written to ${o.images} (the others were there)` : ''}`);
  } finally {
    await close();
  }
}
