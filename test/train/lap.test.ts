import { describe, it, expect } from 'vitest';
import { solveLap } from '../../src/train/lap.js';
import { lapjvSolve, type CostMatrix, type LapjvOptions } from '../../src/train/lap-jv.js';
import { createRng, type Rng } from '../../src/util/random.js';
import { WhaleidError } from '../../src/util/errors.js';

/** Minimum over all n! permutations by depth-first search (n <= 8). */
function bruteForce(c: ArrayLike<number>, n: number): number {
  let best = Infinity;
  const visit = (row: number, used: number, acc: number): void => {
    if (row === n) {
      if (acc < best) best = acc;
      return;
    }
    for (let j = 0; j < n; j++) {
      if (used & (1 << j)) continue;
      visit(row + 1, used | (1 << j), acc + c[row * n + j]);
    }
  };
  visit(0, 0, 0);
  return n === 0 ? 0 : best;
}

/** Textbook O(n^3) Hungarian algorithm with potentials (1-based, independent of the solver). */
function hungarianCost(c: ArrayLike<number>, n: number): number {
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const p = new Int32Array(n + 1);
  const way = new Int32Array(n + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(n + 1).fill(Infinity);
    const used = new Uint8Array(n + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = c[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  let total = 0;
  for (let j = 1; j <= n; j++) total += c[(p[j] - 1) * n + (j - 1)];
  return total;
}

/** Checks that the answer is a permutation, its inverse is consistent, and `cost` is its sum. */
function expectValidAssignment(c: ArrayLike<number>, n: number, sol: ReturnType<typeof solveLap>): void {
  expect(sol.rowToCol.length).toBe(n);
  expect(sol.colToRow.length).toBe(n);
  const seen = new Uint8Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const j = sol.rowToCol[i];
    expect(j >= 0 && j < n && seen[j] === 0).toBe(true);
    seen[j] = 1;
    expect(sol.colToRow[j]).toBe(i);
    total += c[i * n + j];
  }
  expect(sol.cost).toBeCloseTo(total, 6);
}

function expectCostNear(actual: number, expected: number, rel = 1e-9): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));
}

type Kind = 'uniform' | 'ties' | 'negative' | 'forbidden' | 'score' | 'offset' | 'modular';

/** Random matrices of the kinds the solver must handle. */
function randomMatrix(rng: Rng, n: number, kind: Kind): Float64Array {
  const c = new Float64Array(n * n);
  const group = Int32Array.from({ length: n }, () => rng.int(Math.max(1, Math.floor(n / 3))));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let x: number;
      switch (kind) {
        case 'uniform':
          x = rng.next();
          break;
        case 'ties':
          x = rng.int(3);
          break;
        case 'negative':
          x = rng.int(11) - 5 + (rng.chance(0.5) ? rng.next() : 0);
          break;
        case 'forbidden':
          x = rng.chance(0.4) ? 1e9 : rng.int(4);
          break;
        case 'score': {
          // -(S + K*U) with S near 0 or near 1 and same-group cells forbidden, as in training.
          const s = group[i] === group[j] ? 0 : rng.chance(0.3) ? 1 - rng.next() * 1e-3 : rng.next() * 1e-3;
          x = group[i] === group[j] ? 1e9 : -(s + 0.25 * rng.next());
          break;
        }
        case 'offset':
          x = 1e9 + rng.int(4);
          break;
        case 'modular':
          // Structured costs that leave many rows to the shortest-path phase, with long paths.
          x = (i * j + rng.int(2)) % 7;
          break;
      }
      c[i * n + j] = x;
    }
  }
  return c;
}

const KINDS: Kind[] = ['uniform', 'ties', 'negative', 'forbidden', 'score', 'offset', 'modular'];

