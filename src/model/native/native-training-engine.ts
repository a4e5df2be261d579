/**
 * The native training engine: the network's layer spec (layer-spec.ts, walked from the tfjs
 * Siamese) run by libtorch through our N-API addon (native/), on the CPU (oneDNN) or a CUDA GPU.
 * Weights, moving averages and Adam's state cross to and from the tfjs Siamese by tfjs name and
 * layout (siamese-state.ts), so checkpoints, resume, export and prediction see a native run as
 * a wasm run, and either engine can resume the other's run.
 *
 * Steps run as async work on libuv's pool: Node's event loop (progress, Ctrl-C, the service)
 * stays free. With micro-batches the next micro-batch's crops load while the current one runs.
 */
import os from 'node:os';
import { invalidParameterError, WhaleidError } from '../../util/errors.js';
import { layerSpecOf, type LayerSpec } from '../network/layer-spec.js';
import { loadNativeAddon, type AddonArray, type AddonMarginOptions, type AddonNet, type NativeAddon } from './native-addon.js';
import { getLearningRate, type Siamese } from '../network/siamese.js';
import { readAdamState, readSiameseWeights, restoreAdamState, writeSiameseWeights } from '../network/siamese-state.js';
import type { NamedArrays, OptimizerState, PairBatch, TrainingEngine } from '../training-engine.js';

/** Numeric precision of the native engine's steps. */
export type NativePrecision = 'fp32' | 'bf16';

/** How the native engine runs: device, threads, precision (`auto` where a choice can be made). */
export interface NativeEngineSettings {
  /** `auto` (default: cuda when the libtorch has CUDA and sees a GPU), `cpu` or `cuda`. */
  readonly device?: 'auto' | 'cpu' | 'cuda';
  /** CPU threads of libtorch's kernels; default: every core. */
  readonly threads?: number;
  /** `fp32` (default) or `bf16` (autocast; CUDA only). */
  readonly precision?: NativePrecision;
}

/** {@link NativeEngineSettings} resolved against what the addon sees. */
export interface NativeEngineChoice {
  readonly device: 'cpu' | 'cuda';
  readonly threads: number;
  readonly precision: NativePrecision;
  /** `native (libtorch 1.13.0, cpu, 2 threads)` */
  readonly description: string;
}

/**
 * The addon, or the one line saying why there is none.
 *
 * @returns the loaded addon
 * @throws {@link WhaleidError} naming why the native engine is unavailable
 * @example
 * const torch = requireAddon().torchInfo();
 */
export function requireAddon(): NativeAddon {
  const native = loadNativeAddon();
  if (!native.available) throw new WhaleidError(`--engine native: ${native.reason}`);
  return native.addon;
}

/**
 * Resolves device, threads and precision for this machine.
 *
 * @param settings - what was asked (unset: auto device, every core, fp32)
 * @returns the choice and its one-line description
 * @throws {@link WhaleidError} without the addon, for cuda where none is seen, bf16 off CUDA, or bad threads
 * @example
 * resolveNativeChoice({ device: 'auto' }).description; // 'native (libtorch 1.13.0, cpu, 2 threads, fp32)'
 */
export function resolveNativeChoice(settings: NativeEngineSettings = {}): NativeEngineChoice {
  const torch = requireAddon().torchInfo();
  const asked = settings.device ?? 'auto';
  if (asked !== 'auto' && asked !== 'cpu' && asked !== 'cuda') throw invalidParameterError('--device', 'auto, cpu or cuda', asked);
  if (asked === 'cuda' && !torch.cudaAvailable) throw new WhaleidError(`--device cuda: libtorch ${torch.version} sees no CUDA GPU (a CPU-only build, or no driver/device)`);
  const device = asked === 'auto' ? (torch.cudaAvailable ? 'cuda' : 'cpu') : asked;
  const threads = settings.threads ?? Math.min(8, os.availableParallelism());
  if (!Number.isSafeInteger(threads) || threads < 1 || threads > 256) throw invalidParameterError('--threads', 'an integer from 1 to 256', threads);
  const precision = settings.precision ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'bf16') throw invalidParameterError('--precision', 'fp32 or bf16', precision);
  if (precision === 'bf16' && device !== 'cuda') throw new WhaleidError('--precision bf16 needs --device cuda (autocast runs on the GPU)');
  const where = device === 'cuda' ? `cuda (${torch.cudaDevices} GPU${torch.cudaDevices === 1 ? '' : 's'})` : `cpu, ${threads} thread${threads === 1 ? '' : 's'}`;
  return { device, threads, precision, description: `native (libtorch ${torch.version}, ${where}, ${precision})` };
}

