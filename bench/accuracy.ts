// Identification accuracy of each matcher (siamese, local, fused) on each dataset we have, written
// to bench/accuracy.md with the commands that made the figures:
// - nyala (../shared): the individuals a training run held out (split by individuals, as
//   `whaleid train --val-share 0.3` splits them), closed-set leave-one-out within a flank and over
//   all photos, and the open-set protocol; the fusion is fitted on a calibration part of the
//   individuals and measured on the rest;
// - humpback (../shared): the 15 Kaggle sample flukes + 19 Flukebook photos, where the true pair
//   w_ac2c28e should be each other's first candidate: the rank each matcher gives it;
// - synthetic: a `whaleid synth` catalog's test photos (known individuals) against its train photos.
// Siamese figures need a run folder (--nyala-run, --synth-run); without one only local is measured.
// Speed: one query against a catalog of ~1,000 photos, Siamese only and fused, in the same run.
// Usage: npx tsx bench/accuracy.ts [--nyala-run DIR] [--synth-run DIR --synth DIR] [--only nyala,humpback,synthetic,speed] [--keypoints N] [--cache DIR] [--out FILE]
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadUsableDataset, type LabelledPhoto } from '../src/data/dataset.js';
import { readBoxes } from '../src/image/boxes.js';
import type { CropRequest } from '../src/image/crop.js';
import { createImageCache } from '../src/image/image-cache.js';
import { initEngine } from '../src/model/tfjs/tfjs-backend.js';
import { openRunScorer, type RunScorer } from '../src/eval/run-scorer.js';
import { evaluateClosedSet, type ClosedSetResult } from '../src/eval/closed-set.js';
import { evaluateOpenSetMatchers } from '../src/eval/matched-open-set.js';
import { scoreGallery, type LocalSide } from '../src/infer/fusion/gallery-scores.js';
import { checkLocalSettings, DEFAULT_LOCAL, localCropWidth } from '../src/infer/local/local-features.js';
import { describePhotos } from '../src/infer/local/local-feature-store.js';
import { createLocalMatcher } from '../src/infer/local/local-matcher.js';
import { loadOpenCv } from '../src/infer/local/opencv.js';
import { fitFusion, fusedScores, ranksOf } from '../src/infer/fusion/fusion-model.js';
import { MATCHER_KINDS, matcherOf, type MatcherKind } from '../src/infer/matchers/matcher-registry.js';
import { splitByIndividuals } from '../src/train/split.js';
import { writeFileAtomic } from '../src/util/atomic-file.js';
import { invalidParameterError } from '../src/util/errors.js';

const SHARED = path.resolve(import.meta.dirname, '../../shared/datasets');

interface Args {
  nyalaRun?: string;
  synthRun?: string;
  synth?: string;
  only: Set<string>;
  cache: string;
  out: string;
  /** Keypoints per photo (default: DEFAULT_LOCAL's). */
  keypoints?: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { only: new Set(['nyala', 'humpback', 'synthetic', 'speed']), cache: path.join(process.env.HOME ?? '.', '.cache', 'whaleid'), out: path.resolve(import.meta.dirname, 'accuracy.md') };
  for (let k = 0; k < argv.length; k++) {
    const flag = argv[k];
    const value = (): string => argv[++k] ?? '';
    if (flag === '--nyala-run') args.nyalaRun = value();
    else if (flag === '--synth-run') args.synthRun = value();
    else if (flag === '--synth') args.synth = value();
    else if (flag === '--only') args.only = new Set(value().split(','));
    else if (flag === '--cache') args.cache = value();
    else if (flag === '--out') args.out = value();
    else if (flag === '--keypoints') args.keypoints = Number(value());
    else throw invalidParameterError('argument', '--nyala-run, --synth-run, --synth, --only, --cache, --out or --keypoints', flag);
  }
  return args;
}

const pct = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
// one run: the matchers that need several learned models (fused-learned) have nothing to fuse
const kindsFor = (scorer: RunScorer | null): MatcherKind[] => (scorer ? MATCHER_KINDS.filter((k) => matcherOf(k).models.min <= 1) : MATCHER_KINDS.filter((k) => !matcherOf(k).describes.embedding));

