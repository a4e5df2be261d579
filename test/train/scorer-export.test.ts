import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { generateSynthCatalog } from '../../src/data/synth/index.js';
import { startTraining } from '../../src/train/trainer.js';
import { loadSiamese } from '../../src/model/folders/model-io.js';
import { MODEL_PRESETS } from '../../src/model/network/presets.js';
import { readRunValidation, runPaths } from '../../src/model/folders/run-folder.js';
import { readHeadWeightsOnnx } from '../../src/infer/head-onnx.js';
import { createOrtModel } from '../../src/infer/ort-session.js';
import { predictDataset } from '../../src/predict/predict-dataset.js';
import { createRng } from '../../src/util/random.js';
import { tmpDir } from '../helpers/tmp.js';

// One 4-epoch group of a tiny model on a tiny synthetic catalog: seconds on the wasm backend.
const schedule = { name: 'test', groups: [{ epochs: 1, lr: 64e-5, K: 1000 }] };

describe('a run that exports the cosine scorer', () => {
  const dir = tmpDir();
  const catalog = path.join(dir, 'catalog');
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
    await generateSynthCatalog({ out: catalog, individuals: 16, photosPerIndividual: 5, seed: 5 });
  });

  it('writes the normalised branch and the calibrated cosine head to onnx/, keeps the trained head in model/, and predicts with them', async () => {
    const run = path.join(dir, 'cosine');
    await startTraining(run, { data: catalog, preset: 'tiny', inputSize: 64, schedule, batchSize: 16, valShare: 0.4, newShare: 0, seed: 3, warmupEpochs: 8, scorer: 'cosine' });
    const log = readFileSync(path.join(run, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const record = log.find((r) => r.kind === 'scorer');
    expect(record).toMatchObject({ scorer: 'cosine', reason: 'asked for' });
    expect(record.questions).toBeGreaterThan(0);
    const { scale, bias } = record.calibration;
    expect(scale).toBeGreaterThan(0);

    const stored = readRunValidation(run)!;
    expect((stored.scorer as { scorer: string }).scorer).toBe('cosine');
    // the stored figures (the threshold prediction uses among them) are the cosine's
    expect(record.validation).toMatchObject({ map5: stored.map5, threshold: stored.threshold });
    expect(stored.closedTop1).toBe(record.validation.closedTop1);
    // issue 33 item 7: report.html shows the same figures as the console and validation.json, and names the scorer
    const report = readFileSync(runPaths(run).report, 'utf8');
    expect(report).toContain(`Final model: MAP@5 <b>${stored.map5.toFixed(4)}</b> at threshold ${stored.threshold},`);
    expect(report).toContain('Scorer: <b>cosine</b> (asked for).');

    const paths = runPaths(run);
    const head = readHeadWeightsOnnx(paths.headOnnx);
    expect(head.mid).toBe(2);
    expect(Array.from(head.w3).every((w) => Math.abs(w - scale) < 1e-5 * scale)).toBe(true);
    expect(head.b3).toBeCloseTo(bias, 5);

    const branch = await createOrtModel(paths.branchOnnx);
    try {
      const n = 2;
      const rng = createRng(1);
      const photos = Float32Array.from({ length: n * 64 * 64 }, () => rng.uniform(0, 1));
      const f = await branch.features(photos, n);
      for (let i = 0; i < n; i++) expect(Math.hypot(...f.subarray(i * head.features, (i + 1) * head.features))).toBeCloseTo(1, 5);
    } finally {
      await branch.dispose();
    }

    const trained = await loadSiamese(paths.model);
    expect(trained.head.getLayer('head_mlp1').getWeights()[0].shape[3]).toBe(MODEL_PRESETS.tiny.headMid);
    expect(MODEL_PRESETS.tiny.headMid).not.toBe(2);
    trained.model.dispose();

    // prediction loads onnx/ (its manifest checked) and answers every test photo
    const pred = await predictDataset({ runDir: run, data: catalog, tta: 1, seed: 2 });
    expect(pred.predictions.length).toBeGreaterThan(0);
    for (const p of pred.predictions) expect(p.ids.length).toBeGreaterThan(0);
  });
});
