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
  /** CPU threads of libtorch's kernels; default: every core (training-engines.ts's one default). */
  readonly threads?: number;
  /** `fp32` (default) or `bf16` (PyTorch's autocast policy, on the CPU or CUDA). */
  readonly precision?: NativePrecision;
}

/** {@link NativeEngineSettings} resolved against what the addon sees (training-engines.ts's resolveNativeChoice, once per run). */
export interface NativeEngineChoice {
  readonly device: 'cpu' | 'cuda';
  readonly threads: number;
  readonly precision: NativePrecision;
  /** `native (libtorch 1.13.0, cpu, 2 threads)` */
  readonly description: string;
  /** A line for the user where the choice will run slowly (bf16 on a CPU without bf16 instructions). */
  readonly warning?: string;
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
 * A new addon network for a layer spec on the resolved device: the one place the addon's
 * network options are set, so the Siamese engine and the branch classifier run alike.
 *
 * @param spec - the layer spec ({@link layerSpecOf})
 * @param choice - device, threads, precision (resolved once per run in training-engines.ts)
 * @param loss - `binary` for the Siamese head's probability, `softmax` for class numbers, `arcface`
 *   for class numbers through the margin head (the spec's output is the embedding)
 * @param margin - the margin head, with `arcface`
 * @returns the network (the caller disposes it)
 * @throws {@link WhaleidError} without the addon
 * @example
 * const net = createAddonNet(layerSpecOf(siamese.model), { device: 'cpu', threads: 2, precision: 'fp32', description: '' }, 'binary');
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
 * @param options - the run's resolved device, threads and precision, and the micro-batch size
 * @returns the engine; `writeTo(siamese)` before anything reads the Siamese, `dispose()` at the end
 * @throws {@link WhaleidError} without the addon, for a layer the engine cannot run, or bad settings
 * @example
 * const engine = await createNativeTrainingEngine(siamese, { choice: selection.native });
 * const loss = await engine.step(loadPairs, 32);
 * await engine.writeTo(siamese);
 */
export async function createNativeTrainingEngine(siamese: Siamese, options: { choice: NativeEngineChoice; microBatch?: number }): Promise<TrainingEngine> {
  const micro = options.microBatch;
  if (micro !== undefined && (!Number.isSafeInteger(micro) || micro < 1)) throw invalidParameterError('microBatch', 'a positive integer', micro);
  const { choice } = options;
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
    // steps run on libuv's pool, off the JS thread: the next step's crops can load meanwhile
    info: { engine: 'native', device: choice.device, threads: choice.threads, description: choice.description, computesOffThread: true },
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
