/**
 * Training of the fluke detector: photos with known boxes, the method's augmentation (plus cuts,
 * mirrors and contrast, see box-sample.ts), mean squared error on the 4 box coordinates, Adam.
 * Deterministic for a seed: weights, photo order and every augmentation derive from it.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { createImageCache } from '../image/image-cache.js';
import { decodeSideFor } from '../image/crop.js';
import { sampleCrop } from '../image/sample.js';
import { saveModel } from '../model/folders/model-io.js';
import { exportLayersModelOnnx } from '../model/onnx/onnx-export.js';
import { setLearningRate } from '../model/network/siamese.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { createRng } from '../util/random.js';
import { invalidParameterError, WhaleidError } from '../util/errors.js';
import { createBoxModel } from './box-model.js';
import { BOX_METADATA_KEY, BOX_MODEL_FILES, boxInputMatrix, outputToBox, resolveBoxModelSpec, type BoxModelSpec } from './box-spec.js';
import { drawBoxSample, type BoxAugmentOptions } from './box-sample.js';
import { decodeBoxedPhotos, listBoxedPhotos, type BoxSource, type DecodedBoxedPhoto } from './box-data.js';
import { iou } from './iou.js';

/** Options of {@link trainBoxModel}. */
export interface BoxTrainOptions {
  /** Datasets with boxes. */
  sources: readonly BoxSource[];
  /** Model folder to write. */
  out: string;
  /** Architecture; default the method's (128 px, 64 filters). */
  spec?: Partial<BoxModelSpec>;
  /** Passes over the training photos. Default 16. */
  epochs?: number;
  /** Default 16. */
  batchSize?: number;
  /** Adam's learning rate for the first 60% of the epochs (then /4, then /16 for the last 15%). Default 2e-3. */
  lr?: number;
  /** Share of photos held out to report IoU after each epoch. Default 0.1. */
  valShare?: number;
  /** Default 0. */
  seed?: number;
  augment?: BoxAugmentOptions;
  /** Decoded-photo cache folder; none when absent. */
  cacheDir?: string;
  /** Recorded in training.json (the command that made the model). */
  command?: string;
  /** Total steps, once known. */
  onStart?: (totalSteps: number) => void;
  /** After each step, with a status text. */
  onStep?: (status: string) => void;
  /** Lines for the user. */
  onMessage?: (line: string) => void;
  /** Photos decoded so far (progress). */
  onDecode?: (done: number, total: number) => void;
}

/** What a training wrote. */
export interface BoxTrainResult {
  out: string;
  trainPhotos: number;
  valPhotos: number;
  /** Mean IoU on the held-out photos after the last epoch (NaN without any). */
  valIou: number;
  seconds: number;
}

/** Settings stored in model.json, read back by the detector. */
export interface StoredBoxModel {
  spec: BoxModelSpec;
  seed: number;
  epochs: number;
  trainPhotos: number;
  valIou: number;
}

function learningRateAt(epoch: number, epochs: number, lr: number): number {
  const f = epoch / epochs;
  return f < 0.6 ? lr : f < 0.85 ? lr / 4 : lr / 16;
}

/**
 * Inputs of photos without augmentation (as prediction sees them), n * S * S floats.
 *
 * @param photos - decoded photos
 * @param spec - input size and aspect
 * @returns the input buffer
 */
export function boxInputs(photos: readonly { img: DecodedBoxedPhoto['img'] }[], spec: Pick<BoxModelSpec, 'inputSize' | 'aspect'>): Float32Array {
  const per = spec.inputSize * spec.inputSize;
  const buf = new Float32Array(photos.length * per);
  photos.forEach((p, i) => buf.set(sampleCrop(p.img, boxInputMatrix(p.img.originalWidth, p.img.originalHeight, spec), spec.inputSize), i * per));
  return buf;
}

/** Mean IoU of a tfjs box model on photos with known boxes (no augmentation). */
function meanIouOf(model: tf.LayersModel, photos: readonly DecodedBoxedPhoto[], inputs: Float32Array, spec: BoxModelSpec): number {
  if (photos.length === 0) return NaN;
  const S = spec.inputSize;
  let sum = 0;
  for (let i = 0; i < photos.length; i += 32) {
    const n = Math.min(32, photos.length - i);
    const y = tf.tidy(() => (model.predict(tf.tensor4d(inputs.subarray(i * S * S, (i + n) * S * S), [n, S, S, 1])) as tf.Tensor).dataSync());
    for (let k = 0; k < n; k++) {
      const { img, box } = photos[i + k];
      const W = img.originalWidth;
      const H = img.originalHeight;
      sum += iou(outputToBox(y, boxInputMatrix(W, H, spec), S, W, H, 4 * k), box);
    }
  }
  return sum / photos.length;
}

/**
 * Trains a box model and writes its folder: `model.json` + `weights.bin` (tfjs), `model.onnx`
 * (what prediction runs), `training.json` (options, photos, held-out IoU, time) and `log.jsonl`
 * (one line per epoch).
 *
 * @param o - see {@link BoxTrainOptions}
 * @returns counts, held-out IoU and duration
 * @throws {@link WhaleidError} for bad options, unusable datasets or boxes CSVs, or too few photos
 * @example
 * await trainBoxModel({ sources: [{ data: 'catalog' }], out: 'models/fluke-boxes', epochs: 16, seed: 1 });
 */
