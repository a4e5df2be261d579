/**
 * The head on many pairs at once: a WebAssembly SIMD kernel assembled at run time for the head's
 * shape (no toolchain needed), plus the per-row tables it reads.
 *
 * Why it is fast. For one row photo `a` and one feature f, the hidden unit k of the per-feature MLP
 * is, with t = b - a the only thing that changes from column to column,
 *   h_k = b1 + w1p a b + w1s (a + b) + w1d |a - b| + w1q (a - b)^2 = P_k + t (Q_k + E_k t)
 * where P_k = b1 + w1p a^2 + 2 w1s a (h at t = 0), Q_k = w1p a + w1s +- w1d (sign of t), E_k = w1q.
 * The row's P and Q are tabulated once (float64, then float32), so a (pair, feature, unit) costs
 * two multiply-adds, a max and a multiply-add with C = w2_k w3_f: four units per SIMD instruction,
 * no per-pair tensors. The constant b3 + b2 * sum(w3) and the sigmoid are added in JS per pair.
 *
 * Exactness: every term is the head's own arithmetic, regrouped; float32 rounding differs from
 * the tfjs head's by ~1e-7 per unit, ~1e-6 on a logit of 512 features (tested within 1e-5).
 */
import type { HeadWeights } from '../model/network/head-weights.js';
import { invalidParameterError } from '../util/errors.js';
import { section, sleb, str, uleb, vec, wasm, WASM_HEADER } from './wasm-module.js';

/** Bytes per (feature, group of 4 units) in a row table: E, Q(t<0), Q(t>=0), P, C vectors. */
const SLOT = 80;

const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const load = (offset: number): number[] => [...simd(0x00), 4, ...uleb(offset)];

// Opcodes (core and SIMD) used by the kernel.
const OP = { get: 0x20, set: 0x21, tee: 0x22, i32const: 0x41, i32add: 0x6a, i32mul: 0x6c, i32ne: 0x47, f32load: 0x2a, f32store: 0x38, f32sub: 0x93, f32add: 0x92, f32lt: 0x5d, f32const: 0x43, select: 0x1b, loop: 0x03, block: 0x02, brIf: 0x0d, br: 0x0c, end: 0x0b, i32eqz: 0x45 };
const V = { splat: 0x13, lane: 0x1f, add: 0xe4, mul: 0xe6, pmax: 0xeb, const: 0x0c };

/**
 * Body of `row<cols>(tab, a, b, nb, out)`: for j < nb (a multiple of cols), out[j] = sum over f, k
 * of C relu(P + t (Q + E t)) with t = b[j F + f] - a[f]; pointers are byte offsets in the memory.
 * Two columns per pass share the loads of P, E and C (the loop is load-bound).
 */
