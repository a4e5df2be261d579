import { describe, it, expect } from 'vitest';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { hasCheckpoint, hasFinalModel, hasOnnxExport, readRunConfig, readRunValidation, runPaths, writeRunConfig, writeRunValidation } from '../../../src/model/folders/run-folder.js';
import { tmpDir } from '../../helpers/tmp.js';

describe('run folder', () => {
  const dir = tmpDir();

  it('names every file of a run once', () => {
    const p = runPaths('runs/a');
    expect(p.config).toBe(path.join('runs/a', 'config.json'));
    expect(p.modelJson).toBe(path.join('runs/a', 'model', 'model.json'));
    expect(p.weightsBin).toBe(path.join('runs/a', 'model', 'weights.bin'));
    expect(p.branchOnnx).toBe(path.join('runs/a', 'onnx', 'branch.onnx'));
    expect(p.headOnnx).toBe(path.join('runs/a', 'onnx', 'head.onnx'));
    expect(p.checkpointOld).toBe(path.join('runs/a', 'checkpoint.old'));
    expect(p.manifest).toBe(path.join('runs/a', 'manifest.json'));
  });

  it('reads back what it writes; a missing file is null, a malformed one a one-line error naming it', async () => {
    const run = path.join(dir, 'a');
    expect(readRunConfig(run)).toBeNull();
    expect(readRunValidation(run)).toBeNull();
    expect([hasFinalModel(run), hasCheckpoint(run), hasOnnxExport(run)]).toEqual([false, false, false]);
    await writeRunConfig(run, { data: 'catalog', preset: 'tiny' });
    expect(readRunConfig(run)).toEqual({ data: 'catalog', preset: 'tiny' });
    expect(JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8'))).toEqual({ data: 'catalog', preset: 'tiny' });
    await writeRunValidation(run, { map5: 0.5, threshold: 0.9 });
    expect(readRunValidation(run)).toEqual({ map5: 0.5, threshold: 0.9 });
    writeFileSync(path.join(run, 'validation.json'), '{"map5":"high"}');
    expect(() => readRunValidation(run)).toThrow(`${path.join(run, 'validation.json')}: expected a number for map5`);
    writeFileSync(path.join(run, 'config.json'), '[1,2]');
    expect(() => readRunConfig(run)).toThrow(`${path.join(run, 'config.json')}: expected a JSON object`);
    writeFileSync(path.join(run, 'config.json'), '{"data":');
    expect(() => readRunConfig(run)).toThrow(/config\.json: not readable JSON/);
    mkdirSync(path.join(run, 'model'));
    writeFileSync(path.join(run, 'model', 'model.json'), '{}');
    expect(hasFinalModel(run)).toBe(true);
  });
});