describe('solveLap against brute force', () => {
  it('finds the optimum on many small random matrices (n <= 8, ties, negatives, huge costs)', () => {
    const rng = createRng('lap-brute');
    let cases = 0;
    for (const kind of KINDS) {
      for (let n = 1; n <= 8; n++) {
        const reps = n <= 6 ? 25 : n === 7 ? 6 : 2;
        for (let r = 0; r < reps; r++) {
          const c = randomMatrix(rng, n, kind);
          const sol = solveLap(c, n);
          expectValidAssignment(c, n, sol);
          expectCostNear(sol.cost, bruteForce(c, n), 1e-12);
          cases++;
        }
      }
    }
    expect(cases).toBe(KINDS.length * (6 * 25 + 6 + 2));
  });

  it('gives the same optimum for Float32Array input', () => {
    const rng = createRng('lap-f32');
    for (let r = 0; r < 40; r++) {
      const n = 2 + rng.int(6);
      const c32 = Float32Array.from(randomMatrix(rng, n, r % 2 ? 'score' : 'uniform'));
      const sol = solveLap(c32, n);
      expectValidAssignment(c32, n, sol);
      expectCostNear(sol.cost, bruteForce(c32, n), 1e-12);
    }
  });
});

/** Runs the core with some phases shortened, so each phase is checked on its own. */
function solveWith(c: CostMatrix, n: number, options: LapjvOptions): { rowToCol: Int32Array; colToRow: Int32Array; cost: number } {
  const rowToCol = new Int32Array(n);
  const colToRow = new Int32Array(n);
  lapjvSolve(c, n, rowToCol, colToRow, options);
  let cost = 0;
  for (let i = 0; i < n; i++) cost += c[i * n + rowToCol[i]];
  return { rowToCol, colToRow, cost };
}

const PHASE_VARIANTS: LapjvOptions[] = [
  { arrPasses: 0 }, // column reduction + shortest paths only
  { arrPasses: 1, arrBidFactor: 0.25 }, // bid cap hit mid-pass
  { arrPasses: 8 }, // more reduction than the original's two passes
];

describe('LAPJV phases', () => {
  it('stay optimal when augmenting row reduction is skipped, capped or repeated', () => {
    const rng = createRng('lap-phases');
    for (const options of PHASE_VARIANTS) {
      for (const kind of KINDS) {
        for (let r = 0; r < 12; r++) {
          const n = 2 + rng.int(6);
          const c = randomMatrix(rng, n, kind);
          const sol = solveWith(c, n, options);
          expectValidAssignment(c, n, sol);
          expectCostNear(sol.cost, bruteForce(c, n), 1e-12);
        }
        const big = randomMatrix(rng, 150, kind);
        const sol = solveWith(big, 150, options);
        expectValidAssignment(big, 150, sol);
        expectCostNear(sol.cost, hungarianCost(big, 150), 1e-12);
      }
    }
  });
});

describe('solveLap hard cases', () => {
  it('handles 0x0 and 1x1', () => {
    const empty = solveLap(new Float64Array(0), 0);
    expect(empty.rowToCol.length).toBe(0);
    expect(empty.cost).toBe(0);
    const one = solveLap(new Float32Array([-2.5]), 1);
    expect(Array.from(one.rowToCol)).toEqual([0]);
    expect(Array.from(one.colToRow)).toEqual([0]);
    expect(one.cost).toBe(-2.5);
  });

  it('returns a permutation when every cost is equal', () => {
    for (const n of [2, 3, 50, 301]) {
      const c = new Float64Array(n * n).fill(7);
      const sol = solveLap(c, n);
      expectValidAssignment(c, n, sol);
      expect(sol.cost).toBe(7 * n);
    }
  });

  it('finds the only feasible permutation among huge forbidden costs', () => {
    const rng = createRng('lap-forced');
    for (const n of [2, 5, 40, 250]) {
      for (const forbidden of [1e9, Infinity]) {
        const perm = rng.shuffle(Array.from({ length: n }, (_, i) => i));
        const c = new Float64Array(n * n).fill(forbidden);
        let expected = 0;
        for (let i = 0; i < n; i++) {
          const x = rng.uniform(-3, 3);
          c[i * n + perm[i]] = x;
          expected += x;
        }
        const sol = solveLap(c, n);
        expect(Array.from(sol.rowToCol)).toEqual(perm);
        expectCostNear(sol.cost, expected, 1e-12);
      }
    }
  });

  it('handles negative costs (maximisation by negation)', () => {
    // Maximise 3x3 profits [[7,5,1],[4,8,2],[3,6,9]]: the diagonal, 24.
    const profit = [7, 5, 1, 4, 8, 2, 3, 6, 9];
    const sol = solveLap(Float64Array.from(profit, (x) => -x), 3);
    expect(Array.from(sol.rowToCol)).toEqual([0, 1, 2]);
    expect(sol.cost).toBe(-24);
  });

  it('prefers finite cells over Infinity and throws when none is feasible', () => {
    const rng = createRng('lap-inf');
    for (let r = 0; r < 60; r++) {
      const n = 2 + rng.int(6);
      const c = randomMatrix(rng, n, 'negative');
      for (let k = 0; k < c.length; k++) if (rng.chance(0.35)) c[k] = Infinity;
      const best = bruteForce(c, n);
      if (best === Infinity) {
        expect(() => solveLap(c, n)).toThrow(/infeasible/);
      } else {
        const sol = solveLap(c, n);
        expectValidAssignment(c, n, sol);
        expectCostNear(sol.cost, best, 1e-12);
      }
    }
    // A whole row of Infinity can never be avoided.
    const blocked = new Float64Array([1, 2, Infinity, Infinity]);
    expect(() => solveLap(blocked, 2)).toThrow(WhaleidError);
    expect(() => solveLap(new Float64Array([Infinity]), 1)).toThrow(/infeasible/);
  });

  it('uses a huge finite cost when it must (no feasible alternative)', () => {
    const c = new Float64Array([1e9, 1e9, 1, 1e9]);
    const sol = solveLap(c, 2);
    expect(Array.from(sol.rowToCol)).toEqual([1, 0]);
    expect(sol.cost).toBe(1e9 + 1);
  });
});