/**
 * A new addon network for a layer spec on the resolved device: the one place the addon's
 * network options are set, so the Siamese engine and the branch classifier run alike.
 *
 * @param spec - the layer spec ({@link layerSpecOf})
 * @param choice - device, threads, precision ({@link resolveNativeChoice})
 * @param loss - `binary` for the Siamese head's probability, `softmax` for class numbers, `arcface`
 *   for class numbers through the margin head (the spec's output is the embedding)
 * @param margin - the margin head, with `arcface`
 * @returns the network (the caller disposes it)
 * @throws {@link WhaleidError} without the addon
 * @example
 * const net = createAddonNet(layerSpecOf(siamese.model), resolveNativeChoice(), 'binary');
 */
export function createAddonNet(spec: LayerSpec, choice: NativeEngineChoice, loss: 'binary' | 'softmax' | 'arcface', margin?: AddonMarginOptions): AddonNet {
  return new (requireAddon().Net)(spec, {
    device: choice.device,
    threads: choice.threads,
    bf16: choice.precision === 'bf16',
    // NHWC activations and kernels: oneDNN's and cuDNN's fast path (measured on this CPU: 24 vs
    // 17-18 photos per CPU-second at 192 px, PyTorch 24-26 with channels_last too)
    channelsLast: true,
    loss,
    margin,
  });
}

const toAddon = (arrays: NamedArrays): AddonArray[] => [...arrays].map(([name, { values }]) => ({ name, values }));
const fromAddon = (arrays: readonly AddonArray[]): NamedArrays => new Map(arrays.map((a) => [a.name, { shape: a.shape ?? [], values: a.values }]));

/** Adam's moments by `<name>/m|v` as the addon's two lists, and back. */
function momentsToAddon(state: OptimizerState): { iterations: number; m: AddonArray[]; v: AddonArray[] } {
  const m: AddonArray[] = [];
  const v: AddonArray[] = [];
  for (const [key, { values }] of state.moments) {
    const list = key.endsWith('/m') ? m : key.endsWith('/v') ? v : null;
    if (!list) throw new WhaleidError(`Adam state: moment ${key} is neither <weight>/m nor <weight>/v`);
    list.push({ name: key.slice(0, -2), values });
  }
  return { iterations: state.iterations, m, v };
}

function momentsFromAddon(state: { iterations: number; m: AddonArray[]; v: AddonArray[] }): OptimizerState {
  const moments: NamedArrays = new Map();
  for (const [list, suffix] of [[state.m, 'm'], [state.v, 'v']] as const) {
    for (const a of list) moments.set(`${a.name}/${suffix}`, { shape: a.shape ?? [], values: a.values });
  }
  return { iterations: state.iterations, moments };
}

/** Validates a loaded pair batch against the pairs asked for. */
function checked(batch: PairBatch, count: number): PairBatch {
  const n = batch.count * batch.size * batch.size;
  if (batch.count !== count) throw invalidParameterError('PairBatch.count', `${count}`, batch.count);
  if (batch.a.length !== n || batch.b.length !== n) throw invalidParameterError('PairBatch.a/b', `${n} values (${batch.count} crops of ${batch.size}x${batch.size})`, `${batch.a.length} and ${batch.b.length} values`);
  if (batch.labels.length !== batch.count) throw invalidParameterError('PairBatch.labels', `${batch.count} values`, `${batch.labels.length} values`);
  return batch;
}

