/**
 * The Jonker-Volgenant (LAPJV, 1987) phases for a dense square cost matrix. Internal: callers go
 * through `solveLap` in `lap.ts`, which validates the input and guarantees that every cell is
 * finite and that n >= 2 here.
 *
 * The phases follow the published algorithm (column reduction, reduction transfer, augmenting row
 * reduction, shortest augmenting path), with changes for speed in JavaScript and for floating
 * point robustness:
 * - every hot loop reads one matrix row as a Float64Array (a zero-copy view of a Float64Array
 *   input, or a float32 row widened into a scratch buffer), so V8 compiles each loop for a single
 *   element type whichever input type the process has seen;
 * - column minima are found with a row-major sweep (sequential memory instead of strided);
 * - augmenting row reduction only takes the "lower the price and re-bid" branch when the price
 *   really drops (a subtraction lost to rounding next to a huge cost would otherwise cycle), and
 *   stops after a bounded number of bids (a zero-epsilon auction can "price war" for very long,
 *   and ties can shuffle rows without progress); rows it leaves free are simply augmented by the
 *   exact shortest-path phase, which is cheaper than a long price war on random matrices;
 * - the shortest-path phase relaxes and finds the next minimum in one sequential sweep over all
 *   columns, masking scanned columns (price -Infinity, distance +Infinity) instead of keeping an
 *   index list, and prefers a free column among equal minima so ties end the search early.
 */

/** A row-major n*n cost matrix. */
export type CostMatrix = Float32Array | Float64Array;

/** Tuning of {@link lapjvSolve}. Tests vary them to check each phase on its own. */
export interface LapjvOptions {
  /** Augmenting row reduction passes before the exact phase (default 2, as in the original). */
  arrPasses?: number;
  /** Bids allowed per augmenting row reduction pass, as a multiple of n (default 4). */
  arrBidFactor?: number;
}

/** Row i of the matrix as float64; valid until the next call. */
type RowOf = (i: number) => Float64Array;

/**
 * Solves the assignment problem in place.
 *
 * @param c - row-major n*n costs, all finite
 * @param n - matrix size, at least 2
 * @param rowsol - output: column of each row (length n)
 * @param colsol - output: row of each column (length n)
 * @param options - see {@link LapjvOptions}
 * @example
 * lapjvSolve(new Float64Array([4, 1, 2, 3]), 2, rowsol, colsol); // rowsol = [1, 0]
 */
export function lapjvSolve(
  c: CostMatrix,
  n: number,
  rowsol: Int32Array,
  colsol: Int32Array,
  options: LapjvOptions = {},
): void {
  const { arrPasses = 2, arrBidFactor = 4 } = options;
  const rowOf = rowReader(c, n);
  const v = new Float64Array(n);
  const free = new Int32Array(n);
  let numfree = columnReduction(rowOf, n, v, rowsol, colsol, free);
  for (let pass = 0; pass < arrPasses && numfree > 0; pass++) {
    numfree = augmentingRowReduction(rowOf, n, v, rowsol, colsol, free, numfree, arrBidFactor * n);
  }
  if (numfree > 0) augment(rowOf, n, v, rowsol, colsol, free, numfree);
}

function rowReader(c: CostMatrix, n: number): RowOf {
  if (c instanceof Float64Array) return (i) => c.subarray(i * n, i * n + n);
  const scratch = new Float64Array(n);
  return (i) => {
    scratch.set(c.subarray(i * n, i * n + n));
    return scratch;
  };
}

/**
 * Column reduction and reduction transfer: v[j] = min_i c[i][j], each row that holds exactly one
 * column minimum keeps that column, and its price is lowered so the row is indifferent between it
 * and its next best column. Returns the number of free rows, listed in `free`.
 */
function columnReduction(
  rowOf: RowOf,
  n: number,
  v: Float64Array,
  rowsol: Int32Array,
  colsol: Int32Array,
  free: Int32Array,
): number {
  const imin = new Int32Array(n);
  v.set(rowOf(0));
  for (let i = 1; i < n; i++) {
    const row = rowOf(i);
    for (let j = 0; j < n; j++) {
      const x = row[j];
      if (x < v[j]) {
        v[j] = x;
        imin[j] = i;
      }
    }
  }
  rowsol.fill(-1);
  const matches = new Int32Array(n);
  // Columns in reverse order, as in the original, so the first column wins among equals.
  for (let j = n - 1; j >= 0; j--) {
    const i = imin[j];
    if (++matches[i] === 1) {
      rowsol[i] = j;
      colsol[j] = i;
    } else if (v[j] < v[rowsol[i]]) {
      const j1 = rowsol[i];
      rowsol[i] = j;
      colsol[j] = i;
      colsol[j1] = -1;
    } else {
      colsol[j] = -1;
    }
  }
  let numfree = 0;
  for (let i = 0; i < n; i++) {
    if (matches[i] === 0) {
      free[numfree++] = i;
    } else if (matches[i] === 1) {
      const j1 = rowsol[i];
      const row = rowOf(i);
      let min = Infinity;
      for (let j = 0; j < n; j++) {
        if (j === j1) continue;
        const h = row[j] - v[j];
        if (h < min) min = h;
      }
      v[j1] -= min;
    }
  }
  return numfree;
}

