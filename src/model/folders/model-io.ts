/**
 * Saving and loading models in the standard tfjs layers format: a folder with `model.json`
 * (topology, training config, weights manifest) and `weights.bin` (the weights, little-endian,
 * in manifest order). `model.save('file://...')` needs tfjs-node, which cannot be installed here,
 * so this is a small `tf.io.IOHandler` on `node:fs`. The files load in any tfjs (e.g.
 * `tf.loadLayersModel('https://.../model.json')` in a browser) once the custom head layers are
 * registered (importing `head.ts` does that).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { WhaleidError } from '../../util/errors.js';
import { featureCount, resolvePreset, type ModelPreset } from '../network/branch.js';
import '../network/head.js'; // registers the head's custom layers before any model.json is parsed
import { countSharedLossesOnce, getLearningRate, type Siamese, type SiameseConfig } from '../network/siamese.js';
import { MODEL_JSON, WEIGHTS_BIN } from './run-folder.js';

/** File names inside a model folder. */
export { MODEL_JSON, WEIGHTS_BIN };

const BYTES_PER_ELEMENT: Readonly<Record<string, number>> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Accepts a folder, a path to its model.json, or a `file://` URL of either. */
function resolvePaths(location: string): { dir: string; json: string } {
  const p = location.startsWith('file://') ? location.slice('file://'.length) : location;
  if (p.endsWith('.json')) return { dir: path.dirname(p), json: p };
  return { dir: p, json: path.join(p, MODEL_JSON) };
}

/**
 * A `tf.io.IOHandler` that saves to and loads from a folder on disk (`model.json` + `weights.bin`).
 * Each file is written atomically (temp file + rename), weights first, so a reader never sees a
 * model.json whose weights are missing; loading checks the weights' size against the manifest.
 *
 * @param location - a folder, or the path of its model.json (a `file://` prefix is accepted)
 * @returns the handler, for `model.save(handler)` or `tf.loadLayersModel(handler)`
 * @example
 * await model.save(fileSystemHandler('runs/a/model'));
 * const again = await tf.loadLayersModel(fileSystemHandler('runs/a/model'));
 */
export function fileSystemHandler(location: string): tf.io.IOHandler {
  const { dir, json } = resolvePaths(location);
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology == null || artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('fileSystemHandler: only JSON model topologies can be saved');
      }
      const weights = artifacts.weightData == null ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig != null) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata != null) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      if (artifacts.signature != null) modelJson.signature = artifacts.signature;
      await writeFileAtomic(path.join(dir, WEIGHTS_BIN), new Uint8Array(weights));
      await writeFileAtomic(json, JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: weights }) };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      let text: string;
      try {
        text = await fs.readFile(json, 'utf8');
      } catch (err) {
        throw new WhaleidError(`Cannot read model ${json}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(text) as tf.io.ModelJSON;
      } catch (err) {
        throw new WhaleidError(`Cannot parse model ${json}: ${(err as Error).message}`);
      }
      if (modelJson == null || typeof modelJson !== 'object' || modelJson.modelTopology == null) {
        throw new WhaleidError(`Cannot load model ${json}: no modelTopology`);
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: Uint8Array[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const rel of group.paths) {
            const file = path.join(path.dirname(json), rel);
            try {
              buffers.push(await fs.readFile(file));
            } catch (err) {
              throw new WhaleidError(`Cannot read weights ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
            }
          }
        }
        const total = buffers.reduce((n, b) => n + b.byteLength, 0);
        const expected = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * bytesPerElement(s), 0);
        if (total !== expected) {
          throw new WhaleidError(`Cannot load model ${json}: weights are ${total} bytes, the manifest needs ${expected}`);
        }
        const joined = new Uint8Array(total);
        let at = 0;
        for (const b of buffers) {
          joined.set(b, at);
          at += b.byteLength;
        }
        return [specs, joined.buffer];
      });
    },
  };
}

