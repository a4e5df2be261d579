/**
 * The network of a run trained before the ONNX export (model/ but no onnx/), exported to ONNX in
 * memory so that it runs like every other run. The only inference path that loads tfjs: it is
 * imported dynamically, and only for such runs.
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../model/tfjs/tfjs-backend.js';
import { loadSiamese } from '../model/folders/model-io.js';
import { exportBranchOnnx, exportHeadOnnx } from '../model/onnx/onnx-export.js';
import { runPaths } from '../model/folders/run-folder.js';

/**
 * Loads a run's model/ with tfjs and exports its branch and head to ONNX bytes.
 *
 * @param runDir - the run folder
 * @param backend - the tfjs backend to start when none is running
 * @returns the bytes of what onnx/branch.onnx and onnx/head.onnx would hold
 * @throws {@link WhaleidError} when model/ is missing or not a whaleid Siamese model
 */
export async function exportRunFromModel(runDir: string, backend: 'wasm' | 'cpu'): Promise<{ branch: Uint8Array; head: Uint8Array }> {
  if ((tf.engine() as unknown as { backendName: string | null }).backendName == null) await initEngine({ backend });
  const siamese = await loadSiamese(runPaths(runDir).model);
  try {
    return { branch: exportBranchOnnx(siamese.branch), head: exportHeadOnnx(siamese.head) };
  } finally {
    siamese.model.dispose();
  }
}
