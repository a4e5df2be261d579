/**
 * A catalog's labelled photos for calibration: the photos whose individual a person set (a
 * confirm or new-individual decision still in force: undone decisions count for nothing, and the
 * individual is the photo's current one, so merges are followed), optionally those that came with
 * their individual in an import. Written out as a Kaggle-layout dataset (train/, train.csv,
 * bounding_boxes.csv) so the calibrations that read a labelled dataset (the open-set protocol of
 * `evaluate-open`, its seeded split included) run on them unchanged.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { MAX_LIMIT } from '../catalog/catalog-db.js';
import type { DecisionRecord, PhotoRecord } from '../catalog/catalog-types.js';
import { writeCsvFile } from '../data/csv-file.js';
import { writeBoxes } from '../image/boxes.js';
import type { Box } from '../image/affine.js';

/** What a labelled set is read through. */
export type LabelCatalog = Pick<Catalog, 'listPhotos' | 'annotations' | 'decisions' | 'photoFile'>;

/** A photo of the labelled set. */
export interface CatalogLabel {
  photo: PhotoRecord;
  /** Its individual now (merges followed). */
  individualId: number;
  /** Who set it: a person's decision, or the import it came with. */
  by: 'decision' | 'import';
}

/** The labelled set of a catalog, and what was left out. */
export interface CatalogLabels {
  labels: CatalogLabel[];
  /** Distinct individuals among `labels`. */
  individuals: number;
  /** Identified photos left out: their individual came from an import (without `imports`). */
  importsLeftOut: number;
}

/** Options of {@link catalogLabels}. */
export interface CatalogLabelOptions {
  /** Also the photos whose individual came with their import (default false: a person's decisions only). */
  imports?: boolean;
}

/** The decisions still in force, oldest first: neither undos nor undone. */
function inForce(history: readonly DecisionRecord[]): DecisionRecord[] {
  const undone = new Set(history.filter((d) => d.action === 'undo').map((d) => d.undoes));
  return history.filter((d) => d.action !== 'undo' && !undone.has(d.id));
}

/**
 * Where a photo's individual came from: the last decision in force about its first annotation
 * (the photo itself; decisions about its further annotations leave the photo's individual alone).
 */
async function labelSource(catalog: LabelCatalog, photo: PhotoRecord): Promise<DecisionRecord['action'] | null> {
  const [first] = await catalog.annotations(photo.id);
  const history = (await catalog.decisions({ photoId: photo.id, limit: MAX_LIMIT })).filter((d) => d.annotationId === first?.id).reverse();
  return inForce(history).at(-1)?.action ?? null;
}

/**
 * The photos of a catalog whose individual a person set (and, with `imports`, those imported
 * with one), in photo order.
 *
 * @param catalog - an open catalog
 * @param o - whether imported individuals count
 * @returns the photos with their individual and its source, and the imports left out
 * @example
 * const { labels, individuals } = await catalogLabels(cat); // a reviewer's confirm and new-individual decisions
 */
export async function catalogLabels(catalog: LabelCatalog, o: CatalogLabelOptions = {}): Promise<CatalogLabels> {
  const labels: CatalogLabel[] = [];
  let importsLeftOut = 0;
  for (let offset = 0; ; offset += MAX_LIMIT) {
    const page = await catalog.listPhotos({ status: 'identified', limit: MAX_LIMIT, offset });
    for (const photo of page.items) {
      if (photo.individualId === null) continue;
      const action = await labelSource(catalog, photo);
      if (action === 'confirm' || action === 'new-individual') labels.push({ photo, individualId: photo.individualId, by: 'decision' });
      else if (action === 'import' && o.imports) labels.push({ photo, individualId: photo.individualId, by: 'import' });
      else if (action === 'import') importsLeftOut++;
    }
    if (page.items.length < MAX_LIMIT) break;
  }
  return { labels, individuals: new Set(labels.map((l) => l.individualId)).size, importsLeftOut };
}

/** The name an individual has in a written labelled set (its catalog id: names may change). */
export const labelName = (individualId: number): string => `individual-${individualId}`;

/**
 * Writes a labelled set as a Kaggle-layout dataset in a new private folder: `train/<photo
 * id>.<format>` (hard links to the catalog's photo files where the disk allows, else copies),
 * `train.csv` (Image, Id) and `bounding_boxes.csv` for the boxed photos. A box's rotation is not
 * carried (the boxes file has no column for it): such photos are cut upright.
 *
 * @param catalog - where the photo files are
 * @param labels - the labelled photos
 * @returns the folder (the caller removes it) and how many boxes were turned
 * @example
 * const { dir } = await writeLabelledDataset(cat, (await catalogLabels(cat)).labels);
 */
export async function writeLabelledDataset(catalog: Pick<Catalog, 'photoFile'>, labels: readonly CatalogLabel[]): Promise<{ dir: string; turnedBoxes: number }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'whaleid-catalog-labels-'));
  await fs.mkdir(path.join(dir, 'train'));
  const rows: string[][] = [];
  const boxes = new Map<string, Box>();
  let turnedBoxes = 0;
  for (const { photo, individualId } of labels) {
    const image = `${photo.id}.${photo.format}`;
    const to = path.join(dir, 'train', image);
    await fs.link(catalog.photoFile(photo), to).catch(() => fs.copyFile(catalog.photoFile(photo), to));
    rows.push([image, labelName(individualId)]);
    if (photo.box) {
      boxes.set(image, photo.box);
      if (photo.box.theta) turnedBoxes++;
    }
  }
  await writeCsvFile(path.join(dir, 'train.csv'), ['Image', 'Id'], rows);
  if (boxes.size > 0) await writeBoxes(path.join(dir, 'bounding_boxes.csv'), boxes);
  return { dir, turnedBoxes };
}
