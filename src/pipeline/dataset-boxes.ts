/**
 * The fluke box of every photo of a dataset, written as a boxes CSV, scored against true boxes
 * when given, and drawn on a contact sheet: what `whaleid boxes predict` does.
 */
import path from 'node:path';
import { loadUsableDataset, datasetPhotos } from '../data/dataset.js';
import { boxImageCache, openBoxDetector, predictBoxes } from '../boxes/box-predict.js';
import { shippedBoxModelDir } from '../boxes/box-spec.js';
import { summariseIou, type IouSummary } from '../boxes/iou.js';
import { readBoxes, writeBoxes } from '../image/boxes.js';
import { renderContactSheet } from '../image/preview.js';
import type { PipelineReport } from './pipeline-report.js';

/** Options of {@link writeDatasetBoxes}. */
export interface DatasetBoxesOptions {
  /** Dataset or folder of photos. */
  data: string;
  /** Boxes CSV to write. */
  out: string;
  /** Box model folder or `.onnx` file; default the shipped one. */
  model?: string;
  /** True boxes to score the predictions against. */
  truth?: string;
  /** Contact sheet to draw (PNG), of the first `limit` photos. */
  sheet?: string;
  limit?: number;
  /** ONNX Runtime threads. */
  threads?: number;
  cacheDir?: string;
}

/** What {@link writeDatasetBoxes} did. */
export interface DatasetBoxes {
  boxes: number;
  seconds: number;
  /** Unreadable photos (each reported as a detail). */
  failures: number;
  /** The predictions against the true boxes, when given. */
  iou: IouSummary | null;
  /** Photos drawn on the sheet, when one was asked for. */
  sheetPhotos: number | null;
}

/**
 * Predicts, writes and (optionally) scores and draws the boxes of a dataset's photos.
 *
 * @param o - see {@link DatasetBoxesOptions}
 * @param report - progress of the prediction; unreadable photos and sheet problems as details
 * @returns counts, duration, IoU summary
 * @throws {@link WhaleidError} for an unusable dataset, box model or truth file
 * @example
 * const r = await writeDatasetBoxes({ data: 'photos', out: 'boxes.csv', sheet: 'boxes.png' }, report);
 */
export async function writeDatasetBoxes(o: DatasetBoxesOptions, report: PipelineReport): Promise<DatasetBoxes> {
  const ds = await loadUsableDataset(o.data, (l) => report.detail(l));
  const photos = datasetPhotos(ds);
  const truth = o.truth ? await readBoxes(o.truth) : null;
  const detector = await openBoxDetector(o.model ?? shippedBoxModelDir(), { threads: o.threads });
  const cache = boxImageCache(detector, o.cacheDir);
  const t0 = Date.now();
  const res = await predictBoxes(detector, photos, { cache, onProgress: report.progress('boxes') }).finally(() => detector.dispose());
  for (const f of res.failures) report.detail(`error: ${f}`);
  await writeBoxes(o.out, res.boxes);
  const seconds = (Date.now() - t0) / 1000;
  // Truth CSVs use dataset names or file names (Kaggle box files): compare under the name they use.
  const truthName = (image: string): string => (truth?.has(image) ? image : path.basename(image));
  let iou: IouSummary | null = null;
  if (truth) {
    const named = new Map([...res.boxes].map(([image, b]) => [truthName(image), b]));
    iou = summariseIou(named, new Map([...truth].filter(([k]) => named.has(k))));
  }
  let sheetPhotos: number | null = null;
  if (o.sheet) {
    const items = photos.slice(0, o.limit ?? 40).flatMap((p) => {
      const box = res.boxes.get(p.image);
      if (!box) return [];
      const t = truth?.get(truthName(p.image));
      const v = iou?.perPhoto.get(truthName(p.image));
      return [{ label: p.key, file: p.file, box, others: t ? [{ box: t, colour: '#ff00ff' }] : [], note: v === undefined ? undefined : `IoU ${v.toFixed(2)}` }];
    });
    const problems = await renderContactSheet(cache, items, o.sheet, { augment: 0, size: 128 });
    for (const p of problems) report.detail(`error: ${p}`);
    sheetPhotos = items.length - problems.length;
  }
  return { boxes: res.boxes.size, seconds, failures: res.failures.length, iou, sheetPhotos };
}
