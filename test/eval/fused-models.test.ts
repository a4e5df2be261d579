/**
 * Several learned models through the CLI (issue 29): an imported embedding model (the ResNet
 * exported by PyTorch, test/fixtures/embedding-models) in evaluate-open and predict alone, then
 * fused with the shared tiny run and the local matcher, and the two learned models fused without
 * local. The fused scores of predict's top list are computed again here by hand from the parts'
 * scores and the fusion's weights.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { readLabels } from '../../src/data/labels.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

const RESNET = path.resolve(import.meta.dirname, '../fixtures/embedding-models/resnet.onnx');

/** A candidate of predict's `<out>.top.json` for a matcher not ranked by the run's own score. */
interface Candidate {
  id: string;
  score: number;
  siamese: number;
  learned?: number[];
  local?: number;
  localRaw?: number;
  fused: number;
}
interface Fusion {
  version: number;
  models: number;
  local: boolean;
  features: string[];
  weights: number[];
  bias: number;
  modelVersions: string[];
}

const logit = (p: number): number => {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  return Math.log(q / (1 - q));
};

/** 1-based ranks by descending score, ties by descending `tie`, then by individual number. */
function ranks(ids: readonly string[], score: (id: string) => number, tie?: (id: string) => number): Map<string, number> {
  const order = ids.map((id, i) => ({ id, i })).sort((a, b) => score(b.id) - score(a.id) || (tie ? tie(b.id) - tie(a.id) : 0) || a.i - b.i);
  return new Map(order.map((o, r) => [o.id, r + 1]));
}

/** The order of individuals by a score (ties by number), as text. */
const orderBy = (ids: readonly string[], score: (id: string) => number, tie?: (id: string) => number): string => [...ranks(ids, score, tie)].sort((a, b) => a[1] - b[1]).map(([id]) => id).join(' ');

