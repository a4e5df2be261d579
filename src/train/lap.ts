/**
 * Dense linear assignment: pick one cell in every row and column of a square cost matrix so the
 * sum is smallest. Training uses it to mine hard non-matching pairs (cost = -(S + K*U), same-whale
 * cells forbidden), on matrices of several thousand rows, so the solver (Jonker-Volgenant, see
 * `lap-jv.ts`) works on the caller's typed array directly and allocates only O(n) besides.
 */
import { WhaleidError, invalidParameterError } from '../util/errors.js';
import { lapjvSolve, type CostMatrix } from './lap-jv.js';

export type { CostMatrix } from './lap-jv.js';

/** An optimal assignment. */
export interface LapSolution {
  /** Column chosen for each row. */
  rowToCol: Int32Array;
  /** Row chosen for each column (the inverse permutation). */
  colToRow: Int32Array;
  /** Sum of the chosen cells, in float64, from the caller's matrix. */
  cost: number;
}

/**
 * Solves the square linear assignment problem (minimum total cost) with LAPJV.
 *
 * Costs may be negative, tied, or huge. Forbid a cell either with a large finite value (e.g. 1e9:
 * the solver simply avoids it whenever it can, and uses it if it must) or with `Infinity` (the
 * cell is never used; the call throws when no permutation avoids every Infinity cell). Infinity
 * costs one float64 copy of the matrix, where Infinity becomes a finite penalty larger than any
 * possible difference of finite sums; mixing Infinity with finite costs near 1e9 therefore loses
 * resolution (about 1e-3 at n = 10,000), so prefer finite "huge" values there.
 *
 * @param cost - row-major n*n costs (`cost[i * n + j]` = cost of row i taking column j); not modified
 * @param n - number of rows (= columns), a non-negative integer
 * @returns the assignment as both permutations and its total cost (0 for n = 0)
 * @throws {@link WhaleidError} when `n` is not a non-negative integer, `cost.length !== n * n`, a
 *   cell is NaN or -Infinity, or Infinity cells leave no feasible permutation
 * @example
 * const { rowToCol, cost } = solveLap(new Float64Array([4, 1, 3, 2, 0, 5, 3, 2, 2]), 3);
 * // rowToCol = [1, 0, 2], cost = 5
 */
export function solveLap(cost: CostMatrix, n: number): LapSolution {
  if (!Number.isSafeInteger(n) || n < 0) throw invalidParameterError('n', 'a non-negative integer', n);
  if (!(cost instanceof Float64Array || cost instanceof Float32Array)) {
    throw invalidParameterError('cost', 'a Float32Array or Float64Array', Object.prototype.toString.call(cost));
  }
  if (cost.length !== n * n) {
    throw invalidParameterError('cost.length', `n * n = ${n * n} for n = ${n}`, cost.length);
  }
  const rowToCol = new Int32Array(n);
  const colToRow = new Int32Array(n);
  const hasInfinity = scanCosts(cost, n);
  if (n === 0) return { rowToCol, colToRow, cost: 0 };
  if (n === 1) {
    if (hasInfinity) throw infeasibleError();
    return { rowToCol, colToRow, cost: cost[0] };
  }
  lapjvSolve(hasInfinity ? finitePenaltyCopy(cost, n) : cost, n, rowToCol, colToRow);
  let total = 0;
  for (let i = 0; i < n; i++) total += cost[i * n + rowToCol[i]];
  if (total === Infinity) throw infeasibleError();
  return { rowToCol, colToRow, cost: total };
}

/** Rejects NaN and -Infinity (naming the cell); returns whether any cell is +Infinity. */
function scanCosts(cost: CostMatrix, n: number): boolean {
  let hasInfinity = false;
  for (let k = 0; k < cost.length; k++) {
    const x = cost[k];
    // One comparison on the common path: only non-finite values fail it.
    if (!(x - x === 0)) {
      if (x === Infinity) {
        hasInfinity = true;
        continue;
      }
      const where = `cost[${k}] (row ${Math.floor(k / n)}, column ${k % n})`;
      throw invalidParameterError(where, 'a number that is not NaN or -Infinity', x);
    }
  }
  return hasInfinity;
}

/**
 * Float64 copy with every Infinity replaced by a penalty P such that one more penalised cell
 * always costs more than any rearrangement of finite cells could save: P > minF + n * (maxF - minF).
 */
function finitePenaltyCopy(cost: CostMatrix, n: number): Float64Array {
  let minF = Infinity;
  let maxF = -Infinity;
  for (let k = 0; k < cost.length; k++) {
    const x = cost[k];
    if (x === Infinity) continue;
    if (x < minF) minF = x;
    if (x > maxF) maxF = x;
  }
  if (minF === Infinity) {
    minF = 0;
    maxF = 0;
  }
  const range = maxF - minF;
  const penalty = maxF + (n + 1) * (range + 1);
  if (!Number.isFinite(penalty)) {
    throw invalidParameterError('cost', 'finite costs spanning less than 1e300 when Infinity cells are present', `${minF}..${maxF}`);
  }
  const copy = new Float64Array(cost.length);
  for (let k = 0; k < cost.length; k++) {
    const x = cost[k];
    copy[k] = x === Infinity ? penalty : x;
  }
  return copy;
}

function infeasibleError(): WhaleidError {
  return new WhaleidError('Cost matrix is infeasible: every assignment uses at least one Infinity (forbidden) cell');
}