/**
 * One optimiser step: the pairs in micro-batches of `micro` (the next one loading while the
 * current one runs), gradients weighted by each micro-batch's share, Adam once.
 */
async function nativeStep(net: AddonNet, load: (lo: number, hi: number) => Promise<PairBatch>, pairs: number, micro: number): Promise<number> {
  if (!Number.isSafeInteger(pairs) || pairs < 1) throw invalidParameterError('pairs', 'a positive integer', pairs);
  const parts = Math.ceil(pairs / micro);
  const range = (i: number): [number, number] => [i * micro, Math.min(pairs, (i + 1) * micro)];
  let next: Promise<PairBatch> = load(...range(0));
  let lossSum = 0;
  try {
    for (let i = 0; i < parts; i++) {
      const [lo, hi] = range(i);
      const batch = checked(await next, hi - lo);
      if (i + 1 < parts) {
        next = load(...range(i + 1));
        next.catch(() => {}); // awaited in the next round; an early failure must not go unhandled
      }
      lossSum += (await net.accumulate(batch.a, batch.b, batch.labels, batch.count, batch.size, batch.count / pairs)) * batch.count;
    }
    await net.applyAdam();
  } catch (e) {
    net.clearGradients();
    throw e;
  }
  return lossSum / pairs;
}

/**
 * A native training engine for `siamese`, starting from its weights, moving averages, Adam state
 * and learning rate.
 *
 * @param siamese - the compiled network (the one definition: its layer spec is built here)
 * @param options - micro-batch size and {@link NativeEngineSettings}
 * @returns the engine; `writeTo(siamese)` before anything reads the Siamese, `dispose()` at the end
 * @throws {@link WhaleidError} without the addon, for a layer the engine cannot run, or bad settings
 * @example
 * const engine = await createNativeTrainingEngine(siamese, { device: 'cpu', threads: 2 });
 * const loss = await engine.step(loadPairs, 32);
 * await engine.writeTo(siamese);
 */
export async function createNativeTrainingEngine(siamese: Siamese, options: NativeEngineSettings & { microBatch?: number } = {}): Promise<TrainingEngine> {
  const micro = options.microBatch;
  if (micro !== undefined && (!Number.isSafeInteger(micro) || micro < 1)) throw invalidParameterError('microBatch', 'a positive integer', micro);
  const choice = resolveNativeChoice(options);
  let net: AddonNet | null = createAddonNet(layerSpecOf(siamese.model), choice, 'binary');
  const live = (): AddonNet => {
    if (!net) throw new Error('native engine: used after dispose()');
    return net;
  };
  const setState = async (from: Siamese): Promise<void> => {
    live().setWeights(toAddon(readSiameseWeights(from)));
    live().setOptimizerState(momentsToAddon(await readAdamState(from.model)));
  };
  try {
    await setState(siamese);
    live().setLearningRate(getLearningRate(siamese.model));
  } catch (e) {
    net.dispose();
    throw e;
  }
  return {
    info: { engine: 'native', device: choice.device, threads: choice.threads, description: choice.description },
    step: (load, pairs) => nativeStep(live(), load, pairs, Math.min(micro ?? pairs, pairs)),
    setLearningRate: (lr) => {
      if (!Number.isFinite(lr) || lr <= 0) throw invalidParameterError('lr', 'a positive number', lr);
      live().setLearningRate(lr);
    },
    getWeights: () => Promise.resolve(fromAddon(live().getWeights())),
    setWeights: (weights) => Promise.resolve(live().setWeights(toAddon(weights))),
    getOptimizerState: () => Promise.resolve(momentsFromAddon(live().getOptimizerState())),
    setOptimizerState: (state) => Promise.resolve(live().setOptimizerState(momentsToAddon(state))),
    async writeTo(target) {
      writeSiameseWeights(target, fromAddon(live().getWeights()));
      await restoreAdamState(target.model, momentsFromAddon(live().getOptimizerState()));
    },
    async dispose() {
      net?.dispose();
      net = null;
    },
  };
}