function rowBody(F: number, groups: number, cols: number): number[] {
  // locals: 0 tab, 1 a, 2 b, 3 nb, 4 out | 5 p, 6 ap, 7 aEnd, 8.. q[c] (i32) | t[c] (f32) | v128: zero, E, P, C, x, tv[c], acc[c][2]
  const [tab, a, b, nb, out, p, ap, aEnd] = [0, 1, 2, 3, 4, 5, 6, 7];
  const q = (c: number): number => 8 + c;
  const t = (c: number): number => 8 + cols + c;
  const vBase = 8 + 2 * cols;
  const [zero, E, P, C] = [vBase, vBase + 1, vBase + 2, vBase + 3];
  const x = (c: number): number => vBase + 4 + c;
  const tv = (c: number): number => vBase + 4 + cols + c;
  const nAcc = 2;
  const acc = (c: number, k: number): number => vBase + 4 + 2 * cols + c * nAcc + k;
  const body: number[] = [];
  const e = (...bytes: number[]): void => {
    body.push(...bytes);
  };
  e(...simd(V.const), ...new Array<number>(16).fill(0), OP.set, zero);
  e(OP.block, 0x40, OP.loop, 0x40);
  e(OP.get, nb, OP.i32eqz, OP.brIf, 1);
  for (let c = 0; c < cols; c++) for (let k = 0; k < nAcc; k++) e(OP.get, zero, OP.set, acc(c, k));
  e(OP.get, tab, OP.set, p, OP.get, a, OP.tee, ap, OP.i32const, ...sleb(F * 4), OP.i32add, OP.set, aEnd);
  e(OP.loop, 0x40);
  for (let c = 0; c < cols; c++) {
    // t = b[c F + f] - a[f]; q = p + (t < 0 ? 16 : 32)
    e(OP.get, b, OP.f32load, 2, ...uleb(c * F * 4), OP.get, ap, OP.f32load, 2, 0, OP.f32sub, OP.tee, t(c), OP.f32const, 0, 0, 0, 0, OP.f32lt);
    e(OP.set, q(c), OP.get, t(c), ...simd(V.splat), OP.set, tv(c));
    e(OP.get, p, OP.i32const, 16, OP.i32const, 32, OP.get, q(c), OP.select, OP.i32add, OP.set, q(c));
  }
  for (let g = 0; g < groups; g++) {
    const o = g * SLOT;
    e(OP.get, p, ...load(o), OP.set, E, OP.get, p, ...load(o + 48), OP.set, P, OP.get, p, ...load(o + 64), OP.set, C);
    for (let c = 0; c < cols; c++) {
      e(OP.get, E, OP.get, tv(c), ...simd(V.mul)); // E t
      e(OP.get, q(c), ...load(o), ...simd(V.add), OP.get, tv(c), ...simd(V.mul)); // (Q + E t) t
      e(OP.get, P, ...simd(V.add), OP.set, x(c)); // + P
      e(OP.get, zero, OP.get, x(c), ...simd(V.pmax)); // relu
      e(OP.get, C, ...simd(V.mul)); // * C
      e(OP.get, acc(c, g % nAcc), ...simd(V.add), OP.set, acc(c, g % nAcc));
    }
  }
  e(OP.get, p, OP.i32const, ...sleb(groups * SLOT), OP.i32add, OP.set, p);
  e(OP.get, b, OP.i32const, 4, OP.i32add, OP.set, b);
  e(OP.get, ap, OP.i32const, 4, OP.i32add, OP.tee, ap, OP.get, aEnd, OP.i32ne, OP.brIf, 0, OP.end);
  for (let c = 0; c < cols; c++) {
    // out[j + c] = horizontal sum of the column's accumulators
    e(OP.get, acc(c, 0), OP.get, acc(c, 1), ...simd(V.add), OP.set, x(c));
    e(OP.get, out, OP.get, x(c), ...simd(V.lane), 0, OP.get, x(c), ...simd(V.lane), 1, OP.f32add, OP.get, x(c), ...simd(V.lane), 2, OP.get, x(c), ...simd(V.lane), 3, OP.f32add, OP.f32add);
    e(OP.f32store, 2, ...uleb(c * 4));
  }
  // b now points at column j+1; skip the other columns of this pass
  if (cols > 1) e(OP.get, b, OP.i32const, ...sleb((cols - 1) * F * 4), OP.i32add, OP.set, b);
  e(OP.get, out, OP.i32const, ...sleb(cols * 4), OP.i32add, OP.set, out, OP.get, nb, OP.i32const, ...sleb(-cols), OP.i32add, OP.set, nb, OP.br, 0);
  e(OP.end, OP.end, OP.end);
  const locals = [3, 3 + cols, 0x7f, cols, 0x7d, 4 + 2 * cols + cols * nAcc, 0x7b];
  return vec([...locals, ...body]);
}

/** The module: imports `env.memory`, exports `row1` and `row2` (1 and 2 columns per pass). */
function assemble(F: number, groups: number): Uint8Array {
  const bytes = [
    ...WASM_HEADER,
    ...section(1, [1, 0x60, ...vec([0x7f, 0x7f, 0x7f, 0x7f, 0x7f]), 0]),
    ...section(2, [1, ...str('env'), ...str('memory'), 0x02, 0x00, 1]),
    ...section(3, [2, 0, 0]),
    ...section(7, [2, ...str('row1'), 0x00, 0, ...str('row2'), 0x00, 1]),
    ...section(10, [2, ...rowBody(F, groups, 1), ...rowBody(F, groups, 2)]),
  ];
  return Uint8Array.from(bytes);
}


