/**
 * Imported embedding models (`whaleid model import`) on ONNX Runtime: photos preprocessed as
 * their `preprocessing.json` says, the network's output scaled to unit length, pairs scored by
 * the calibrated cosine. The model is served through the same {@link RunInference} as a trained
 * run, its cosine written in the head's own form (`cosineHeadWeights`: two hidden units), so the
 * score kernel, the walk, thresholds, shards, the catalog's feature store and fusion use it
 * without knowing where it came from.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { channelCount, embeddingInputBuffer, type Preprocessing } from '../image/embedding-input.js';
import { cosineHeadWeights, unitRowsInPlace } from '../model/network/head-weights.js';
import { checkModelFolder, modelFolderPaths, readModelCalibration, readModelCentre, readModelPreprocessing, type FeatureCentre, type ModelCalibration } from '../model/folders/model-folder.js';
import { openTorchScriptEmbedder } from '../model/native/native-backbone.js';
import { checkModelIdentity } from '../model/folders/run-manifest.js';
import { WhaleidError } from '../util/errors.js';
import { centreInPlace } from './feature-centre.js';
import { openOrtSession, type OrtSessionOptions } from './ort-session.js';
import type { RunInference, RunInferenceOptions } from './run-inference.js';

/**
 * The cosine's calibration before `whaleid model calibrate`: score 0.5 at cosine 0.5, rising
 * by about 0.25 per 0.1 of cosine there. A guess that keeps ranking exact (the cosine's order);
 * only the new-individual decision needs the fitted one.
 */
export const UNCALIBRATED = Object.freeze({ scale: 10, bias: -5 });