function bytesPerElement(spec: tf.io.WeightsManifestEntry): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const n = BYTES_PER_ELEMENT[dtype];
  if (n === undefined) throw new WhaleidError(`Cannot load weight ${spec.name}: unsupported dtype ${dtype}`);
  return n;
}

/**
 * Saves any layers model (a branch, a head, a pair model) to a folder.
 *
 * @param model - the model
 * @param location - the folder (created if missing; model.json and weights.bin are replaced)
 * @returns tfjs's save result (sizes)
 * @example
 * await saveModel(branch, 'out/branch');
 */
export async function saveModel(model: tf.LayersModel, location: string): Promise<tf.io.SaveResult> {
  return model.save(fileSystemHandler(location));
}

/**
 * Loads a layers model saved by {@link saveModel} (or by tfjs-node / the tfjs converter).
 *
 * @param location - the folder or its model.json
 * @returns the model, compiled if it was saved with a training config
 * @throws {@link WhaleidError} when the files are missing, unreadable or inconsistent
 * @example
 * const branch = await loadModel('out/branch');
 */
export async function loadModel(location: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileSystemHandler(location));
}

/** What {@link saveSiamese} stores in model.json's `userDefinedMetadata`. */
interface StoredConfig {
  whaleid: { preset: ModelPreset; inputSize: number; l2: number; lr: number; seed: number };
}

/**
 * Saves a Siamese network (the pair model with its nested branch and head, and its settings) to a
 * folder in the standard format. Adam's moments are not saved (tfjs does not support it).
 *
 * @param siamese - the network
 * @param location - the folder
 * @returns tfjs's save result
 * @example
 * await saveSiamese(siamese, 'runs/a/epoch-150');
 */
export async function saveSiamese(siamese: Siamese, location: string): Promise<tf.io.SaveResult> {
  const { preset, inputSize, l2, seed } = siamese.config;
  // The current rate, which setLearningRate may have changed since the model was built.
  const lr = siamese.model.optimizer instanceof tf.AdamOptimizer ? getLearningRate(siamese.model) : siamese.config.lr;
  const stored: StoredConfig = { whaleid: { preset, inputSize, l2, lr, seed } };
  siamese.model.setUserDefinedMetadata(stored as unknown as object);
  return siamese.model.save(fileSystemHandler(location));
}

/**
 * Loads a Siamese network saved by {@link saveSiamese}: the compiled pair model, and its branch
 * and head (the same layer objects, so they share the loaded weights).
 *
 * @param location - the folder or its model.json
 * @returns the network
 * @throws {@link WhaleidError} when the files are missing, unreadable, or not a whaleid Siamese model
 * @example
 * const { branch, head } = await loadSiamese('runs/a/epoch-150');
 */
export async function loadSiamese(location: string): Promise<Siamese> {
  const model = await tf.loadLayersModel(fileSystemHandler(location));
  const meta = model.getUserDefinedMetadata() as StoredConfig | undefined;
  const stored = meta?.whaleid;
  const layerNames = new Set(model.layers.map((l) => l.name));
  if (stored == null || !layerNames.has('branch') || !layerNames.has('head')) {
    model.dispose();
    throw new WhaleidError(`Cannot load ${resolvePaths(location).json}: not a whaleid Siamese model (no branch/head or settings)`);
  }
  const branch = model.getLayer('branch') as tf.LayersModel;
  const head = model.getLayer('head') as tf.LayersModel;
  const preset = resolvePreset(stored.preset);
  if (branch.outputs[0].shape[1] !== featureCount(preset)) {
    model.dispose();
    throw new WhaleidError(`Cannot load ${resolvePaths(location).json}: branch output does not match preset ${preset.name}`);
  }
  const config: SiameseConfig = { preset, inputSize: stored.inputSize, l2: stored.l2, lr: stored.lr, seed: stored.seed };
  countSharedLossesOnce(model);
  if (model.optimizer == null) {
    model.compile({ optimizer: tf.train.adam(config.lr), loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  }
  return { branch, head, model, config };
}