/**
 * Augmenting row reduction: each free row bids for its best column, lowering that column's price
 * so the row is indifferent to its second best; the row it displaces bids next. Returns the new
 * number of free rows.
 */
function augmentingRowReduction(
  rowOf: RowOf,
  n: number,
  v: Float64Array,
  rowsol: Int32Array,
  colsol: Int32Array,
  free: Int32Array,
  prvnumfree: number,
  maxBids: number,
): number {
  let numfree = 0;
  let k = 0;
  let bids = 0;
  let sinceProgress = 0;
  while (k < prvnumfree) {
    // Stop when over budget, or after n bids in a row that only moved rows around (ties can
    // shuffle the same few columns forever, e.g. an all-equal matrix).
    if (++bids > maxBids || ++sinceProgress > n) {
      // Hand the rest to the exact phase; numfree <= k always, so a forward copy is safe.
      while (k < prvnumfree) free[numfree++] = free[k++];
      break;
    }
    const i = free[k++];
    const row = rowOf(i);
    let umin = row[0] - v[0];
    let j1 = 0;
    let usubmin = Infinity;
    let j2 = 0;
    for (let j = 1; j < n; j++) {
      const h = row[j] - v[j];
      if (h < usubmin) {
        if (h >= umin) {
          usubmin = h;
          j2 = j;
        } else {
          usubmin = umin;
          umin = h;
          j2 = j1;
          j1 = j;
        }
      }
    }
    let i0 = colsol[j1];
    const lowered = v[j1] - (usubmin - umin);
    const drops = lowered < v[j1];
    if (drops) {
      v[j1] = lowered;
    } else if (i0 >= 0) {
      // Tie with the second best: take that column instead and leave the first one's owner alone.
      j1 = j2;
      i0 = colsol[j2];
    }
    rowsol[i] = j1;
    colsol[j1] = i;
    if (i0 < 0) sinceProgress = 0;
    if (i0 >= 0) {
      rowsol[i0] = -1;
      // After a real price drop the displaced row bids at once (the original's "k--").
      if (drops) free[--k] = i0;
      else free[numfree++] = i0;
    }
  }
  return numfree;
}

/**
 * Shortest augmenting path phase: for every free row, Dijkstra on the reduced costs
 * c[i][j] - v[j] until a free column is reached, then prices of the scanned columns are raised by
 * their distance deficit (keeping reduced costs non-negative) and the path is flipped.
 */
function augment(
  rowOf: RowOf,
  n: number,
  v: Float64Array,
  rowsol: Int32Array,
  colsol: Int32Array,
  free: Int32Array,
  numfree: number,
): void {
  const d = new Float64Array(n);
  const pred = new Int32Array(n);
  const scanned = new Int32Array(n);
  const scannedD = new Float64Array(n);
  const scannedV = new Float64Array(n);
  for (let f = 0; f < numfree; f++) {
    const freerow = free[f];
    const frow = rowOf(freerow);
    let lowest = Infinity;
    let jmin = 0;
    for (let j = 0; j < n; j++) {
      const x = frow[j] - v[j];
      d[j] = x;
      pred[j] = freerow;
      if (x < lowest || (x === lowest && colsol[j] < 0)) {
        lowest = x;
        jmin = j;
      }
    }
    let ns = 0;
    while (colsol[jmin] >= 0) {
      // Scan the closest column: reach the others through the row that owns it.
      const j1 = jmin;
      const min = lowest;
      const i = colsol[j1];
      const row = rowOf(i);
      const h = row[j1] - v[j1] - min;
      scanned[ns] = j1;
      scannedD[ns] = min;
      scannedV[ns++] = v[j1];
      // Mask: x below becomes +Infinity for this column, and it can no longer be the minimum.
      v[j1] = -Infinity;
      d[j1] = Infinity;
      lowest = Infinity;
      for (let j = 0; j < n; j++) {
        const x = row[j] - v[j] - h;
        let dj = d[j];
        if (x < dj) {
          dj = x;
          d[j] = x;
          pred[j] = i;
        }
        if (dj < lowest || (dj === lowest && colsol[j] < 0)) {
          lowest = dj;
          jmin = j;
        }
      }
    }
    // Unmask the scanned columns, with prices raised so reduced costs stay non-negative.
    for (let k = 0; k < ns; k++) v[scanned[k]] = scannedV[k] + scannedD[k] - lowest;
    // Flip the alternating path back to the free row.
    let endofpath = jmin;
    for (;;) {
      const i = pred[endofpath];
      colsol[endofpath] = i;
      const j = endofpath;
      endofpath = rowsol[i];
      rowsol[i] = j;
      if (i === freerow) break;
    }
  }
}
