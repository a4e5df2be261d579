/**
 * `generateSynthCatalog`: writes a synthetic fluke catalog in exactly the Kaggle 2019 layout
 * (train/, test/, train.csv, sample_submission.csv) plus ground truth for tests
 * (test_truth.csv, bounding_boxes.csv, duplicates.csv, rotate.txt).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { stringify } from 'csv-stringify/sync';
import { createRng } from '../../util/random.js';
import { invalidParameterError, WhaleidError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { drawIndividual, type Individual } from './individual.js';
import { drawPhotoScene } from './photo-scene.js';
import { renderPhoto, type RenderedPhoto } from './render.js';
import { planCatalog, type PlannedPhoto } from './plan.js';

/** Options of {@link generateSynthCatalog}. */
export interface SynthOptions {
  /** Output folder: created; an earlier synth output there is replaced; any other content is refused. */
  out: string;
  /** Number of distinct whales drawn. */
  individuals: number;
  /** Mean photos per individual (default 3); skewed: many whales 1-3 photos, a few many. */
  photosPerIndividual?: number;
  /** Default 0. */
  seed?: number;
  /** Share of test photos that are new individuals (default 0.3). */
  newShare?: number;
  /** Parallel renders (default 2). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** What {@link generateSynthCatalog} wrote. */
export interface SynthSummary {
  trainPhotos: number;
  testPhotos: number;
  individuals: number;
  /** Share of test photos whose truth is `new_whale`. */
  newWhaleTestShare: number;
  seconds: number;
}

type Box = [number, number, number, number];

function validate(o: SynthOptions): Required<Omit<SynthOptions, 'onProgress'>> {
  if (typeof o !== 'object' || o === null) throw invalidParameterError('synth options', 'an object', o);
  if (typeof o.out !== 'string' || o.out.trim() === '') throw invalidParameterError('out', 'a folder path', o.out);
  const intIn = (name: string, v: unknown, lo: number, hi: number): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) throw invalidParameterError(name, `an integer between ${lo} and ${hi}`, v);
    return v;
  };
  const numIn = (name: string, v: unknown, lo: number, hi: number): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) throw invalidParameterError(name, `a number between ${lo} and ${hi}`, v);
    return v;
  };
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalidParameterError('onProgress', 'a function', o.onProgress);
  return {
    out: o.out,
    individuals: intIn('individuals', o.individuals, 1, 1_000_000),
    photosPerIndividual: numIn('photosPerIndividual', o.photosPerIndividual ?? 3, 1, 100),
    seed: intIn('seed', o.seed ?? 0, 0, 0xffffffff),
    newShare: numIn('newShare', o.newShare ?? 0.3, 0, 1),
    concurrency: intIn('concurrency', o.concurrency ?? 2, 1, 64),
  };
}

/** Hidden file that marks a folder as written by this generator, so a rerun may replace it. */
export const SYNTH_MARKER = '.whaleid-synth';
const OUTPUT_FILES = ['train.csv', 'test_truth.csv', 'sample_submission.csv', 'bounding_boxes.csv', 'duplicates.csv', 'rotate.txt'];

/**
 * Prepares the output folder. An absent or empty folder is created; a folder this generator
 * wrote before (it holds the marker file), finished or interrupted, is cleared of the catalog's
 * files and reused; anything else is refused, so a real dataset is never overwritten.
 */
async function prepareFolder(out: string): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await fs.readdir(out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (entries.length > 0) {
    if (!entries.includes(SYNTH_MARKER)) {
      throw new WhaleidError(`Output folder ${out} is not empty and was not written by whaleid synth: choose a new or empty folder`);
    }
    for (const e of entries) {
      if (e === 'train' || e === 'test' || OUTPUT_FILES.includes(e) || e.endsWith('.tmp')) await fs.rm(path.join(out, e), { recursive: true, force: true });
    }
  }
  await fs.mkdir(path.join(out, 'train'), { recursive: true });
  await fs.mkdir(path.join(out, 'test'), { recursive: true });
  await writeFileAtomic(path.join(out, SYNTH_MARKER), 'written by whaleid synth; a rerun may replace this folder\n');
}

/** Runs `work` on every index with at most `limit` in flight; results keep their index. */
async function pool(count: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, runner));
}

function csv(rows: Array<Array<string | number>>): string {
  return stringify(rows);
}

/**
 * Generates a synthetic humpback fluke catalog: photos rendered from seeded individuals (see
 * photo-scene.ts for what a photo looks like, plan.ts for the split rule), written in the Kaggle
 * 2019 layout with ground truth beside it. Every file goes through temp + rename, and the same
 * options give byte-identical files.
 *
 * Files: `train/*.jpg`, `test/*.jpg`, `train.csv` (Image,Id), `sample_submission.csv` (Image,Id;
 * `new_whale` + the 4 most frequent train ids, like Kaggle's), `test_truth.csv` (Image,Id),
 * `bounding_boxes.csv` (Image,x0,y0,x1,y1: inclusive pixel box of the fluke above the water, in
 * the saved photo), `duplicates.csv` (Image,DuplicateOf) and `rotate.txt` (photos saved upside
 * down). Rows are sorted by image name. A hidden marker file lets a rerun replace the folder.
 *
 * @param options - see {@link SynthOptions}
 * @returns a {@link SynthSummary}
 * @throws {@link WhaleidError} for invalid options, or an output folder that holds anything but an
 * earlier synth catalog (marked by the hidden file {@link SYNTH_MARKER})
 * @example
 * const summary = await generateSynthCatalog({ out: 'synth', individuals: 300, seed: 1 });
 * console.log(`${summary.trainPhotos} train, ${summary.testPhotos} test in ${summary.seconds} s`);
 */
