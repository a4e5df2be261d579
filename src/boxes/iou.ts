import type { Box } from '../image/affine.js';

/**
 * Area of a box (0 for an empty or inverted one). Coordinates are continuous: a box from x0 to x1
 * is x1 - x0 wide, the convention of the public Kaggle box files that IoU figures are quoted in.
 *
 * @param b - the box
 * @returns its area, >= 0
 * @example
 * boxArea({ x0: 0, y0: 0, x1: 4, y1: 2 }); // 8
 */
export function boxArea(b: Box): number {
  return Math.max(0, b.x1 - b.x0) * Math.max(0, b.y1 - b.y0);
}

/**
 * Intersection over union of two boxes: 1 for the same box, 0 for disjoint ones (and for two
 * empty boxes, which cover nothing).
 *
 * @param a - first box
 * @param b - second box
 * @returns IoU in [0, 1]
 * @example
 * iou({ x0: 0, y0: 0, x1: 2, y1: 2 }, { x0: 1, y0: 0, x1: 3, y1: 2 }); // 1/3
 */
export function iou(a: Box, b: Box): number {
  const inter = boxArea({ x0: Math.max(a.x0, b.x0), y0: Math.max(a.y0, b.y0), x1: Math.min(a.x1, b.x1), y1: Math.min(a.y1, b.y1) });
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** Mean IoU of predicted boxes against true ones, over the photos both have. */
export interface IouSummary {
  /** Mean IoU over the photos compared (NaN when none). */
  mean: number;
  /** Median IoU (NaN when none). */
  median: number;
  /** Share of photos with IoU >= 0.5 and >= 0.75. */
  atLeast50: number;
  atLeast75: number;
  /** Photos compared. */
  count: number;
  /** Photos with a true box but no prediction. */
  missing: number;
  /** Per-photo IoU, by name, in the order of the true boxes. */
  perPhoto: Map<string, number>;
}

/**
 * Compares predicted boxes with true ones, photo by photo (names must match exactly).
 *
 * @param predicted - image name -> predicted box
 * @param truth - image name -> true box
 * @returns mean, median, shares above 0.5 / 0.75, and the per-photo values
 * @example
 * summariseIou(await readBoxes('pred.csv'), await readBoxes('truth.csv')).mean;
 */
export function summariseIou(predicted: ReadonlyMap<string, Box>, truth: ReadonlyMap<string, Box>): IouSummary {
  const perPhoto = new Map<string, number>();
  let missing = 0;
  for (const [name, t] of truth) {
    const p = predicted.get(name);
    if (p === undefined) missing++;
    else perPhoto.set(name, iou(p, t));
  }
  const values = [...perPhoto.values()];
  const n = values.length;
  const sorted = [...values].sort((a, b) => a - b);
  const median = n === 0 ? NaN : n % 2 ? sorted[(n - 1) / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  return {
    mean: n === 0 ? NaN : values.reduce((s, v) => s + v, 0) / n,
    median,
    atLeast50: n === 0 ? NaN : values.filter((v) => v >= 0.5).length / n,
    atLeast75: n === 0 ? NaN : values.filter((v) => v >= 0.75).length / n,
    count: n,
    missing,
    perPhoto,
  };
}

/**
 * One line for people: `mean IoU 0.873 (median 0.901, 95% >= 0.5, 71% >= 0.75; 120 photos)`.
 *
 * @param s - a summary from {@link summariseIou}
 * @returns the line
 */
export function formatIou(s: IouSummary): string {
  const pct = (x: number): string => `${Math.round(100 * x)}%`;
  const miss = s.missing ? `, ${s.missing} without a prediction` : '';
  if (s.count === 0) return `no photo with both a true and a predicted box${miss}`;
  return `mean IoU ${s.mean.toFixed(3)} (median ${s.median.toFixed(3)}, ${pct(s.atLeast50)} >= 0.5, ${pct(s.atLeast75)} >= 0.75; ${s.count} photos${miss})`;
}
