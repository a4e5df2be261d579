/**
 * N-way one-shot classification (Lake et al. 2015, the task of Koch et al.'s Siamese networks):
 * a trial shows one photo of each of N classes and query photos of those classes; a query is
 * right when its own class's photo scores highest of the N. Trials come from Lake's run folders
 * or are drawn from any folder-per-individual dataset.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { createRng } from '../util/random.js';
import { invalidParameterError, WhaleidError } from '../util/errors.js';

/** One trial (a "run" in Lake's files): N support photos, queries each naming its class. */
export interface OneShotTrial {
  name: string;
  /** One photo per class. */
  support: { file: string; label: string }[];
  /** `truth` is the index of the query's class in `support`. */
  queries: { file: string; truth: number }[];
}

const LINE = /^\s*(\S+)\s+(\S+)\s*$/;

/**
 * Reads Lake's one-shot runs: `DIR/runNN/class_labels.txt` whose lines are
 * `test/itemKK.png training/classMM.png` (the query and its class's training photo). Paths may
 * also start with the run folder's name (`run01/test/item01.png`, as in Lake's repository).
 * Every folder of DIR holding a `class_labels.txt` is a run; the support is every photo of its
 * `training/` folder (the 20 classes), so a class with no query still competes.
 *
 * @param dir - the folder of runs (or one run folder)
 * @returns the trials, by run name
 * @throws {@link WhaleidError} when no run is found, a line is malformed or names a missing photo
 * @example
 * const trials = await loadOneShotRuns('omniglot/all_runs'); // 20 runs of 20 queries
 */
export async function loadOneShotRuns(dir: string): Promise<OneShotTrial[]> {
  if (!existsSync(dir)) throw new WhaleidError(`${dir}: no such folder; expected one-shot runs (runNN/class_labels.txt)`);
  const runDirs = existsSync(path.join(dir, 'class_labels.txt'))
    ? [dir]
    : (await fs.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && existsSync(path.join(dir, e.name, 'class_labels.txt'))).map((e) => path.join(dir, e.name)).sort();
  if (runDirs.length === 0) throw new WhaleidError(`${dir}: no one-shot runs found; expected folders like run01/ holding class_labels.txt`);
  const trials: OneShotTrial[] = [];
  for (const run of runDirs) {
    const name = path.basename(run);
    const labelsFile = path.join(run, 'class_labels.txt');
    const resolve = (p: string, line: number): string => {
      const parts = p.split(/[\\/]/);
      const rel = parts[0] === name && parts.length > 1 ? parts.slice(1) : parts;
      const file = path.join(run, ...rel);
      if (!existsSync(file)) throw new WhaleidError(`${labelsFile}:${line}: photo ${p} not found (looked for ${file})`);
      return file;
    };
    const text = await fs.readFile(labelsFile, 'utf8');
    const pairs: { query: string; support: string }[] = [];
    text.split(/\r?\n/).forEach((raw, k) => {
      if (raw.trim() === '') return;
      const m = LINE.exec(raw);
      if (!m) throw new WhaleidError(`${labelsFile}:${k + 1}: expected "test/itemKK.png training/classMM.png", got ${JSON.stringify(raw.slice(0, 80))}`);
      pairs.push({ query: resolve(m[1], k + 1), support: resolve(m[2], k + 1) });
    });
    if (pairs.length === 0) throw new WhaleidError(`${labelsFile}: no lines; expected one line per test photo`);
    const supportFiles = new Set(pairs.map((p) => p.support));
    const trainingDir = path.dirname([...supportFiles][0]);
    for (const f of await fs.readdir(trainingDir)) if (/\.(png|jpe?g|webp|tiff?|gif)$/i.test(f)) supportFiles.add(path.join(trainingDir, f));
    const support = [...supportFiles].sort().map((file) => ({ file, label: path.relative(run, file) }));
    const index = new Map(support.map((s, i) => [s.file, i]));
    trials.push({ name, support, queries: pairs.map((p) => ({ file: p.query, truth: index.get(p.support)! })) });
  }
  return trials;
}

/** Options of {@link buildOneShotTrials}. */
export interface BuildTrialsOptions {
  /** Classes per trial (N). Default 20. */
  ways?: number;
  /** Number of trials; each has one query. Default 400. */
  trials?: number;
  /** All classes of a trial share their first path segment (Omniglot: the same alphabet), as in Lake's runs. */
  sameGroup?: boolean;
  seed?: number;
}

/**
 * Draws N-way one-shot trials from labelled photos: per trial N distinct individuals with 2+
 * photos, one support photo of each, and one other photo of one of them as the query (the
 * query's class is drawn uniformly, so chance accuracy is 1/N). Deterministic for a seed.
 *
 * @param photos - labelled photos; ids like `Alphabet/character01` group by `Alphabet` with `sameGroup`
 * @param options - ways, trials, grouping and seed
 * @returns the trials, named `trial0001`, ...
 * @throws {@link WhaleidError} when fewer than N individuals (of one group, with `sameGroup`) have 2+ photos
 * @example
 * const trials = buildOneShotTrials(ds.train, { ways: 20, trials: 400, sameGroup: true, seed: 1 });
 */