describe('several learned models through the CLI', () => {
  const dir = tmpDir('whaleid-fused-models-');
  const run = path.join(dir, 'full');
  const evalData = path.join(dir, 'eval-catalog');
  const model = path.join(dir, 'resnet');
  const cache = path.join(dir, 'cache');
  let individuals: string[] = [];

  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    await copyFixture('tiny-run', dir);
    // 10 whales x 4 (another seed than the run's): the local matcher's keypoints and matching,
    // most of this file's CPU, grow with the photos (16 x 4: 25 CPU-s for the file, 10 x 4: 15)
    await copyFixture('synth-10x4-s11', evalData);
    const imported = await runCli('model', 'import', '--onnx', RESNET, '--out', model, '--resize', 'crop', '--margin', '0.05', '--threads', '1');
    expect(imported.code, imported.err).toBe(0);
    // the individuals in the order the known photos give them (the ranks' tie-break)
    individuals = [...new Set((await readLabels(path.join(evalData, 'train.csv'))).map((l) => l.id).filter((id) => id !== 'new_whale'))];
  }, 900_000); // the shared fixtures are built when the code that makes them changed

  it('an imported model alone: evaluate-open measures it, predict identifies with it; fused with the run and local, its scores are the same', async () => {
    const open = await runCli('evaluate-open', '--model', model, '--data', evalData, '--split-seed', '2', '--out', path.join(dir, 'alone.csv'), '--quiet');
    expect(open.code, open.err).toBe(0);
    expect(open.out).toMatch(/test: MAP@5 [\d.]+ {2}top-1/);
    expect(JSON.parse(readFileSync(path.join(dir, 'alone.csv.matcher.json'), 'utf8'))).toMatchObject({ matcher: 'siamese' });
    const alone = path.join(dir, 'alone-sub.csv');
    const p = await runCli('predict', '--model', model, '--data', evalData, '--out', alone, '--top-k', '1000', '--quiet');
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/^wrote \d+ predictions/);
    expect(p.err).toMatch(/ONNX Runtime \(imported embedding model, cosine\)/);

    // the run, the imported model and local fused: calibrated by evaluate-open, used by predict
    const fusedOut = path.join(dir, 'fused.csv');
    const e = await runCli('evaluate-open', '--model', run, '--model', model, '--matcher', 'fused', '--data', evalData, '--split-seed', '2', '--out', fusedOut, '--cache', cache, '--quiet');
    expect(e.code, e.err).toBe(0);
    expect(e.err).toMatch(/matcher fused over 2 learned models \(.*, resnet@[0-9a-f]{12}\)/);
    const cal = JSON.parse(readFileSync(`${fusedOut}.matcher.json`, 'utf8')) as { matcher: string; threshold: number; fusion: Fusion };
    expect(cal.fusion).toMatchObject({ version: 2, models: 2, local: true, features: ['logit(siamese)', 'logit(model2)', 'log1p(local)', '1/rank(siamese)', '1/rank(model2)', '1/rank(local)'] });
    expect(cal.fusion.modelVersions[1]).toMatch(/^resnet@/);
    const sub = path.join(dir, 'fused-sub.csv');
    const f = await runCli('predict', '--model', run, '--model', model, '--matcher', 'fused', '--matcher-calibration', `${fusedOut}.matcher.json`, '--data', evalData, '--out', sub, '--cache', cache, '--top-k', '100', '--quiet');
    expect(f.code, f.err).toBe(0);
    const top = JSON.parse(readFileSync(`${sub}.top.json`, 'utf8')) as { image: string; candidates: Candidate[] }[];
    const topAlone = JSON.parse(readFileSync(`${alone}.top.json`, 'utf8')) as { image: string; candidates: { id: string; score: number }[] }[];
    expect(top.length).toBeGreaterThan(0);
    expect(top.map((t) => t.image)).toEqual(topAlone.map((t) => t.image));
    const w = cal.fusion.weights;
    const differs = { siamese: 0, model: 0, local: 0 };
    top.forEach((t, q) => {
      expect(t.candidates.map((c) => c.id).sort()).toEqual([...individuals].sort());
      const by = new Map(t.candidates.map((c) => [c.id, c]));
      // the imported model's score of an individual in the fusion: its best photo's score alone
      for (const c of t.candidates) expect(c.learned![0]).toBeCloseTo(Math.max(...topAlone[q].candidates.filter((a) => a.id === c.id).map((a) => a.score)), 6);
      const rs = ranks(individuals, (id) => by.get(id)!.siamese);
      const r2 = ranks(individuals, (id) => by.get(id)!.learned![0]);
      const rl = ranks(individuals, (id) => by.get(id)!.local!, (id) => by.get(id)!.localRaw!);
      for (const c of t.candidates) {
        const x = [logit(c.siamese), logit(c.learned![0]), Math.log1p(c.local!), 1 / rs.get(c.id)!, 1 / r2.get(c.id)!, 1 / rl.get(c.id)!];
        const hand = 1 / (1 + Math.exp(-(cal.fusion.bias + x.reduce((s, v, j) => s + v * w[j], 0))));
        expect(c.fused).toBeCloseTo(hand, 9);
      }
      const fusedOrder = orderBy(individuals, (id) => by.get(id)!.fused);
      if (fusedOrder !== orderBy(individuals, (id) => by.get(id)!.siamese)) differs.siamese++;
      if (fusedOrder !== orderBy(individuals, (id) => by.get(id)!.learned![0])) differs.model++;
      if (fusedOrder !== orderBy(individuals, (id) => by.get(id)!.local!, (id) => by.get(id)!.localRaw!)) differs.local++;
    });
    // the fused ranking is none of its parts'
    expect(differs.siamese).toBeGreaterThan(0);
    expect(differs.model).toBeGreaterThan(0);
    expect(differs.local).toBeGreaterThan(0);

    // the fusion meets only the models it was fitted on, in their order
    const swapped = await runCli('predict', '--model', model, '--model', run, '--matcher', 'fused', '--matcher-calibration', `${fusedOut}.matcher.json`, '--data', evalData, '--out', path.join(dir, 'swapped.csv'), '--quiet');
    expect(swapped.code).toBe(2);
    // one line says why (after the uncalibrated model's warning), before any photo is read
    expect(swapped.err.trim().split('\n').filter((l) => l.startsWith('whaleid:'))).toHaveLength(1);
    expect(swapped.err.trim().split('\n').at(-1)).toMatch(/^whaleid: .*fused\.csv\.matcher\.json: the fusion was fitted on the models .*; --model gives resnet@/);
    const one = await runCli('predict', '--model', run, '--matcher', 'fused', '--matcher-calibration', `${fusedOut}.matcher.json`, '--data', evalData, '--out', path.join(dir, 'one.csv'), '--quiet');
    expect(one.code).toBe(2);
    expect(one.err).toMatch(/the fusion was fitted on 2 learned model\(s\), 1 given by --model/);
  }, 1_200_000); // 397 s under a load of 26 on 2 cores

  it('two learned models fused without local (fused-learned); several models refused where they mean nothing', async () => {
    const out = path.join(dir, 'learned.csv');
    const e = await runCli('evaluate-open', '--model', run, '--model', model, '--matcher', 'fused-learned', '--data', evalData, '--split-seed', '2', '--out', out, '--cache', cache, '--quiet');
    expect(e.code, e.err).toBe(0);
    const cal = JSON.parse(readFileSync(`${out}.matcher.json`, 'utf8')) as { fusion: Fusion };
    expect(cal.fusion).toMatchObject({ version: 2, models: 2, local: false });
    const sub = path.join(dir, 'learned-sub.csv');
    const p = await runCli('predict', '--model', run, '--model', model, '--matcher', 'fused-learned', '--matcher-calibration', `${out}.matcher.json`, '--data', evalData, '--out', sub, '--cache', cache, '--top-k', '100', '--quiet');
    expect(p.code, p.err).toBe(0);
    const top = JSON.parse(readFileSync(`${sub}.top.json`, 'utf8')) as { candidates: Candidate[] }[];
    const w = cal.fusion.weights;
    for (const t of top) {
      const by = new Map(t.candidates.map((c) => [c.id, c]));
      const rs = ranks(individuals, (id) => by.get(id)!.siamese);
      const r2 = ranks(individuals, (id) => by.get(id)!.learned![0]);
      for (const c of t.candidates) {
        expect(c.local).toBeUndefined();
        const x = [logit(c.siamese), logit(c.learned![0]), 1 / rs.get(c.id)!, 1 / r2.get(c.id)!];
        expect(c.fused).toBeCloseTo(1 / (1 + Math.exp(-(cal.fusion.bias + x.reduce((s, v, j) => s + v * w[j], 0)))), 9);
      }
    }
    const siamese = await runCli('predict', '--model', run, '--model', model, '--data', evalData, '--out', path.join(dir, 'two.csv'), '--quiet');
    expect(siamese.code).toBe(2);
    expect(siamese.err.trim()).toBe('whaleid: --matcher siamese takes 1 --model, got 2; 2 models are ranked by --matcher fused or fused-learned');
    const oneShot = await runCli('evaluate-oneshot', '--model', run, '--model', model, '--data', evalData, '--ways', '4', '--trials', '4');
    expect(oneShot.code).toBe(2);
    expect(oneShot.err.trim().split('\n')).toHaveLength(1);
    expect(oneShot.err).toMatch(/evaluate-oneshot takes one --model \(got 2\)/);
  }, 600_000);
});