/** An open embedding network: photos' input tensors in, unit-length embeddings out. */
export interface EmbeddingSession {
  readonly inputSize: number;
  /** Embedding size D. */
  readonly featureCount: number;
  /**
   * Unit-length embeddings of `n` photos.
   *
   * @param batch - `n` input tensors, photo after photo (as `embeddingInputBuffer` makes them)
   * @param n - number of photos
   * @param raw - true: the network's output as it is, not scaled to unit length (for parity checks)
   * @returns `n * D` values
   */
  embed(batch: Float32Array, n: number, raw?: boolean): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** The input's shape for `n` photos, after checking the model's declared input against the preprocessing. */
function inputShape(session: ort.InferenceSession, pre: Preprocessing, label: string): { shape: (n: number) => number[]; batch: number | null } {
  const meta = session.inputMetadata[0];
  const C = channelCount(pre.channels);
  const S = pre.inputSize;
  const want = pre.layout === 'nchw' ? ['N', C, S, S] : ['N', S, S, C];
  if (session.inputNames.length !== 1 || meta === undefined || !meta.isTensor || meta.type !== 'float32' || meta.shape.length !== 4) {
    throw new WhaleidError(`${label}: expected one float32 image input [${want.join(', ')}], got ${session.inputNames.length} input(s)${meta?.isTensor ? ` (the first ${meta.type} [${meta.shape.join(', ')}])` : ''}`);
  }
  const dims = meta.shape;
  for (let i = 1; i < 4; i++) {
    if (typeof dims[i] === 'number' && dims[i] !== want[i]) {
      throw new WhaleidError(`${label}: its input is [${dims.join(', ')}], but the preprocessing gives [${want.join(', ')}] (${pre.layout}, ${pre.channels}, ${S} px); give --input-size, --channels or --layout to match`);
    }
  }
  const batch = typeof dims[0] === 'number' ? dims[0] : null;
  return { shape: (n) => (pre.layout === 'nchw' ? [n, C, S, S] : [n, S, S, C]), batch };
}

/**
 * Opens an embedding network for the given preprocessing: checks that its input fits it and
 * finds the embedding size (from the output's declared shape, or by running one blank photo
 * when that shape is not fixed).
 *
 * @param model - path of the .onnx file, or its bytes
 * @param pre - the model's preprocessing
 * @param label - how to name the model in messages (its path)
 * @param options - ONNX Runtime threads
 * @returns the session
 * @throws {@link WhaleidError} when ONNX Runtime cannot load it, or its input or output does not fit
 * @example
 * const net = await openEmbeddingSession('resnet.onnx', pre, 'resnet.onnx');
 * const unit = await net.embed(await embeddingInputBuffer(photos, pre), photos.length);
 */
export async function openEmbeddingSession(model: string | Uint8Array, pre: Preprocessing, label: string, options: OrtSessionOptions = {}): Promise<EmbeddingSession> {
  const session = await openOrtSession(model, options);
  try {
    const { shape, batch } = inputShape(session, pre, label);
    if (batch !== null && batch !== 1) throw new WhaleidError(`${label}: its batch size is fixed at ${batch}; export it with a dynamic batch axis (torch.onnx.export(..., dynamic_axes={'input': {0: 'batch'}}))`);
    const per = shape(1).reduce((a, b) => a * b, 1);
    const [inName] = session.inputNames;
    const [outName] = session.outputNames;
    const run = async (x: Float32Array, n: number): Promise<Float32Array> => {
      const result = await session.run({ [inName]: new ort.Tensor('float32', x, shape(n)) });
      const out = result[outName];
      if (out.type !== 'float32') throw new WhaleidError(`${label}: its output ${outName} is ${out.type}, expected float32 embeddings`);
      return out.data as Float32Array;
    };
    const outMeta = session.outputMetadata[0];
    const declared = outMeta?.isTensor ? outMeta.shape.slice(1) : [];
    const D = declared.length > 0 && declared.every((d) => typeof d === 'number') ? (declared as number[]).reduce((a, b) => a * b, 1) : (await run(new Float32Array(per), 1)).length;
    if (!(D >= 1)) throw new WhaleidError(`${label}: its output ${outName} is empty`);
    return {
      inputSize: pre.inputSize,
      featureCount: D,
      async embed(x, n, raw = false) {
        const out = new Float32Array(n * D);
        const step = batch === 1 ? 1 : n;
        for (let i = 0; i < n; i += step) {
          const m = Math.min(step, n - i);
          const y = await run(x.subarray(i * per, (i + m) * per), m);
          if (y.length !== m * D) throw new WhaleidError(`${label}: gave ${y.length} values for ${m} photo(s), expected ${m} x ${D}`);
          out.set(y, i * D);
        }
        if (!raw) unitRowsInPlace(out, D);
        return out;
      },
      dispose: () => session.release(),
    };
  } catch (err) {
    await session.release();
    throw err;
  }
}

/** `<folder name>@<12 hex digits>` of the network, its preprocessing and its feature centre: what its features depend on. */
function modelVersionOf(dir: string, embedding: Uint8Array, pre: Preprocessing, centre: Float32Array | null): string {
  const hash = createHash('sha256').update(embedding).update(JSON.stringify(pre));
  // a model without a centre keeps the version it had before centres existed (its stored features stay valid)
  if (centre) hash.update('\0centre\0').update(new Uint8Array(centre.buffer, centre.byteOffset, centre.byteLength));
  return `${path.basename(path.resolve(dir))}@${hash.digest('hex').slice(0, 12)}`;
}

/** An imported model's inference, with what it was calibrated on. */
export interface EmbeddingInference extends RunInference {
  readonly preprocessing: Preprocessing;
  /** Null before `whaleid model calibrate` (the cosine then scores with {@link UNCALIBRATED}). */
  readonly calibration: ModelCalibration | null;
  /** Its feature centre (subtracted before the cosine), or null when it has none or it was left out. */
  readonly centre: FeatureCentre | null;
}

/**
 * Opens an imported model folder for inference, as `openRunInference` opens a trained run: its
 * files are checked against its manifest, its features are the network's unit-length
 * embeddings on ONNX Runtime (centred on its feature centre when it has one, then scaled to unit
 * length again), and its head is the calibrated cosine. Features do not depend on the
 * calibration, so its model version (the catalog's key of stored features) leaves it out; they
 * depend on the centre, which it covers.
 *
 * @param dir - the model folder (written by `whaleid model import`)
 * @param options - threads; warnings (an uncalibrated model); `withoutCentre`: the embeddings as
 *   the network gives them, unit length, even when the model has a centre (to compute a new one)
 * @returns the inference; `dispose()` when done
 * @throws {@link WhaleidError} naming the file that is wrong or does not match the manifest
 * @example
 * const model = await openEmbeddingInference('models/resnet');
 * const f = await model.features(cache, photos, { size: model.inputSize });
 */
export async function openEmbeddingInference(dir: string, options: Pick<RunInferenceOptions, 'threads' | 'onWarning'> & { withoutCentre?: boolean } = {}): Promise<EmbeddingInference> {
  const paths = modelFolderPaths(dir);
  const manifest = checkModelFolder(dir);
  const pre = readModelPreprocessing(dir);
  const calibration = readModelCalibration(dir);
  if (calibration === null) (options.onWarning ?? ((l) => process.stderr.write(`${l}\n`)))(`warning: ${dir} is not calibrated (no ${path.basename(paths.calibration)}): its scores use cos ${UNCALIBRATED.scale} - ${-UNCALIBRATED.bias} and the default threshold; run whaleid model calibrate --model ${dir} --data LABELLED_PHOTOS`);
  const bytes = readFileSync(paths.embedding);
  // a fine-tuned TorchScript backbone (whaleid train --backbone) runs on libtorch, not ONNX Runtime
  const torchscript = paths.embedding.endsWith('.pt');
  let centre: FeatureCentre | null = null;
  const net = torchscript ? await openTorchScriptEmbedder(paths.embedding, pre.inputSize, options.threads) : await openEmbeddingSession(bytes, pre, paths.embedding, { threads: options.threads });
  try {
    checkModelIdentity(dir, manifest, { inputSize: pre.inputSize, features: net.featureCount }, paths.embedding);
    centre = options.withoutCentre ? null : readModelCentre(dir, net.featureCount);
  } catch (err) {
    await net.dispose();
    throw err;
  }
  const { scale, bias } = calibration ?? UNCALIBRATED;
  return {
    runDir: dir,
    inputSize: pre.inputSize,
    featureCount: net.featureCount,
    head: cosineHeadWeights(net.featureCount, scale, bias),
    modelVersion: modelVersionOf(dir, bytes, pre, centre?.values ?? null),
    engine: torchscript ? 'libtorch (fine-tuned TorchScript backbone, cosine)' : 'ONNX Runtime (imported embedding model, cosine)',
    manifest,
    preprocessing: pre,
    calibration,
    centre,
    async features(_cache, requests, _crop, onProgress) {
      // the model's own preprocessing replaces the greyscale cache and the affine crop of runs
      if (requests.some((r) => r.augmentation !== undefined)) throw new WhaleidError(`${dir}: an imported model takes no augmented copies (--tta); leave --tta out`);
      const D = net.featureCount;
      const out = new Float32Array(requests.length * D);
      const bs = 16;
      for (let i = 0; i < requests.length; i += bs) {
        const part = requests.slice(i, i + bs);
        const unit = await net.embed(await embeddingInputBuffer(part, pre), part.length);
        out.set(centre ? centreInPlace(unit, D, centre.values) : unit, i * D);
        onProgress?.(Math.min(requests.length, i + bs), requests.length);
      }
      return out;
    },
    dispose: () => net.dispose(),
  };
}