function localSide(args: Args): LocalSide {
  const settings = checkLocalSettings({ ...DEFAULT_LOCAL, maxKeypoints: args.keypoints ?? DEFAULT_LOCAL.maxKeypoints });
  return { cache: createImageCache({ dir: path.join(args.cache, 'grey'), maxSide: 2 * localCropWidth(settings) }), settings, cacheDir: path.join(args.cache, 'local') };
}

function closedRows(name: string, r: ClosedSetResult): string[] {
  return (Object.entries(r.figures) as [MatcherKind, NonNullable<ClosedSetResult['figures'][MatcherKind]>][]).map(
    ([kind, f]) => `| ${name} | ${kind} | ${f.queries} | ${pct(f.top1)} | ${pct(f.top5)} | ${f.map5.toFixed(3)} |`,
  );
}

async function nyala(args: Args, lines: string[]): Promise<void> {
  const data = path.join(SHARED, 'nyala-train');
  if (!existsSync(data)) return void lines.push(`nyala: skipped (${data} absent)`);
  const ds = await loadUsableDataset(data, () => {});
  // the individuals the training run held out: the same split as `whaleid train --val-share 0.3` (seed 0)
  const split = splitByIndividuals(ds.train.map((p) => p.id), { valShare: 0.3, seed: 0 });
  const trained = new Set(split.train.map((i) => ds.train[i].id));
  const photos = ds.train.filter((p) => !trained.has(p.id));
  const requests: CropRequest[] = photos.map((p) => ({ file: p.file }));
  const scorer = args.nyalaRun ? await openRunScorer(args.nyalaRun, { cacheDir: path.join(args.cache, 'grey') }) : null;
  const sides = { siamese: scorer ? (q: readonly CropRequest[], g: readonly CropRequest[]) => scorer.scoreMatrix(q, g) : undefined, local: localSide(args) };
  const kinds = kindsFor(scorer);
  lines.push(`### nyala: ${photos.length} photos of ${new Set(photos.map((p) => p.id)).size} held-out individuals`, '');
  lines.push('Closed set, leave one out (gallery: every other held-out photo; the fusion fitted on 30% of the individuals, figures on the other 70%):', '');
  lines.push('| gallery | matcher | test queries | top-1 | top-5 | MAP@5 |', '|---|---|---|---|---|---|');
  const t0 = performance.now();
  const within = await evaluateClosedSet(photos, requests, kinds, sides, { view: /left|right/, seed: 0 });
  lines.push(...closedRows('within a flank', within));
  const all = await evaluateClosedSet(photos, requests, kinds, sides, { seed: 0 });
  lines.push(...closedRows('all photos', all));
  lines.push('', `(chance top-1 within a flank: about ${pct(1 / new Set(photos.map((p) => p.id)).size)}; ${((performance.now() - t0) / 1000).toFixed(0)} s)`, '');
  const open = await evaluateOpenSetMatchers(photos, requests, kinds, sides, { seed: 0 });
  lines.push('Open set (`evaluate-open` protocol: one gallery photo per known individual, 30% new individuals, threshold calibrated on a calibration part):', '');
  lines.push('| matcher | test queries | MAP@5 | top-1 | new_whale precision | recall |', '|---|---|---|---|---|---|');
  for (const [kind, r] of Object.entries(open.results)) lines.push(`| ${kind} | ${r.test.count} | ${r.test.map5.toFixed(3)} | ${pct(r.test.top1)} | ${pct(r.newWhale.precision)} | ${pct(r.newWhale.recall)} |`);
  if (within.fusion) lines.push('', `Fusion weights (within a flank): ${within.fusion.weights.map((w) => w.toFixed(3)).join(', ')}, bias ${within.fusion.bias.toFixed(3)} on ${within.fusion.fittedOn.queries} queries`);
  lines.push('');
  await scorer?.dispose();
}

