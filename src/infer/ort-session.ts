/**
 * Inference with ONNX Runtime (onnxruntime-node, CPU) on the branch and head files written by
 * `src/model/onnx/onnx-export.ts`. On this project's 2-core machine ORT runs the branch several times
 * faster than tfjs-wasm (see bench/infer.ts), so feature extraction and pair scoring use it.
 *
 * Sessions use every requested thread inside an operator (`intraOpNumThreads`, default 2), one
 * operator at a time (the graphs are chains), all graph optimisations (Conv+Relu fusion, layout
 * transforms, constant folding), and by default no busy-waiting between operators (see `spin`).
 *
 * An {@link OrtModel} is any one-input image model with a fixed square input and a flat output:
 * the Siamese branch (photo -> features) and the fluke detector (photo -> box) alike.
 */
import * as ort from 'onnxruntime-node';
import { invalidParameterError, WhaleidError } from '../util/errors.js';

/** Options of {@link createOrtModel} and {@link createOrtHead}. */
export interface OrtSessionOptions {
  /** Threads inside one operator; default 2 (both cores of the reference machine). */
  threads?: number;
  /**
   * Let idle pool threads busy-wait for the next operator (ORT's default); default false. On a
   * shared 2-core machine spinning threads steal the cores the other threads need: measured 23
   * photos/s spinning vs 45 not spinning with 2 threads under load (bench/infer.ts).
   */
  spin?: boolean;
}

/** An image-model session (the branch, or the box regressor): photos in, a vector per photo out. */
export interface OrtModel {
  /** Input side S in pixels (the model's fixed input size). */
  readonly inputSize: number;
  /** Input channels C (1: greyscale). */
  readonly channels: number;
  /** Outputs per photo F (the branch's features, the detector's box coordinates). */
  readonly featureCount: number;
  /**
   * Outputs of `n` photos.
   *
   * @param batch - `n` photos, NHWC float32, `n * S * S * C` values (a longer array is read from the start)
   * @param n - number of photos
   * @returns `n * F` features, photo after photo
   * @throws {@link WhaleidError} when `n` or the batch length is wrong
   */
  features(batch: Float32Array, n: number): Promise<Float32Array>;
  /** Releases the session; the object must not be used afterwards. */
  dispose(): Promise<void>;
}

/** Options of {@link createOrtHead}. */
export interface OrtHeadOptions extends OrtSessionOptions {
  /**
   * Pairs per ORT run; default 64. The head's hidden layer is F x mid floats per pair (64 kB for
   * the kernel head): 64 pairs stay in cache, 8192 pairs stream 0.5 GB through memory, and
   * measured 3x slower per pair (37k vs 12k pairs/s, 1 thread).
   */
  chunk?: number;
}

/** A head session: pairs of feature vectors in, scores out. */
export interface OrtHead {
  /** Features per photo F. */
  readonly featureCount: number;
  /**
   * Scores of `n` pairs (a[i], b[i]).
   *
   * @param a - `n * F` features of the first photos
   * @param b - `n * F` features of the second photos
   * @param n - number of pairs
   * @returns `n` scores (probabilities for the default sigmoid head)
   * @throws {@link WhaleidError} when `n` or an array length is wrong
   */
  score(a: Float32Array, b: Float32Array, n: number): Promise<Float32Array>;
  /** Releases the session; the object must not be used afterwards. */
  dispose(): Promise<void>;
}

function sessionOptions(options: OrtSessionOptions): ort.InferenceSession.SessionOptions {
  const threads = options.threads ?? 2;
  if (!Number.isSafeInteger(threads) || threads < 1 || threads > 1024) throw invalidParameterError('threads', 'an integer between 1 and 1024', threads);
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Flattened by onnxruntime-node into the session config entry "session.intra_op.allow_spinning".
    extra: { session: { intra_op: { allow_spinning: options.spin === true ? '1' : '0' } } },
  };
}

/**
 * Opens an ONNX Runtime session with this project's settings (see the module's comment), for a
 * model of any shape (the imported embedding models of `embedding-model.ts`).
 *
 * @param model - path of the `.onnx` file, or its bytes
 * @param options - see {@link OrtSessionOptions}
 * @returns the session; `release()` it when done
 * @throws {@link WhaleidError} when the file is missing or not a model ONNX Runtime can load
 * @example
 * const session = await openOrtSession('models/a/embedding.onnx', { threads: 1 });
 */
export async function openOrtSession(model: string | Uint8Array, options: OrtSessionOptions = {}): Promise<ort.InferenceSession> {
  return openSession(model, options);
}

