/**
 * Pretrained backbones on the native engine: a TorchScript file (what `torch.jit.trace` or
 * `torch.jit.script` writes for a timm or torchvision model) loaded by libtorch in our addon
 * (native/src/script-net.cc), fine-tuned with the margin head (margin-head.ts), and run for
 * embeddings afterwards. There is no ONNX export on this path (libtorch's C++ API has none and no
 * Python runs at run time): a fine-tuned backbone is written as TorchScript and served by
 * libtorch, through the same embedding-session shape as an imported ONNX model.
 *
 * Its state (parameters, buffers such as BatchNorm's running statistics, the margin head, Adam's
 * moments and step count) crosses as named float32 arrays, so a checkpoint holds it bit for bit.
 */
import { unitRowsInPlace } from '../network/head-weights.js';
import { WhaleidError } from '../../util/errors.js';
import { loadNativeAddon, type AddonArray, type AddonMarginOptions, type AddonNet, type NativeAddon } from './native-addon.js';
// a type only: prediction and the service load this module, and must not load tfjs
import type { NativeEngineChoice } from './native-training-engine.js';

function requireAddon(): NativeAddon {
  const native = loadNativeAddon();
  if (!native.available) throw new WhaleidError(`a TorchScript backbone runs on the native engine: ${native.reason}`);
  return native.addon;
}

/** Options of {@link createBackboneNet}. */
export interface BackboneNetOptions {
  /** The margin head (its `features` the backbone's embedding size); unset: embeddings only. */
  readonly margin?: AddonMarginOptions;
  /** The last that many parameter tensors train (0: all). */
  readonly trainable?: number;
  /** Seeds libtorch's generator per step (dropout and the like). */
  readonly seed?: number;
  /** Device and threads ({@link resolveNativeChoice}). */
  readonly choice: Pick<NativeEngineChoice, 'device' | 'threads'>;
}

/**
 * Opens a TorchScript backbone on the addon, with the margin head when training.
 *
 * @param file - the TorchScript file
 * @param options - margin head, trained tensors, seed, device
 * @returns the network (the caller disposes it); its inputs: photos `[n, 3, s, s]`, labels class numbers
 * @throws {@link WhaleidError} without the addon; Error naming the file when libtorch cannot load it
 * @example
 * const net = createBackboneNet('resnet18.pt', { choice: { device: 'cpu', threads: 2 } });
 */
export function createBackboneNet(file: string, options: BackboneNetOptions): AddonNet {
  return new (requireAddon().Net)({ torchscript: file, trainable: options.trainable ?? 0 }, {
    device: options.choice.device,
    threads: options.choice.threads,
    loss: 'arcface',
    margin: options.margin,
    seed: options.seed ?? 0,
  });
}

/**
 * The embedding size of a backbone at an input size: one blank photo through it.
 *
 * @param net - the backbone (any mode)
 * @param inputSize - the side of its input
 * @returns D
 * @example
 * const D = await backboneFeatures(net, 224);
 */
export async function backboneFeatures(net: AddonNet, inputSize: number): Promise<number> {
  const empty = new Float32Array(0);
  return (await net.predict(new Float32Array(3 * inputSize * inputSize), empty, 1, inputSize)).length;
}

/** An open TorchScript embedder, shaped as an imported model's embedding session. */
export interface TorchScriptEmbedder {
  readonly inputSize: number;
  readonly featureCount: number;
  /** Unit-length (or, with `raw`, as they come) embeddings of `n` photos `[n, 3, s, s]`. */
  embed(batch: Float32Array, n: number, raw?: boolean): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * Opens a TorchScript file for inference on libtorch (eval mode: BatchNorm's running statistics).
 *
 * @param file - the TorchScript file (a fine-tuned backbone's `embedding.pt`)
 * @param inputSize - the side of its input
 * @param threads - libtorch's CPU threads
 * @returns the embedder
 * @throws {@link WhaleidError} without the addon; Error naming the file when it cannot be loaded or run
 * @example
 * const e = await openTorchScriptEmbedder('run/model/embedding.pt', 224, 2);
 */
export async function openTorchScriptEmbedder(file: string, inputSize: number, threads = 2): Promise<TorchScriptEmbedder> {
  const net = createBackboneNet(file, { choice: { device: 'cpu', threads } });
  const D = await backboneFeatures(net, inputSize).catch((e: unknown) => {
    net.dispose();
    throw e;
  });
  const empty = new Float32Array(0);
  return {
    inputSize,
    featureCount: D,
    async embed(batch, n, raw = false) {
      const out = await net.predict(batch, empty, n, inputSize);
      return raw ? out : unitRowsInPlace(out, D);
    },
    dispose: () => Promise.resolve(net.dispose()),
  };
}

/** A backbone's whole training state: weights (parameters, buffers, head) and Adam's. */
export interface BackboneState {
  readonly weights: AddonArray[];
  readonly iterations: number;
  readonly m: AddonArray[];
  readonly v: AddonArray[];
}

/**
 * Reads a backbone's training state.
 *
 * @param net - the backbone
 * @returns weights and Adam's state, copies
 * @example
 * const state = readBackboneState(net);
 */
export function readBackboneState(net: AddonNet): BackboneState {
  const { iterations, m, v } = net.getOptimizerState();
  return { weights: net.getWeights(), iterations, m, v };
}

/**
 * Restores a backbone's training state, as {@link readBackboneState} read it.
 *
 * @param net - the backbone (same file and head)
 * @param state - the state
 * @throws Error naming a tensor of another name or size
 * @example
 * writeBackboneState(net, state);
 */
export function writeBackboneState(net: AddonNet, state: BackboneState): void {
  net.setWeights(state.weights);
  net.setOptimizerState({ iterations: state.iterations, m: state.m, v: state.v });
}