async function humpback(args: Args, lines: string[]): Promise<void> {
  const kaggle = path.join(SHARED, 'humpback-kaggle', 'kaggle2019');
  const fb = path.join(SHARED, 'humpback-kaggle', 'flukebook-examples', 'images');
  if (!existsSync(kaggle) || !existsSync(fb)) return void lines.push(`humpback: skipped (${kaggle} absent)`);
  const boxes = await readBoxes(path.join(kaggle, 'bounding_boxes__RenatoOAAguiar.csv'));
  const names = [...readdirSync(path.join(kaggle, 'sample_flukes')).sort(), ...readdirSync(fb).sort()];
  const requests: CropRequest[] = names.map((f) => (boxes.has(f) ? { file: path.join(kaggle, 'sample_flukes', f), box: boxes.get(f) } : { file: path.join(fb, f) }));
  const side = localSide(args);
  const g = await scoreGallery({ queries: requests, gallery: requests, galleryIds: names, local: side, skip: (q, p) => q === p });
  const rankOf = (a: string, b: string): number => ranksOf(matcherOf('local').rank(g.scores[names.indexOf(a)]).score.map((v, i) => (g.individuals[i] === a ? -Infinity : v)))[g.individuals.indexOf(b)];
  lines.push(`### humpback: 15 Kaggle sample flukes + 19 Flukebook photos (every photo its own individual)`, '');
  lines.push(`The true pair w_ac2c28e with the local matcher: 0e6abdd05 ranks d6dce5f26 ${rankOf('0e6abdd05.jpg', 'd6dce5f26.jpg')} of 33; d6dce5f26 ranks 0e6abdd05 ${rankOf('d6dce5f26.jpg', '0e6abdd05.jpg')} of 33 (1 = first candidate). No Siamese run was trained on real flukes, so there is no fused figure.`, '');
}

async function synthetic(args: Args, lines: string[]): Promise<void> {
  if (!args.synth || !existsSync(args.synth)) return void lines.push('synthetic: skipped (give --synth DIR, a `whaleid synth` catalog)', '');
  const ds = await loadUsableDataset(args.synth, () => {});
  const truth = new Map((await import('../src/data/labels.js').then((m) => m.readLabels(path.join(args.synth!, 'test_truth.csv')))).map((r) => [r.image, r.id]));
  const { loadPhotoExtras } = await import('../src/image/photo-extras.js');
  const extras = await loadPhotoExtras(ds.root);
  const known = new Set(ds.train.map((p) => p.id));
  // labelled photos: the train photos and the test photos of known individuals
  const photos: LabelledPhoto[] = [...ds.train, ...ds.test.filter((p) => known.has(truth.get(p.image) ?? '')).map((p) => ({ ...p, id: truth.get(p.image)! }))].filter((p) => p.id !== 'new_whale');
  const requests: CropRequest[] = photos.map((p) => ({ file: p.file, ...extras.of(p.image) }));
  const scorer = args.synthRun ? await openRunScorer(args.synthRun, { cacheDir: path.join(args.cache, 'grey') }) : null;
  const sides = { siamese: scorer ? (q: readonly CropRequest[], g: readonly CropRequest[]) => scorer.scoreMatrix(q, g) : undefined, local: localSide(args) };
  // queries: the test photos of known whales (as `whaleid predict` would see them), against every other photo
  const testPhotos = new Set(ds.test.map((p) => p.image));
  const queries = photos.map((p, i) => (testPhotos.has(p.image) ? i : -1)).filter((i) => i >= 0);
  const r = await evaluateClosedSet(photos, requests, kindsFor(scorer), sides, { seed: 0, queries });
  lines.push(`### synthetic: ${args.synth}, the test photos of known whales against every other labelled photo (${photos.length} photos of ${new Set(photos.map((p) => p.id)).size} whales), closed set`, '');
  lines.push('| gallery | matcher | test queries | top-1 | top-5 | MAP@5 |', '|---|---|---|---|---|---|', ...closedRows('all photos', r), '');
  await scorer?.dispose();
}

