/**
 * Upper bounds of the head's score over intervals of a gallery photo's features, for one query:
 * the table {@link CodeScanner.scan} sums. The head's logit is a sum over features f of
 *   w3_f * sum_k w2_k relu(h_k),  h_k = b1 + w1p a b + w1s (a + b) + w1d |a - b| + w1q (a - b)^2
 * (a the query's feature, b the photo's). With t = b - a this is, on each side of t = 0, a
 * quadratic in t per unit (score-kernel.ts writes the same regrouping): its range over an interval
 * is found at the interval's ends and its vertex, so relu's range too, and each unit's term is
 * bounded by its coefficient's sign. The sum of the units' bounds bounds their sum: exact for the
 * cosine and distance heads (one unit, or two that add to a product), and as wide as one bin for
 * a learned head.
 */
import type { HeadWeights } from '../model/network/head-weights.js';
import { EDGES_PER_FEATURE } from './feature-codes.js';

/** A query's bound table and what turns a sum of it into a bound of a score. */
export interface HeadBound {
  /** dim x 256: per feature and byte, an upper bound of that feature's term of the logit. */
  readonly table: Float32Array;
  /**
   * Added to a sum of the table before the sigmoid: the head's constant plus a margin for the
   * float32 rounding of the sum and of the exact kernel (so a photo's exact score never exceeds
   * its bound).
   */
  readonly offset: number;
}

/** p + q t + e t^2 at t. */
const quad = (p: number, q: number, e: number, t: number): number => p + t * (q + e * t);

/**
 * The bound of one unit's term over t in [t0, t1]: C relu(p + q t + e t^2) at its largest, found
 * at the interval's ends and the vertex (relu keeps the order; C's sign picks the end of the range).
 */
function unitBound(C: number, p: number, q: number, e: number, t0: number, t1: number): number {
  const y0 = quad(p, q, e, t0);
  const y1 = quad(p, q, e, t1);
  let y = C > 0 ? Math.max(y0, y1) : Math.min(y0, y1);
  if (e !== 0) {
    const v = -q / (2 * e);
    if (v > t0 && v < t1) y = C > 0 ? Math.max(y, quad(p, q, e, v)) : Math.min(y, quad(p, q, e, v));
  }
  return C * Math.max(0, y);
}

/**
 * The bound table of a query: for each feature and byte, the largest the feature's term of the
 * logit can be for a photo value in that byte's interval.
 *
 * @param head - the run's head
 * @param query - the query's features (length `head.features`)
 * @param edges - the gallery's bins ({@link fitEdges})
 * @param out - where the table goes (dim x 256 floats; a scanner's own table)
 * @returns the table (`out`) and the offset a sum needs
 * @example
 * const { offset } = headBound(run.inference.head, query, edges, scanner.table);
 * const bounds = scanner.scan(); // photo j's score <= sigmoid(bounds[j] + offset)
 */
export function headBound(head: HeadWeights, query: Float32Array, edges: Float64Array, out: Float32Array): HeadBound {
  const F = head.features;
  const M = head.mid;
  const w1 = head.w1;
  let sumW3 = 0;
  // what the float32 arithmetic can move a logit by: its terms' sizes, intermediates included
  let magnitude = 0;
  // per unit of one feature: C, p, q (t < 0 and t >= 0), e
  const C = new Float64Array(M);
  const P = new Float64Array(M);
  const Qn = new Float64Array(M);
  const Qp = new Float64Array(M);
  const E = new Float64Array(M);
  for (let f = 0; f < F; f++) {
    sumW3 += head.w3[f];
    const a = query[f];
    for (let k = 0; k < M; k++) {
      const wp = w1[k];
      const ws = w1[M + k];
      const wd = w1[2 * M + k];
      C[k] = head.w2[k] * head.w3[f];
      P[k] = head.b1[k] + wp * a * a + 2 * ws * a;
      Qn[k] = wp * a + ws - wd;
      Qp[k] = wp * a + ws + wd;
      E[k] = w1[3 * M + k];
    }
    let fieldMax = 0;
    const o = f * EDGES_PER_FEATURE;
    for (let c = 0; c < 256; c++) {
      // t over the byte's interval, widened by a hair: the float32 t the kernel computes may round outward
      const slack = 1e-7 * (Math.abs(edges[o + c]) + Math.abs(edges[o + c + 1]) + Math.abs(a)) + 1e-30;
      const t0 = edges[o + c] - a - slack;
      const t1 = edges[o + c + 1] - a + slack;
      const tm = Math.max(Math.abs(t0), Math.abs(t1));
      // the two sides of t = 0 (the |a - b| input's kink); an interval on one side has one piece
      let neg = Number.NEGATIVE_INFINITY;
      let pos = Number.NEGATIVE_INFINITY;
      if (t0 < 0) {
        neg = 0;
        for (let k = 0; k < M; k++) neg += unitBound(C[k], P[k], Qn[k], E[k], t0, Math.min(t1, 0));
      }
      if (t1 >= 0) {
        pos = 0;
        for (let k = 0; k < M; k++) pos += unitBound(C[k], P[k], Qp[k], E[k], Math.max(t0, 0), t1);
      }
      let size = 0;
      for (let k = 0; k < M; k++) size += Math.abs(C[k]) * (Math.abs(P[k]) + Math.max(Math.abs(Qn[k]), Math.abs(Qp[k])) * tm + Math.abs(E[k]) * tm * tm);
      const best = Math.max(neg, pos);
      out[f * 256 + c] = best;
      fieldMax = Math.max(fieldMax, size, Math.abs(best));
    }
    magnitude += fieldMax;
  }
  // float32 sums of F terms (the scan's and the kernel's) and the kernel's per-unit rounding: far
  // below 1e-4 of the terms' sizes; rounding the table to float32 moves each entry by 2^-24 of it
  const offset = head.b3 + head.b2 * sumW3 + 1e-4 * magnitude + 1e-6;
  return { table: out, offset };
}