describe('solveLap against an independent Hungarian implementation', () => {
  it('matches on n = 200 matrices of every kind', () => {
    const rng = createRng('lap-hungarian');
    const n = 200;
    for (const kind of KINDS) {
      const c = randomMatrix(rng, n, kind);
      const sol = solveLap(c, n);
      expectValidAssignment(c, n, sol);
      expectCostNear(sol.cost, hungarianCost(c, n), 1e-12);
    }
  });

  it('matches over training-like epochs where chosen cells become forbidden', () => {
    const rng = createRng('lap-epochs');
    const n = 120;
    const huge = 1e9;
    const group = Int32Array.from({ length: n }, (_, i) => Math.floor(i / 3));
    const score = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        const s = rng.chance(0.2) ? 1 - rng.next() * 1e-4 : rng.next() * 1e-4;
        score[i * n + j] = s;
        score[j * n + i] = s;
      }
    }
    const used = new Uint8Array(n * n);
    for (let epoch = 0; epoch < 6; epoch++) {
      const k = [100, 10, 1, 0.5, 0.25, 0.25][epoch];
      const c = new Float32Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const forbid = group[i] === group[j] || used[i * n + j] === 1;
          c[i * n + j] = forbid ? huge : -(score[i * n + j] + k * rng.next());
        }
      }
      const sol = solveLap(c, n);
      expectValidAssignment(c, n, sol);
      expectCostNear(sol.cost, hungarianCost(c, n), 1e-12);
      // Plenty of cross-group cells remain, so no forbidden cell may be chosen.
      expect(sol.cost).toBeLessThan(0);
      for (let i = 0; i < n; i++) {
        const j = sol.rowToCol[i];
        used[i * n + j] = 1;
        used[j * n + i] = 1;
      }
    }
  });
});

describe('solveLap input validation', () => {
  it('rejects a wrong length, a bad n, NaN and -Infinity with clear messages', () => {
    expect(() => solveLap(new Float64Array(5), 2)).toThrow('Expected n * n = 4 for n = 2 for cost.length but received 5');
    expect(() => solveLap(new Float64Array(4), -1)).toThrow(/non-negative integer for n/);
    expect(() => solveLap(new Float64Array(4), 1.5)).toThrow(WhaleidError);
    const nan = new Float64Array(9);
    nan[5] = Number.NaN;
    expect(() => solveLap(nan, 3)).toThrow('cost[5] (row 1, column 2) but received NaN');
    const negInf = new Float32Array(4);
    negInf[2] = -Infinity;
    expect(() => solveLap(negInf, 2)).toThrow('row 1, column 0');
    expect(() => solveLap([1, 2, 3, 4] as unknown as Float64Array, 2)).toThrow(/Float32Array or Float64Array/);
  });
});