/** A head compiled for scoring: rows against a fixed set of column photos. */
export interface ScoreKernel {
  /** Number of column photos loaded. */
  readonly columns: number;
  /**
   * Probabilities of one row photo against columns [j0, j1), written to `out[outOffset ..]`.
   *
   * @param row - the row photo's F features
   * @param j0 - first column
   * @param j1 - end column (exclusive)
   * @param out - destination
   * @param outOffset - where column j0 goes in `out`; default 0
   */
  scoreRow(row: Float32Array, j0: number, j1: number, out: Float32Array, outOffset?: number): void;
}

/**
 * Compiles the head into a WebAssembly SIMD kernel and loads `columns` (ng photos x F features)
 * into its memory (a copy: ng * F * 4 bytes, plus a 300 KB row table).
 *
 * @param w - head weights
 * @param columns - ng*F floats, row-major: the photos every row is scored against
 * @returns the kernel
 * @throws {@link WhaleidError} when `columns.length` is not a multiple of F
 * @example
 * const kernel = createScoreKernel(readHeadWeights(head), known);
 * const out = new Float32Array(known.length / 512);
 * kernel.scoreRow(query, 0, out.length, out);
 */
export function createScoreKernel(w: HeadWeights, columns: Float32Array): ScoreKernel {
  const F = w.features;
  const M = w.mid;
  if (columns.length % F !== 0) throw invalidParameterError('features.length', `a multiple of ${F}`, columns.length);
  const ng = columns.length / F;
  const groups = Math.ceil(M / 4);
  const tabBytes = F * groups * SLOT;
  const colBytes = columns.length * 4;
  const rowBytes = F * 4;
  const outBytes = Math.max(4, ng * 4);
  const total = tabBytes + rowBytes + outBytes + colBytes;
  if (total > 2 ** 31) throw invalidParameterError('features.length', `at most ${Math.floor((2 ** 31 - tabBytes) / 4 / F / 2)} photos per kernel`, ng);
  const memory = new wasm.Memory({ initial: Math.ceil(total / 65536) });
  const instance = new wasm.Instance(new wasm.Module(assemble(F, groups)), { env: { memory } });
  type RowFn = (tab: number, a: number, b: number, nb: number, out: number) => void;
  const row1 = instance.exports.row1 as RowFn;
  const row2 = instance.exports.row2 as RowFn;
  const tabPtr = 0;
  const rowPtr = tabBytes;
  const outPtr = rowPtr + rowBytes;
  const colPtr = outPtr + outBytes;
  const tab = new Float32Array(memory.buffer, tabPtr, tabBytes / 4);
  const rowMem = new Float32Array(memory.buffer, rowPtr, F);
  const outMem = new Float32Array(memory.buffer, outPtr, ng);
  new Float32Array(memory.buffer, colPtr, columns.length).set(columns);
  // E and C do not depend on the row: written once. Padding units (k >= M) stay 0 and add 0.
  let sumW3 = 0;
  for (let f = 0; f < F; f++) {
    sumW3 += w.w3[f];
    for (let k = 0; k < M; k++) {
      const o = (f * groups + (k >> 2)) * (SLOT / 4) + (k & 3);
      tab[o] = w.w1[3 * M + k];
      tab[o + 16] = w.w2[k] * w.w3[f];
    }
  }
  const bias = w.b3 + w.b2 * sumW3;
  return {
    columns: ng,
    scoreRow(row, j0, j1, out, outOffset = 0) {
      for (let f = 0; f < F; f++) {
        const av = row[f];
        for (let k = 0; k < M; k++) {
          const o = (f * groups + (k >> 2)) * (SLOT / 4) + (k & 3);
          const wp = w.w1[k];
          const ws = w.w1[M + k];
          const wd = w.w1[2 * M + k];
          tab[o + 4] = wp * av + ws - wd;
          tab[o + 8] = wp * av + ws + wd;
          tab[o + 12] = w.b1[k] + wp * av * av + 2 * ws * av;
        }
      }
      rowMem.set(row.subarray(0, F));
      const nb = j1 - j0;
      const even = nb & ~1;
      row2(tabPtr, rowPtr, colPtr + j0 * F * 4, even, outPtr);
      if (even < nb) row1(tabPtr, rowPtr, colPtr + (j0 + even) * F * 4, nb - even, outPtr + even * 4);
      for (let j = 0; j < j1 - j0; j++) out[outOffset + j] = 1 / (1 + Math.exp(-(outMem[j] + bias)));
    },
  };
}