export function buildOneShotTrials(photos: readonly { id: string; file: string }[], options: BuildTrialsOptions = {}): OneShotTrial[] {
  const ways = options.ways ?? 20;
  const count = options.trials ?? 400;
  if (!Number.isSafeInteger(ways) || ways < 2) throw invalidParameterError('ways', 'an integer of at least 2', ways);
  if (!Number.isSafeInteger(count) || count < 1) throw invalidParameterError('trials', 'a positive integer', count);
  const byId = new Map<string, string[]>();
  for (const p of photos) byId.set(p.id, [...(byId.get(p.id) ?? []), p.file]);
  const usable = [...byId.keys()].filter((id) => byId.get(id)!.length >= 2).sort();
  const groups = new Map<string, string[]>();
  for (const id of usable) {
    const g = options.sameGroup ? id.split('/')[0] : '';
    groups.set(g, [...(groups.get(g) ?? []), id]);
  }
  const eligible = [...groups.keys()].filter((g) => groups.get(g)!.length >= ways);
  if (eligible.length === 0) {
    const most = Math.max(0, ...[...groups.values()].map((v) => v.length));
    throw new WhaleidError(`${ways}-way trials need ${ways} individuals with 2+ photos${options.sameGroup ? ' in one group' : ''}; found at most ${most}`);
  }
  const rng = createRng(options.seed ?? 0).fork('one-shot');
  // a group is drawn in proportion to its usable individuals, so every individual is about equally likely
  const weights = eligible.map((g) => groups.get(g)!.length);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const trials: OneShotTrial[] = [];
  for (let t = 0; t < count; t++) {
    let r = rng.next() * totalWeight;
    let gi = 0;
    while (gi < eligible.length - 1 && r >= weights[gi]) r -= weights[gi++];
    const classes = rng.shuffle([...groups.get(eligible[gi])!]).slice(0, ways);
    const truth = rng.int(ways);
    const support = classes.map((id, k) => {
      const files = byId.get(id)!;
      return { id, k, pick: rng.shuffle([...files.keys()]).slice(0, k === truth ? 2 : 1) };
    });
    trials.push({
      name: `trial${String(t + 1).padStart(4, '0')}`,
      support: support.map(({ id, pick }) => ({ file: byId.get(id)![pick[0]], label: id })),
      queries: [{ file: byId.get(classes[truth])![support[truth].pick[1]], truth }],
    });
  }
  return trials;
}

/** Scores of (query, support) photo pairs: higher means more likely the same class. */
export type PairScoreFunction = (pairs: readonly (readonly [string, string])[]) => Promise<Float32Array>;

/** One query's outcome. */
export interface OneShotItem {
  trial: string;
  query: string;
  truth: string;
  /** The support label ranked first. */
  predicted: string;
  /** 1 when the truth scores strictly highest; 1/k when it ties with k-1 others for the top. */
  correct: number;
  /** 1-based rank of the truth (ties counted in its favour). */
  rank: number;
}

/** Accuracy per trial and overall. */
export interface OneShotResult {
  runs: { name: string; correct: number; count: number; accuracy: number }[];
  /** Mean of the per-run accuracies (Lake's figure). */
  meanAccuracy: number;
  /** Correct queries over all queries. */
  pooledAccuracy: number;
  /** Standard error of the pooled accuracy (binomial). */
  standardError: number;
  items: OneShotItem[];
}

/**
 * Scores every query of every trial against its trial's N support photos (one call of
 * `scorePairs` for all pairs) and counts how often the query's own class ranks first. A tie at
 * the top counts as 1/k of a right answer (the expectation of breaking it at random), so a model
 * that scores everything alike gets chance accuracy, never 100%.
 *
 * @param trials - from {@link loadOneShotRuns} or {@link buildOneShotTrials}
 * @param scorePairs - pair scorer (a trained model, or any similarity)
 * @returns per-run and mean accuracy, and per-query items
 * @throws {@link WhaleidError} when `scorePairs` returns the wrong number of scores
 * @example
 * const res = await evaluateOneShot(trials, (pairs) => scorer.scorePairs(pairs));
 * res.meanAccuracy; // e.g. 0.92
 */
export async function evaluateOneShot(trials: readonly OneShotTrial[], scorePairs: PairScoreFunction): Promise<OneShotResult> {
  const pairs: [string, string][] = [];
  for (const t of trials) for (const q of t.queries) for (const s of t.support) pairs.push([q.file, s.file]);
  const scores = await scorePairs(pairs);
  if (scores.length !== pairs.length) throw invalidParameterError('pair scores length', String(pairs.length), scores.length);
  const items: OneShotItem[] = [];
  const runs: OneShotResult['runs'] = [];
  let at = 0;
  for (const t of trials) {
    let right = 0;
    for (const q of t.queries) {
      const row = scores.subarray(at, at + t.support.length);
      at += t.support.length;
      let best = 0;
      for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
      const top = row[best];
      const tied = row.filter((v) => v === top).length;
      const correct = row[q.truth] === top ? 1 / tied : 0;
      const rank = 1 + row.filter((v) => v > row[q.truth]).length;
      right += correct;
      items.push({ trial: t.name, query: q.file, truth: t.support[q.truth].label, predicted: t.support[best].label, correct, rank });
    }
    runs.push({ name: t.name, correct: right, count: t.queries.length, accuracy: t.queries.length ? right / t.queries.length : NaN });
  }
  const n = items.length;
  const pooled = n ? items.reduce((s, i) => s + i.correct, 0) / n : NaN;
  const withQueries = runs.filter((r) => r.count > 0);
  return {
    runs,
    meanAccuracy: withQueries.length ? withQueries.reduce((s, r) => s + r.accuracy, 0) / withQueries.length : NaN,
    pooledAccuracy: pooled,
    standardError: n ? Math.sqrt((pooled * (1 - pooled)) / n) : NaN,
    items,
  };
}