async function speed(args: Args, lines: string[]): Promise<void> {
  const run = args.synthRun ?? args.nyalaRun;
  if (!args.synth || !run) return void lines.push('speed: skipped (needs --synth and a run)', '');
  const ds = await loadUsableDataset(args.synth, () => {});
  const { loadPhotoExtras } = await import('../src/image/photo-extras.js');
  const extras = await loadPhotoExtras(ds.root);
  const catalog = [...ds.train, ...ds.test.map((p) => ({ ...p, id: p.image }))].slice(0, 1000);
  const requests: CropRequest[] = catalog.map((p) => ({ file: p.file, ...extras.of(p.image) }));
  const scorer = await openRunScorer(run, { cacheDir: path.join(args.cache, 'grey') });
  const side = localSide(args);
  // the catalog is described once (features stored), as a served catalog is
  const catalogFeatures = await scorer.featuresOf(requests);
  const catalogLocal = await describePhotos(side.cache, requests, side.settings, { cacheDir: side.cacheDir });
  const tBuild = performance.now();
  const matcher = createLocalMatcher(await loadOpenCv(), catalogLocal, catalog.map((p) => p.id));
  const buildSeconds = (performance.now() - tBuild) / 1000;
  const { scoreQueries } = await import('../src/infer/score-matrix.js');
  const queries = ds.test.slice(0, 5).map((p) => ({ file: p.file, ...extras.of(p.image) }));
  const model = fitFusion([{ scores: { siamese: Float64Array.of(0.9, 0.1), local: Float64Array.of(3, 0), localRaw: Float64Array.of(4, 1) }, truth: 0 }, { scores: { siamese: Float64Array.of(0.2, 0.8), local: Float64Array.of(0, 2), localRaw: Float64Array.of(0.5, 3) }, truth: 1 }]);
  let siameseMs = 0;
  let fusedMs = 0;
  for (const q of queries) {
    // Siamese only: the query's features, then the head against every catalog photo
    let t = performance.now();
    const qf = await scorer.featuresOf([q]);
    scoreQueries(qf, catalogFeatures, scorer.head);
    siameseMs += performance.now() - t;
    // fused: the same, plus the query's keypoints, the one-vs-many match and the fusion
    t = performance.now();
    const qf2 = await scorer.featuresOf([q]);
    const s2 = scoreQueries(qf2, catalogFeatures, scorer.head);
    const [lf] = await describePhotos(side.cache, [q], side.settings);
    const m = matcher.match(lf);
    const siamese = new Float64Array(matcher.individuals.length);
    s2.forEach((v, p) => (siamese[matcher.individualOf[p]] = Math.max(siamese[matcher.individualOf[p]], v)));
    fusedScores(model, { siamese, local: m.verified, localRaw: m.raw });
    fusedMs += performance.now() - t;
  }
  lines.push(`### speed: one query against a catalog of ${catalog.length} photos (${matcher.index.size} keypoints in the index, built once in ${buildSeconds.toFixed(1)} s), mean of ${queries.length} queries, same run`, '');
  lines.push('| matcher | ms per query |', '|---|---|', `| siamese | ${(siameseMs / queries.length).toFixed(0)} |`, `| fused (siamese + local + fusion) | ${(fusedMs / queries.length).toFixed(0)} |`, '');
  await scorer.dispose();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await initEngine({ backend: 'wasm' });
  const lines = [
    '# Accuracy of the matchers (bench/accuracy.ts)',
    '',
    `Command: \`npm run bench:accuracy -- ${process.argv.slice(2).join(' ')}\` on ${new Date().toISOString().slice(0, 10)}. Local features: AKAZE + KAZE-64 descriptors, ${args.keypoints ?? DEFAULT_LOCAL.maxKeypoints} keypoints on a ${DEFAULT_LOCAL.height} px high crop, LNBNN k=4, RANSAC-verified shortlist of 20.`,
    '',
  ];
  for (const [name, fn] of [['nyala', nyala], ['humpback', humpback], ['speed', speed], ['synthetic', synthetic]] as const) {
    if (!args.only.has(name)) continue;
    const t = performance.now();
    await fn(args, lines);
    console.error(`${name}: ${((performance.now() - t) / 1000).toFixed(0)} s`);
    await writeFileAtomic(args.out, `${lines.join('\n')}\n`);
  }
  console.log(lines.join('\n'));
}

await main();