export async function generateSynthCatalog(options: SynthOptions): Promise<SynthSummary> {
  const began = Date.now();
  const o = validate(options);
  await prepareFolder(o.out);
  const plan = planCatalog(o.individuals, o.photosPerIndividual, o.newShare, o.seed);
  const root = createRng(o.seed);
  const whales = new Map<number, Individual>();
  const whale = (i: number): Individual => {
    let w = whales.get(i);
    if (!w) {
      w = drawIndividual(`${o.seed}:whale:${i}`, plan.ids[i]);
      whales.set(i, w);
    }
    return w;
  };
  const copied = new Set(plan.photos.filter((p) => p.duplicateOf).map((p) => p.duplicateOf as string));
  const kept = new Map<string, RenderedPhoto>();
  const boxes = new Map<string, Box>();
  const total = plan.photos.length;
  let done = 0;
  const tick = (): void => {
    done++;
    options.onProgress?.(done, total);
  };
  const fileOf = (p: PlannedPhoto): string => path.join(o.out, p.set, p.name);

  const base = plan.photos.filter((p) => p.duplicateOf === undefined);
  await pool(base.length, o.concurrency, async (k) => {
    const p = base[k];
    const scene = drawPhotoScene(whale(p.individual), root.fork(`photo:${p.individual}:${p.shot}`));
    const photo = await renderPhoto(scene, { upsideDown: p.upsideDown });
    await writeFileAtomic(fileOf(p), photo.jpeg);
    boxes.set(p.name, photo.box);
    if (copied.has(p.name)) kept.set(p.name, photo);
    tick();
  });
  const dups = plan.photos.filter((p) => p.duplicateOf !== undefined);
  await pool(dups.length, o.concurrency, async (k) => {
    const p = dups[k];
    const src = kept.get(p.duplicateOf as string);
    if (!src) throw new Error(`synth: duplicate source ${p.duplicateOf} was not kept`);
    const f = p.resize ?? 1;
    if (f === 1) {
      await writeFileAtomic(fileOf(p), src.jpeg);
      boxes.set(p.name, src.box);
    } else {
      const w = Math.max(16, Math.round(src.width * f));
      const h = Math.max(16, Math.round(src.height * f));
      const quality = 70 + createRng(`${o.seed}:${p.name}`).int(26);
      let resized = sharp(src.jpeg).resize(w, h, { fit: 'fill' });
      if (src.greyscale) resized = resized.toColourspace('b-w');
      const jpeg = await resized.jpeg({ quality }).toBuffer();
      await writeFileAtomic(fileOf(p), jpeg);
      const sx = w / src.width;
      const sy = h / src.height;
      boxes.set(p.name, [Math.floor(src.box[0] * sx), Math.floor(src.box[1] * sy), Math.min(w - 1, Math.ceil(src.box[2] * sx)), Math.min(h - 1, Math.ceil(src.box[3] * sy))]);
    }
    tick();
  });

  const sorted = [...plan.photos].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const train = sorted.filter((p) => p.set === 'train');
  const test = sorted.filter((p) => p.set === 'test');
  const freq = new Map<string, number>();
  for (const p of train) if (p.label !== 'new_whale') freq.set(p.label, (freq.get(p.label) ?? 0) + 1);
  const top = [...freq.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 4).map((e) => e[0]);
  const placeholder = ['new_whale', ...top].join(' ');
  await writeFileAtomic(path.join(o.out, 'train.csv'), csv([['Image', 'Id'], ...train.map((p) => [p.name, p.label])]));
  await writeFileAtomic(path.join(o.out, 'test_truth.csv'), csv([['Image', 'Id'], ...test.map((p) => [p.name, p.label])]));
  await writeFileAtomic(path.join(o.out, 'sample_submission.csv'), csv([['Image', 'Id'], ...test.map((p) => [p.name, placeholder])]));
  await writeFileAtomic(path.join(o.out, 'bounding_boxes.csv'), csv([['Image', 'x0', 'y0', 'x1', 'y1'], ...sorted.map((p) => [p.name, ...(boxes.get(p.name) as Box)])]));
  await writeFileAtomic(path.join(o.out, 'duplicates.csv'), csv([['Image', 'DuplicateOf'], ...sorted.filter((p) => p.duplicateOf).map((p) => [p.name, p.duplicateOf as string])]));
  await writeFileAtomic(path.join(o.out, 'rotate.txt'), sorted.filter((p) => p.upsideDown).map((p) => `${p.name}\n`).join(''));
  const newInTest = test.filter((p) => p.label === 'new_whale').length;
  return {
    trainPhotos: train.length,
    testPhotos: test.length,
    individuals: o.individuals,
    newWhaleTestShare: test.length === 0 ? 0 : newInTest / test.length,
    seconds: (Date.now() - began) / 1000,
  };
}
