/**
 * Centred cosine (src/infer/feature-centre.ts) on Omniglot's one-shot protocol: a run's unit
 * branch features scored by the plain cosine, by the cosine centred on the mean feature of its
 * training photos (what `whaleid model calibrate --centre data` stores for an imported model,
 * computed on the photos it is calibrated on), and centred on the mean of the evaluation photos.
 * The trials are evaluate-oneshot's (same seed, ways, alphabets).
 *
 * Usage: npx tsx bench/centred-cosine.ts RUN TRAIN_PHOTOS EVAL_PHOTOS [ALPHABET,ALPHABET,...]
 * e.g. npx tsx bench/centred-cosine.ts runs/om-arc200 omniglot/images_background_small1 \
 *        omniglot/images_background_small2 'Japanese_(katakana),Sanskrit,Tagalog'
 */
import { loadUsableDataset } from '../src/data/dataset.js';
import { evaluateOneShotRun } from '../src/eval/evaluate-run.js';
import { openRunScorer } from '../src/eval/run-scorer.js';
import { centreInPlace, meanFeature } from '../src/infer/feature-centre.js';
import { unitRowsInPlace } from '../src/model/network/head-weights.js';

const [run, trainData, evalData, only] = process.argv.slice(2);
if (!run || !trainData || !evalData) throw new Error('usage: bench/centred-cosine.ts RUN TRAIN_PHOTOS EVAL_PHOTOS [ALPHABETS]');
const scorer = await openRunScorer(run, {});
const F = scorer.head.features;
const unit = new Map<string, Float32Array>();

/** Unit-length features of the photos not seen yet. */
async function describe(files: string[]): Promise<void> {
  const todo = [...new Set(files)].filter((f) => !unit.has(f));
  for (let i = 0; i < todo.length; i += 256) {
    const chunk = todo.slice(i, i + 256);
    // scaled to unit length (the run's branch need not be), as an imported model's embeddings are
    const f = unitRowsInPlace(await scorer.featuresOf(chunk.map((file) => ({ file }))), F);
    chunk.forEach((file, j) => unit.set(file, f.slice(j * F, (j + 1) * F)));
  }
}

/** The mean unit feature of photos. */
function centreOf(files: string[]): Float32Array {
  const x = new Float32Array(files.length * F);
  files.forEach((f, i) => x.set(unit.get(f)!, i * F));
  return meanFeature(x, F);
}

const trainFiles = (await loadUsableDataset(trainData, () => {})).train.map((p) => p.file);
await describe(trainFiles);
const trainCentre = centreOf(trainFiles);
// the evaluation pool: the photos of the alphabets the trials are drawn from
const alphabets = only ? only.split(',') : null;
const evalFiles = (await loadUsableDataset(evalData, () => {})).train.map((p) => p.file).filter((f) => !alphabets || alphabets.some((a) => f.includes(`/${a}/`)));
await describe(evalFiles);
const evalCentre = centreOf(evalFiles);
const centres: [string, Float32Array | null][] = [['plain cosine', null], [`centred on the ${trainFiles.length} training photos`, trainCentre], [`centred on the ${evalFiles.length} evaluation photos`, evalCentre]];
for (const [name, centre] of centres) {
  // each photo centred once per centre, not once per pair it is in
  const centred = new Map<string, Float32Array>();
  const featureOf = (file: string): Float32Array => {
    let f = centred.get(file);
    if (!f) centred.set(file, (f = centre ? centreInPlace(unit.get(file)!.slice(), F, centre) : unit.get(file)!));
    return f;
  };
  const res = await evaluateOneShotRun({
    runDir: run, data: evalData, only: alphabets ?? undefined, ways: 20, trials: 400, sameGroup: true,
    scorePairs: async (pairs) => {
      await describe(pairs.flat());
      return Float32Array.from(pairs, ([a, b]) => {
        const x = featureOf(a);
        const y = featureOf(b);
        let dot = 0;
        for (let k = 0; k < F; k++) dot += x[k] * y[k];
        return dot;
      });
    },
  });
  console.log(`${run}, ${name}: one-shot accuracy ${(100 * res.meanAccuracy).toFixed(1)}% (pooled ${(100 * res.pooledAccuracy).toFixed(1)}% +- ${(100 * res.standardError).toFixed(1)}, ${res.items.length} queries)`);
}
await scorer.dispose();
