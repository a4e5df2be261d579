/**
 * Fixtures of the catalog copy and backup fault tests: small catalogs, a photo file that holds a
 * reader (a named pipe) so a copy can be caught at a known moment, and the check that a catalog
 * is complete (every row readable, every photo file there with its SHA-256).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, promises as fs, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { openCatalog } from '../../src/catalog/catalog.js';
import { scenePhoto } from './photos.js';

/**
 * A catalog of `n` photos (seeds from `seed`), two individuals and a decision per identified photo.
 *
 * @param location - SQLite file or postgres:// URL (an empty database)
 * @param photoDir - its photo folder
 * @param seed - first photo seed: catalogs of other seeds share no photo
 * @param n - photos
 * @param width - of each photo (height 2/3 of it): 240 px about 9 kB, 1200 px about 65 kB
 * @returns the photo files, in id order
 */
export async function smallCatalog(location: string, photoDir: string, seed: number, n = 4, width = 240): Promise<string[]> {
  const cat = await openCatalog(location, { photoDir });
  try {
    const a = await cat.createIndividual(`A${seed}`, '', 'ann');
    const b = await cat.createIndividual(`B${seed}`, 'notes', 'ann');
    const files: string[] = [];
    for (let i = 0; i < n; i++) {
      const { photo } = await cat.addPhoto(await scenePhoto(seed + i, width, Math.round((width * 2) / 3)), { originalName: `p${i}.jpg`, individualId: i % 3 === 2 ? undefined : i % 2 ? a.id : b.id });
      files.push(cat.photoFile(photo));
    }
    return files;
  } finally {
    await cat.close();
  }
}

/** What a catalog holds, read through the catalog, with every photo file checked. */
export interface CatalogContents {
  individuals: string[];
  /** Each photo's SHA-256 and individual's name. */
  photos: string[];
  decisions: number;
}

/**
 * Opens a catalog read-only and reads what it holds; fails when its integrity check fails or a
 * photo file is missing or differs from its SHA-256. Equal contents of source and target mean a
 * complete copy.
 *
 * @param location - SQLite file or postgres:// URL
 * @param photoDir - its photo folder
 * @returns the contents
 */
export async function checkedContents(location: string, photoDir: string): Promise<CatalogContents> {
  const cat = await openCatalog(location, { readonly: true, photoDir });
  try {
    if ((await cat.integrityCheck()) !== 'ok') throw new Error(`${location}: integrity check failed`);
    const names = new Map<number, string>();
    for (const i of (await cat.listIndividuals({ limit: 1000 })).items) names.set(i.id, i.name ?? '');
    const photos: string[] = [];
    for (const p of (await cat.listPhotos({ limit: 1000 })).items) {
      const sha = createHash('sha256').update(readFileSync(cat.photoFile(p))).digest('hex');
      if (sha !== p.sha256) throw new Error(`${cat.photoFile(p)}: SHA-256 ${sha}, not ${p.sha256}`);
      photos.push(`${p.sha256} ${p.individualId === null ? '-' : names.get(p.individualId)}`);
    }
    return { individuals: [...names.values()].sort(), photos: photos.sort(), decisions: (await cat.decisions({ limit: 1000 })).length };
  } finally {
    await cat.close();
  }
}

/** A photo file replaced by a named pipe: whoever reads it waits until {@link PausedPhoto.release}. */
export interface PausedPhoto {
  /** Resolves once a reader has opened the file (the copy is at this photo now). */
  readonly reached: Promise<void>;
  /** Gives the reader the photo's bytes. */
  release(): Promise<void>;
  /** Puts the photo file back as it was (after a kill, or when no reader came). */
  restore(): Promise<void>;
}

/**
 * Makes a photo file a named pipe holding its bytes back, so a command reading the catalog's
 * photos in id order stops at this one, every earlier photo done, until the test releases or
 * kills it.
 *
 * @param file - the photo file
 * @returns the pause
 */
export function pausePhoto(file: string): PausedPhoto {
  const bytes = readFileSync(file);
  rmSync(file);
  execFileSync('mkfifo', [file]);
  // the writer's end opened without blocking (ENXIO until a reader has the pipe open), polled:
  // a blocking open would hold one of libuv's four threads for as long as no reader comes
  let stopped = false;
  const writer = (async (): Promise<fs.FileHandle | null> => {
    for (;;) {
      if (stopped) return null;
      try {
        return await fs.open(file, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (e) {
        if ((e as { code?: string }).code !== 'ENXIO') throw e;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  })();
  return {
    // never, when restored before a reader came
    reached: writer.then((h) => (h ? undefined : new Promise<void>(() => {}))),
    async release() {
      const h = (await writer)!;
      await h.writeFile(bytes); // within the pipe's 64 kB buffer: the small test photos
      await h.close();
    },
    async restore() {
      stopped = true;
      await (await writer)?.close().catch(() => {});
      rmSync(file);
      writeFileSync(file, bytes);
    },
  };
}