async function openSession(model: string | Uint8Array, options: OrtSessionOptions): Promise<ort.InferenceSession> {
  const opts = sessionOptions(options);
  const label = typeof model === 'string' ? model : `(${model.byteLength} bytes)`;
  try {
    return typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
  } catch (err) {
    throw new WhaleidError(`Cannot load ONNX model ${label}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** The fixed dims of an input or output, or an error naming what does not fit. */
function staticDims(session: ort.InferenceSession, which: 'input' | 'output', index: number, label: string): (number | string)[] {
  const meta = (which === 'input' ? session.inputMetadata : session.outputMetadata)[index];
  if (meta === undefined || !meta.isTensor || meta.type !== 'float32') {
    throw new WhaleidError(`Cannot use ONNX model ${label}: ${which} ${index} is not a float32 tensor`);
  }
  return [...meta.shape];
}

function checkCount(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw invalidParameterError(name, 'a positive integer', n);
}

/**
 * Opens a one-input image model: a branch exported by `exportBranchOnnx` or the box detector (input
 * `[N, S, S, C]`, output `[N, F]`).
 *
 * @param model - path of the `.onnx` file (e.g. `branch.onnx`), or its bytes
 * @param options - see {@link OrtSessionOptions}
 * @returns the session wrapper
 * @throws {@link WhaleidError} when the file is missing or is not a branch model
 * @example
 * const branch = await createOrtModel('runs/a/onnx/branch.onnx');
 * const feats = await branch.features(crops, 16); // 16 * 512 values
 * await branch.dispose();
 */
export async function createOrtModel(model: string | Uint8Array, options: OrtSessionOptions = {}): Promise<OrtModel> {
  const session = await openSession(model, options);
  const label = typeof model === 'string' ? model : 'branch';
  const [input] = session.inputNames;
  const [output] = session.outputNames;
  const inDims = staticDims(session, 'input', 0, label);
  const outDims = staticDims(session, 'output', 0, label);
  const [, h, w, c] = inDims;
  const f = outDims[1];
  if (session.inputNames.length !== 1 || inDims.length !== 4 || h !== w || typeof h !== 'number' || typeof c !== 'number' || typeof f !== 'number') {
    await session.release();
    throw new WhaleidError(`Cannot use ONNX model ${label} as a branch: expected one [N, S, S, C] input and an [N, F] output`);
  }
  const per = h * h * c;
  return {
    inputSize: h,
    channels: c,
    featureCount: f,
    async features(batch, n) {
      checkCount('n', n);
      if (batch.length < n * per) throw invalidParameterError('batch.length', `at least ${n} x ${h} x ${h} x ${c} = ${n * per}`, batch.length);
      const x = new ort.Tensor('float32', batch.length === n * per ? batch : batch.subarray(0, n * per), [n, h, h, c]);
      const result = await session.run({ [input]: x });
      return result[output].data as Float32Array;
    },
    dispose: () => session.release(),
  };
}

/**
 * Opens a head exported by `exportHeadOnnx` (inputs `a`, `b` `[N, F]`, output `[N, 1]`).
 *
 * @param model - path of `head.onnx`, or its bytes
 * @param options - see {@link OrtHeadOptions}
 * @returns the session wrapper
 * @throws {@link WhaleidError} when the file is missing or is not a head model
 * @example
 * const head = await createOrtHead('runs/a/onnx/head.onnx');
 * const p = await head.score(featsA, featsB, 1024); // 1024 probabilities
 * await head.dispose();
 */
export async function createOrtHead(model: string | Uint8Array, options: OrtHeadOptions = {}): Promise<OrtHead> {
  const chunk = options.chunk ?? 64;
  if (!Number.isSafeInteger(chunk) || chunk < 1) throw invalidParameterError('chunk', 'a positive integer', chunk);
  const session = await openSession(model, options);
  const label = typeof model === 'string' ? model : 'head';
  const dimsA = staticDims(session, 'input', 0, label);
  const dimsB = staticDims(session, 'input', 1, label);
  const f = dimsA[1];
  if (session.inputNames.length !== 2 || dimsA.length !== 2 || typeof f !== 'number' || dimsB[1] !== f) {
    await session.release();
    throw new WhaleidError(`Cannot use ONNX model ${label} as a head: expected two [N, F] inputs`);
  }
  const [nameA, nameB] = session.inputNames;
  const [output] = session.outputNames;
  return {
    featureCount: f,
    async score(a, b, n) {
      checkCount('n', n);
      if (a.length < n * f) throw invalidParameterError('a.length', `at least ${n} x ${f} = ${n * f}`, a.length);
      if (b.length < n * f) throw invalidParameterError('b.length', `at least ${n} x ${f} = ${n * f}`, b.length);
      const scores = new Float32Array(n);
      for (let start = 0; start < n; start += chunk) {
        const m = Math.min(chunk, n - start);
        const part = (v: Float32Array) => new ort.Tensor('float32', v.subarray(start * f, (start + m) * f), [m, f]);
        const result = await session.run({ [nameA]: part(a), [nameB]: part(b) });
        scores.set(result[output].data as Float32Array, start);
      }
      return scores;
    },
    dispose: () => session.release(),
  };
}
