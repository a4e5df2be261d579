// ArcFace and sub-center ArcFace by hand, in float64: the reference the native margin loss
// (native/src/margin-loss.cc) is checked against. Written from the formula, not from the C++.

/** Rows of a row-major matrix. */
const rows = (m: ArrayLike<number>, r: number, c: number): number[][] => Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => m[i * c + j]));

/**
 * Mean ArcFace loss.
 *
 * @param emb - embeddings [n, d], row-major
 * @param kernel - class centres [d, classes * k], row-major (column c * k + j: class c's sub-centre j)
 * @param labels - class of each row
 * @param margins - margin of each class (radians)
 * @param s - scale
 * @param k - sub-centres per class
 * @returns the loss
 */
export function arcfaceReference(emb: ArrayLike<number>, kernel: ArrayLike<number>, labels: readonly number[], margins: ArrayLike<number>, s: number, k: number): number {
  const n = labels.length;
  const d = emb.length / n;
  const cols = kernel.length / d;
  const classes = cols / k;
  const e = rows(emb, n, d);
  const w = rows(kernel, d, cols);
  const colNorm = Array.from({ length: cols }, (_, j) => Math.max(1e-12, Math.hypot(...w.map((r) => r[j]))));
  let total = 0;
  for (let i = 0; i < n; i++) {
    const norm = Math.max(1e-12, Math.hypot(...e[i]));
    const cos = Array.from({ length: classes }, (_, c) => {
      let best = -Infinity;
      for (let j = 0; j < k; j++) {
        let dot = 0;
        for (let t = 0; t < d; t++) dot += (e[i][t] / norm) * (w[t][c * k + j] / colNorm[c * k + j]);
        best = Math.max(best, dot);
      }
      return best;
    });
    const y = labels[i];
    const m = margins[y];
    const c = cos[y];
    const sin = Math.sqrt(Math.max(1e-12, 1 - c * c));
    const phi = c > Math.cos(Math.PI - m) ? c * Math.cos(m) - sin * Math.sin(m) : c - Math.sin(Math.PI - m) * m;
    const logits = cos.map((v, j) => s * (j === y ? phi : v));
    const top = Math.max(...logits);
    const lse = top + Math.log(logits.reduce((a, v) => a + Math.exp(v - top), 0));
    total += lse - logits[y];
  }
  return total / n;
}
