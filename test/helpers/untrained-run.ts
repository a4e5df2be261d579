import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { initEngine } from '../../src/model/tfjs/tfjs-backend.js';
import { createSiamese } from '../../src/model/network/siamese.js';
import { saveSiamese } from '../../src/model/folders/model-io.js';
import { exportSiameseOnnx } from '../../src/model/onnx/onnx-export.js';
import { resolveTrainConfig } from '../../src/train/train-config.js';

/**
 * Writes an untrained tiny run (seed 1, 64 px): its model, ONNX export and config, what a service,
 * a worker or predict open. For tests of the machinery around a run (jobs, queues, routes), whose
 * arithmetic is the same as a trained run's; no training, so it costs a second, not a fixture.
 *
 * @param runDir - the run folder (made as needed)
 * @returns `runDir`
 */
export async function writeUntrainedRun(runDir: string): Promise<string> {
  await initEngine({ backend: 'wasm' });
  const siamese = createSiamese({ preset: 'tiny', inputSize: 64, seed: 1 });
  try {
    await saveSiamese(siamese, path.join(runDir, 'model'));
    await exportSiameseOnnx(siamese, path.join(runDir, 'onnx'));
    writeFileSync(path.join(runDir, 'config.json'), JSON.stringify(resolveTrainConfig({ data: '(test)', preset: 'tiny', inputSize: 64 }), null, 2));
  } finally {
    siamese.model.dispose();
  }
  return runDir;
}
