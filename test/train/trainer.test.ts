import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync, existsSync, cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { resumeTraining, startTraining } from '../../src/train/trainer.js';
import { loadSiamese } from '../../src/model/folders/model-io.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyFixture } from '../helpers/fixtures.js';
import { tinyRunConfig } from '../helpers/fixture-builders.js';
import { predictDataset } from '../../src/predict/predict-dataset.js';
import { readLabels } from '../../src/data/labels.js';
import { readCsvFile } from '../../src/data/csv-file.js';
import { runCli } from '../helpers/cli.js';

describe('startTraining and resumeTraining', () => {
  const dir = tmpDir();
  const catalog = path.join(dir, 'catalog');
  // Two 1-epoch groups of a tiny model on a tiny synthetic catalog (12 whales x 4 photos, seed 5):
  // seconds on the wasm backend. The shared tiny run is this configuration's startTraining,
  // made once for the test files that use it (test/helpers/fixture-builders.ts): catalog/, full/
  // and full-result.json (what startTraining returned).
  const config = tinyRunConfig(catalog);
  const schedule = config.schedule;
  // The runs of their own (micro-batches, replicas, the CLI's resume) train on a smaller catalog
  // (10 whales x 3 photos, seed 2): 16 training photos, so each epoch is 2 full steps of 16 pairs
  // (the tiny run's catalog makes 3) and each validation sees fewer photos.
  const small = { ...config, data: path.join(dir, 'small') };
  const one = { ...small, schedule: { name: 'one', groups: [{ epochs: 1, lr: 64e-5, K: 1000 }] } };
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    await copyFixture('tiny-run', dir);
    await copyFixture('synth-10x3-s2', small.data);
  });

  it('writes checkpoints, a JSON-lines log, the model and a report', async () => {
    const run = path.join(dir, 'full');
    const res = JSON.parse(readFileSync(path.join(dir, 'full-result.json'), 'utf8')) as Awaited<ReturnType<typeof startTraining>>;
    expect(res).toMatchObject({ epochs: 2, stopped: false, runDir: expect.stringMatching(/full$/) });
    for (const f of ['config.json', 'log.jsonl', 'report.html', 'model/model.json', 'checkpoint/state.json', 'validation.json']) expect(existsSync(path.join(run, f)), f).toBe(true);
    const log = readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.filter((r) => r.kind === 'epoch').map((r) => r.epoch)).toEqual([1, 2]);
    expect(log.filter((r) => r.kind === 'validation')).toHaveLength(3);
    const report = readFileSync(path.join(run, 'report.html'), 'utf8');
    expect(report).toContain('Validation MAP@5');
    expect(report).toMatch(/chance 0\.\d{3}/);
    expect(report).toMatch(/<img src="data:image\/png;base64,/); // the gallery of validation queries
    await expect(startTraining(run, config)).rejects.toThrow(/already there; use --resume/);

    // prediction with the trained run: one row per test photo, duplicates of training photos answered from them
    const pred = await predictDataset({ runDir: run, data: catalog, tta: 1, seed: 2 });
    const truth = new Map((await readLabels(path.join(catalog, 'test_truth.csv'))).map((r) => [r.image, r.id]));
    expect(pred.predictions.map((p) => p.image).sort()).toEqual([...truth.keys()].sort());
    for (const p of pred.predictions) {
      expect(p.ids.length).toBeGreaterThan(0);
      expect(new Set(p.ids).size).toBe(p.ids.length);
    }
    const dups = (await readCsvFile(path.join(catalog, 'duplicates.csv'))).rows.map((r) => r.fields);
    const trainIds = new Map((await readLabels(path.join(catalog, 'train.csv'))).map((r) => [r.image, r.id]));
    for (const [image, of] of dups) {
      const id = trainIds.get(of);
      const p = pred.predictions.find((x) => x.image === image);
      if (p && id && id !== 'new_whale') expect(p.ids[0]).toBe(id);
    }
    const again = await predictDataset({ runDir: run, data: catalog, tta: 1, seed: 2 });
    expect(again.predictions).toEqual(pred.predictions);
  });

  it('a run stopped after a group and resumed equals an uninterrupted run (same seed)', async () => {
    // the uninterrupted run: the first test's (trained here when this test runs alone)
    const a = path.join(dir, 'full');
    const b = path.join(dir, 'b');
    if (!existsSync(path.join(a, 'model', 'weights.bin'))) await startTraining(a, config);
    // the caller's signal, aborted once the first group's checkpoint is written, stops the run there
    const stop = new AbortController();
    const stopped = await startTraining(b, config, { signal: stop.signal, onCheckpoint: (groups) => groups === 1 && stop.abort() });
    expect(stopped).toMatchObject({ stopped: true, epochs: 1 });
    expect(existsSync(path.join(b, 'model'))).toBe(false);
    expect((await resumeTraining(b)).stopped).toBe(false);
    const logA = readFileSync(path.join(a, 'log.jsonl'), 'utf8').split('\n').map((l) => l.replace(/"seconds":[\d.]+/, ''));
    const logB = readFileSync(path.join(b, 'log.jsonl'), 'utf8').split('\n').map((l) => l.replace(/"seconds":[\d.]+/, ''));
    expect(logB).toEqual(logA);
    const [ma, mb] = await Promise.all([loadSiamese(path.join(a, 'model')), loadSiamese(path.join(b, 'model'))]);
    const wa = ma.model.getWeights();
    const wb = mb.model.getWeights();
    expect(wb.length).toBe(wa.length);
    let maxDiff = 0;
    for (let i = 0; i < wa.length; i++) maxDiff = Math.max(maxDiff, tf.max(tf.abs(tf.sub(wa[i], wb[i]))).dataSync()[0]);
    expect(maxDiff).toBe(0);
    ma.model.dispose();
    mb.model.dispose();

    // stopped in the middle of a group (as Ctrl-C does: after the step in progress), resumed from
    // the group's start: the same log and the same files, bit for bit
    const c = path.join(dir, 'c');
    const midGroup = new AbortController();
    const cut = await startTraining(c, config, { signal: midGroup.signal, onStep: (status) => status.startsWith('epoch 2 ') && midGroup.abort() });
    expect(cut).toMatchObject({ stopped: true, epochs: 1 });
    expect(JSON.parse(readFileSync(path.join(c, 'checkpoint', 'state.json'), 'utf8')).groupsDone).toBe(1);
    await resumeTraining(c);
    expect(readFileSync(path.join(c, 'log.jsonl'), 'utf8').split('\n').map((l) => l.replace(/"seconds":[\d.]+/, ''))).toEqual(logA);
    expect(readFileSync(path.join(c, 'model', 'weights.bin')).equals(readFileSync(path.join(a, 'model', 'weights.bin')))).toBe(true);
  }, 300_000); // four runs' worth of training: 14 s idle, past 120 s on a machine loaded 25 deep

  it('resumes from checkpoint.old when checkpoint/state.json is damaged, through the CLI; with both damaged it says so in one line (exit 2)', async () => {
    const run = path.join(dir, 'damaged');
    const three = { ...small, schedule: { name: 'three', groups: [...schedule.groups, { epochs: 1, lr: 64e-5, K: 1 }] } };
    const stop = new AbortController();
    await startTraining(run, three, { signal: stop.signal, onCheckpoint: (groups) => groups === 2 && stop.abort() });
    writeFileSync(path.join(run, 'checkpoint', 'state.json'), '{"groupsDone": 2, "epo');
    const resumed = await runCli('train', '--resume', run, '--threads', '1', '--quiet');
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.err).toMatch(/checkpoint\/state\.json: not valid JSON .*: resuming from the previous checkpoint, .*checkpoint\.old/);
    expect(resumed.err).toMatch(/resuming after 1 epochs \(1 groups\)/);
    const epochs = readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'epoch').map((r) => r.epoch);
    expect(epochs).toEqual([1, 2, 3]);
    expect(existsSync(path.join(run, 'model', 'weights.bin'))).toBe(true);

    for (const c of ['checkpoint', 'checkpoint.old']) writeFileSync(path.join(run, c, 'state.json'), '[]');
    const config0 = readFileSync(path.join(run, 'config.json'));
    const failed = await runCli('train', '--resume', run, '--threads', '1', '--quiet');
    expect(failed.code).toBe(2);
    expect(failed.err.trim().split('\n')).toHaveLength(1);
    expect(failed.err).toMatch(/no readable checkpoint in .*damaged: .*checkpoint\/state\.json: expected an object with groupsDone, epochsDone and history; .*checkpoint\.old\/state\.json: expected an object/);
    expect(readFileSync(path.join(run, 'config.json')).equals(config0)).toBe(true);
  });

  it('gives photos the boxes CSV lacks the fluke detector\'s box in boxed runs (or none with boxModel none)', async () => {
    const partial = path.join(dir, 'partial');
    cpSync(catalog, partial, { recursive: true });
    const csv = readFileSync(path.join(partial, 'bounding_boxes.csv'), 'utf8').trim().split('\n');
    writeFileSync(path.join(partial, 'bounding_boxes.csv'), [csv[0], ...csv.slice(4)].join('\n') + '\n'); // 3 rows gone
    const onePartial = { ...config, data: partial, schedule: { name: 'one', groups: [{ epochs: 1, lr: 64e-5, K: 1000 }] } };
    const said: string[][] = [[], []];
    // the boxes are settled before the first step (the log lines, predicted-boxes.json): each run
    // stops after its first step instead of training the epoch and exporting the model
    const untilFirstStep = (): { signal: AbortSignal; onStep: (status: string) => void } => {
      const stop = new AbortController();
      return { signal: stop.signal, onStep: (status) => status.startsWith('epoch') && stop.abort() };
    };
    expect(await startTraining(path.join(dir, 'detected'), onePartial, { onMessage: (l) => said[0].push(l), ...untilFirstStep() })).toMatchObject({ stopped: true });
    expect(await startTraining(path.join(dir, 'undetected'), { ...onePartial, boxModel: 'none' }, { onMessage: (l) => said[1].push(l), ...untilFirstStep() })).toMatchObject({ stopped: true });
    const dropped = csv.slice(1, 4).map((l) => l.split(',')[0]);
    const trained = new Set((await readLabels(path.join(partial, 'train.csv'))).filter((r) => r.id !== 'new_whale').map((r) => r.image));
    const n = dropped.filter((d) => trained.has(d)).length;
    expect(n).toBeGreaterThan(0);
    expect(said[0].join('\n')).toMatch(new RegExp(`${n} photos have no box in the boxes CSV: boxes from the fluke detector`));
    expect(existsSync(path.join(dir, 'detected', 'predicted-boxes.json'))).toBe(true);
    expect(said[1].join('\n')).toMatch(new RegExp(`${n} photos have no box in the boxes CSV: used whole`));
  });

  it('trains through micro-batches (gradient accumulation), deterministically, to a different model than whole steps', async () => {
    const runs = ['m1', 'm2', 'whole'].map((n) => path.join(dir, n));
    await startTraining(runs[0], { ...one, microBatch: 4 });
    await startTraining(runs[1], { ...one, microBatch: 4 });
    await startTraining(runs[2], one);
    const epochLoss = (run: string): number => readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((r) => r.kind === 'epoch').loss;
    expect(Number.isFinite(epochLoss(runs[0]))).toBe(true);
    const [m1, m2, whole] = await Promise.all(runs.map((r) => loadSiamese(path.join(r, 'model'))));
    const gap = (x: typeof m1, y: typeof m1): number => Math.max(...x.model.getWeights().map((w, i) => tf.max(tf.abs(tf.sub(w, y.model.getWeights()[i]))).dataSync()[0]));
    expect(gap(m1, m2)).toBe(0);
    // BatchNorm sees micro-batches of 4 pairs instead of 16: close to, but not, the whole-step model
    console.log(`micro-batches of 4 vs whole steps: weights apart by ${gap(m1, whole)}`);
    expect(gap(m1, whole)).toBeGreaterThan(0);
    await expect(startTraining(path.join(dir, 'bad'), { ...one, microBatch: 32 })).rejects.toThrow(/Expected an integer between 1 and the batch size 16 for microBatch/);
    for (const m of [m1, m2, whole]) m.model.dispose();
  });

  it('trains with data-parallel replicas (a worker thread) deterministically, as micro-batches of the same shares would up to BatchNorm averaging', async () => {
    const runs = ['r1', 'r2', 'halves'].map((n) => path.join(dir, n));
    await startTraining(runs[0], { ...one, replicas: 2 });
    await startTraining(runs[1], { ...one, replicas: 2 });
    await startTraining(runs[2], { ...one, microBatch: 8 });
    const [r1, r2, halves] = await Promise.all(runs.map((r) => loadSiamese(path.join(r, 'model'))));
    const gap = (x: typeof r1, y: typeof r1, trainable: boolean): number => {
      const wx = trainable ? x.model.trainableWeights : x.model.weights;
      const wy = trainable ? y.model.trainableWeights : y.model.weights;
      return Math.max(...wx.map((w, i) => tf.max(tf.abs(tf.sub(w.read(), wy[i].read()))).dataSync()[0]));
    };
    expect(gap(r1, r2, false)).toBe(0);
    // the same gradients as two micro-batches of 8 pairs; only the moving averages (which feed
    // later steps' validation, not their gradients) are averaged instead of updated twice
    console.log(`replicas vs micro-batches of 8: trainable weights apart by ${gap(r1, halves, true)}`);
    expect(gap(r1, halves, true)).toBeLessThan(1e-4);
    expect(JSON.parse(readFileSync(path.join(runs[0], 'config.json'), 'utf8')).replicas).toBe(2);
    await expect(startTraining(path.join(dir, 'bad-replicas'), { ...one, replicas: 0 })).rejects.toThrow(/Expected an integer between 1 and 64 for replicas but received 0/);
    for (const m of [r1, r2, halves]) m.model.dispose();
  });
});
