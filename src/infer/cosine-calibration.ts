/**
 * Calibrates a cosine scorer on the user's own labelled photos: the logistic curve that turns a
 * cosine into the probability of the same individual, and the new-individual threshold on it.
 *
 * Every photo is asked against all the others (leave-one-out). The curve is fitted on each
 * photo's true pairs and as many of its false pairs, taken at evenly spaced ranks (balanced and
 * unbiased, as `src/train/scorer-choice.ts` calibrates a run's cosine). The threshold is the one
 * of the best open-set MAP@5 over those questions: a photo whose individual has no other photo
 * (or is labelled new_whale) is a question whose answer is new_whale.
 */
import { NEW_WHALE } from '../data/labels.js';
import { WhaleidError } from '../util/errors.js';
import { fitLogistic } from './fusion/logistic.js';
import { averagePrecisionAt5 } from './metrics.js';

/** What {@link calibrateCosine} fitted, and on how much. */
export interface CosineCalibration {
  /** score = sigmoid(scale * cos + bias). */
  scale: number;
  bias: number;
  /** The new-individual threshold on the score. */
  threshold: number;
  /** Open-set MAP@5 of the leave-one-out questions at that threshold. */
  map5: number;
  pairs: { same: number; different: number };
  /** Questions whose individual has another photo, and questions answered by new_whale. */
  questions: { known: number; new: number };
}

/** Every row of `unit` (n x D) against every other: n*n dot products. */
function cosineMatrix(unit: Float32Array, n: number, D: number): Float32Array {
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let d = 0;
      for (let k = 0; k < D; k++) d += unit[i * D + k] * unit[j * D + k];
      out[i * n + j] = d;
      out[j * n + i] = d;
    }
  }
  return out;
}

/** Logistic fit of same (1) / different (0) on the standardised cosine; null when it does not rise with the cosine. */
function fitCurve(cos: Float32Array, ids: readonly string[]): { scale: number; bias: number; same: number; different: number } | null {
  const n = ids.length;
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    if (ids[i] === NEW_WHALE) continue;
    const wrong: number[] = [];
    let positives = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      if (ids[j] === ids[i]) {
        x.push(cos[i * n + j]);
        y.push(1);
        positives++;
      } else wrong.push(cos[i * n + j]);
    }
    wrong.sort((a, b) => b - a);
    for (let k = 0; k < positives && wrong.length > 0; k++) {
      x.push(wrong[Math.floor(((k + 0.5) * wrong.length) / positives)]);
      y.push(0);
    }
  }
  const same = y.filter((v) => v === 1).length;
  if (same === 0 || same === y.length) return null;
  // standardised: an embedding's cosines may crowd near 1, where the fit's ridge would hold back the slope
  const mean = x.reduce((t, v) => t + v, 0) / x.length;
  const sd = Math.sqrt(x.reduce((t, v) => t + (v - mean) ** 2, 0) / x.length);
  if (!(sd > 0)) return null;
  const fit = fitLogistic(x.map((v) => [(v - mean) / sd]), y);
  const scale = fit.weights[0] / sd;
  const bias = fit.bias - (fit.weights[0] * mean) / sd;
  return scale > 0 && Number.isFinite(scale) && Number.isFinite(bias) ? { scale, bias, same, different: y.length - same } : null;
}

/** Per question, its individuals by best cosine (up to 5) with that cosine, and its answer. */
function questionsOf(cos: Float32Array, ids: readonly string[]): { top: { id: string; cos: number }[]; truth: string }[] {
  const n = ids.length;
  const count = new Map<string, number>();
  for (const id of ids) if (id !== NEW_WHALE) count.set(id, (count.get(id) ?? 0) + 1);
  return ids.map((id, i) => {
    const best = new Map<string, number>();
    for (let j = 0; j < n; j++) {
      if (j === i || ids[j] === NEW_WHALE) continue;
      const c = cos[i * n + j];
      if (c > (best.get(ids[j]) ?? -Infinity)) best.set(ids[j], c);
    }
    const top = [...best].map(([k, c]) => ({ id: k, cos: c })).sort((a, b) => b.cos - a.cos).slice(0, 5);
    return { top, truth: id !== NEW_WHALE && (count.get(id) ?? 0) > 1 ? id : NEW_WHALE };
  });
}

/** Open-set MAP@5 of the questions when new_whale goes before the first individual scoring below `t`. */
function mapAt(questions: ReturnType<typeof questionsOf>, score: (cos: number) => number, t: number): number {
  let sum = 0;
  for (const q of questions) {
    const list: string[] = [];
    let placed = false;
    for (const c of q.top) {
      if (!placed && score(c.cos) < t) {
        list.push(NEW_WHALE);
        placed = true;
      }
      list.push(c.id);
    }
    if (!placed) list.push(NEW_WHALE);
    sum += averagePrecisionAt5(q.truth, list.slice(0, 5));
  }
  return sum / questions.length;
}

/**
 * Fits the cosine's curve and the new-individual threshold on labelled photos' unit features.
 *
 * @param unit - unit-length features, one row of D per photo
 * @param ids - each photo's individual (`new_whale`: an individual seen once, never a match)
 * @param D - features per photo
 * @returns the calibration
 * @throws {@link WhaleidError} when no individual has two photos, or the cosine does not rise with
 *   sameness on these photos (the model cannot tell these individuals apart)
 * @example
 * const c = calibrateCosine(unitFeatures, ['a', 'a', 'b', 'b', 'c'], 512); // { scale: 18.2, bias: -9.1, threshold: 0.62, ... }
 */
export function calibrateCosine(unit: Float32Array, ids: readonly string[], D: number): CosineCalibration {
  const n = ids.length;
  if (unit.length !== n * D) throw new WhaleidError(`calibration: ${unit.length} feature values for ${n} photos of ${D} features`);
  const cos = cosineMatrix(unit, n, D);
  const curve = fitCurve(cos, ids);
  if (curve === null) throw new WhaleidError(`calibration: ${n} photos give no same-individual pairs to fit, or their cosines do not rise with sameness; give photos of individuals with two photos or more`);
  const score = (c: number): number => 1 / (1 + Math.exp(-(curve.scale * c + curve.bias)));
  const questions = questionsOf(cos, ids);
  // candidate thresholds: every question's best score (and just above), so each possible
  // decision is tried; ties go to the lower threshold (fewer photos called new)
  const tops = questions.filter((q) => q.top.length > 0).map((q) => score(q.top[0].cos));
  const candidates = [...new Set([0, ...tops, ...tops.map((t) => Math.min(1, t + 1e-9))])].sort((a, b) => a - b);
  let best = { threshold: 0.5, map5: -1 };
  for (const t of candidates) {
    const m = mapAt(questions, score, t);
    if (m > best.map5 + 1e-12) best = { threshold: t, map5: m };
  }
  const known = questions.filter((q) => q.truth !== NEW_WHALE).length;
  return { scale: curve.scale, bias: curve.bias, threshold: best.threshold, map5: best.map5, pairs: { same: curve.same, different: curve.different }, questions: { known, new: n - known } };
}