export async function trainBoxModel(o: BoxTrainOptions): Promise<BoxTrainResult> {
  const t0 = Date.now();
  const say = o.onMessage ?? (() => {});
  const spec = resolveBoxModelSpec(o.spec);
  const epochs = o.epochs ?? 16;
  const batchSize = o.batchSize ?? 16;
  const lr = o.lr ?? 2e-3;
  const valShare = o.valShare ?? 0.1;
  const seed = o.seed ?? 0;
  if (!Number.isSafeInteger(epochs) || epochs < 1) throw invalidParameterError('epochs', 'a positive integer', epochs);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw invalidParameterError('batchSize', 'a positive integer', batchSize);
  if (!(lr > 0 && Number.isFinite(lr))) throw invalidParameterError('lr', 'a positive number', lr);
  if (!(valShare >= 0 && valShare < 1)) throw invalidParameterError('valShare', 'a number in [0, 1)', valShare);
  if (o.sources.length === 0) throw new WhaleidError('no training data: give at least one --data folder');

  const listed = await listBoxedPhotos(o.sources, say);
  const cache = createImageCache({ dir: o.cacheDir, maxSide: decodeSideFor(spec.inputSize) });
  let decodedCount = 0;
  const photos = await decodeBoxedPhotos(listed, cache, say, () => o.onDecode?.(++decodedCount, listed.length));
  const order = createRng(seed).fork('split').shuffle(photos.map((_, i) => i));
  const nVal = Math.min(photos.length - 1, Math.round(photos.length * valShare));
  const val = order.slice(0, nVal).sort((a, b) => a - b).map((i) => photos[i]);
  const train = order.slice(nVal).sort((a, b) => a - b).map((i) => photos[i]);
  if (train.length < 1) throw new WhaleidError('no photo left to train on');
  say(`${train.length} training photos, ${val.length} held out; ${epochs} epochs of ${Math.ceil(train.length / batchSize)} steps (batch ${batchSize})`);
  const valInputs = boxInputs(val, spec);

  const model = createBoxModel(spec, seed);
  model.compile({ optimizer: tf.train.adam(lr), loss: 'meanSquaredError' });
  await fs.mkdir(o.out, { recursive: true });
  const logFile = path.join(o.out, BOX_MODEL_FILES.log);
  await writeFileAtomic(logFile, '');
  const steps = Math.ceil(train.length / batchSize);
  o.onStart?.(epochs * steps);
  const S = spec.inputSize;
  let valIou = NaN;
  try {
    for (let e = 0; e < epochs; e++) {
      const rate = learningRateAt(e, epochs, lr);
      setLearningRate(model, rate);
      const epochRng = createRng(seed).fork(`epoch-${e}`);
      const idx = epochRng.shuffle(train.map((_, i) => i));
      let lossSum = 0;
      for (let s = 0; s < steps; s++) {
        const batch = idx.slice(s * batchSize, (s + 1) * batchSize);
        const xs = new Float32Array(batch.length * S * S);
        const ys = new Float32Array(batch.length * 4);
        batch.forEach((i, k) => {
          // One generator per (epoch, photo): the same sample whatever the batch size or order.
          const sample = drawBoxSample(train[i].img, train[i].box, spec, createRng(seed).fork(`sample-${e}-${train[i].key}`), o.augment);
          xs.set(sample.pixels, k * S * S);
          ys.set(sample.target, k * 4);
        });
        const x = tf.tensor4d(xs, [batch.length, S, S, 1]);
        const y = tf.tensor2d(ys, [batch.length, 4]);
        const out = await model.trainOnBatch(x, y);
        tf.dispose([x, y]);
        const loss = Array.isArray(out) ? out[0] : out;
        lossSum += loss;
        o.onStep?.(`epoch ${e + 1}/${epochs} loss ${loss.toFixed(4)}${Number.isNaN(valIou) ? '' : ` held-out IoU ${valIou.toFixed(3)}`}`);
        // A step is synchronous wasm work: yield once so timers (the progress display) can run.
        await new Promise((resolve) => setImmediate(resolve));
      }
      valIou = meanIouOf(model, val, valInputs, spec);
      const record = { epoch: e + 1, loss: lossSum / steps, lr: rate, valIou: Number.isNaN(valIou) ? null : valIou, seconds: (Date.now() - t0) / 1000 };
      await fs.appendFile(logFile, JSON.stringify(record) + '\n');
      say(`epoch ${e + 1}: loss ${record.loss.toFixed(5)}${Number.isNaN(valIou) ? '' : `, held-out mean IoU ${valIou.toFixed(3)}`}`);
    }
    const stored: StoredBoxModel = { spec, seed, epochs, trainPhotos: train.length, valIou };
    model.setUserDefinedMetadata({ [BOX_METADATA_KEY]: stored });
    await saveModel(model, o.out);
    const onnx = exportLayersModelOnnx(model, {
      inputNames: ['image'],
      outputNames: ['box'],
      metadata: { 'whaleid.kind': 'fluke-boxes', 'whaleid.input_size': String(S), 'whaleid.aspect': String(spec.aspect) },
    });
    await writeFileAtomic(path.join(o.out, BOX_MODEL_FILES.onnx), onnx);
    const seconds = (Date.now() - t0) / 1000;
    const summary = {
      command: o.command,
      sources: o.sources,
      spec,
      epochs,
      batchSize,
      lr,
      valShare,
      seed,
      augment: o.augment ?? {},
      trainPhotos: train.length,
      valPhotos: val.length,
      valIou: Number.isNaN(valIou) ? null : valIou,
      parameters: model.countParams(),
      seconds,
      engine: `tfjs ${tf.version_core} ${tf.getBackend()}`,
    };
    await writeFileAtomic(path.join(o.out, BOX_MODEL_FILES.summary), JSON.stringify(summary, null, 2) + '\n');
    return { out: o.out, trainPhotos: train.length, valPhotos: val.length, valIou, seconds };
  } finally {
    model.dispose();
  }
}
