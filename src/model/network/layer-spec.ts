/**
 * The network as a layer spec: the tfjs LayersModel graph (the network's one definition, see
 * `branch.ts` and `head.ts`) walked into a flat list of torch-level ops over numbered values,
 * which the native engine (`native/src/net.cc`) runs with autograd. Nested models (the Siamese
 * model applies its branch twice) are inlined per application, sharing their parameters by name.
 *
 * Layout: tfjs is NHWC, torch's convolutions NCHW. As in the ONNX exporter (`onnx-layers.ts`),
 * every 4-D value remembers its layout and is permuted once, when a consumer needs the other one,
 * so the branch runs NCHW from its entry to its global pool and reshapes/flattens see tfjs's NHWC
 * order. Weights keep tfjs's names and layouts in the spec; the engine converts conv kernels
 * (HWIO -> OIHW) on the way in and back on the way out.
 */
import * as tf from '@tensorflow/tfjs';
import { lastAxis, pair, spatialPads, type Config, type GraphNode } from './layer-config.js';
import { WhaleidError } from '../../util/errors.js';

/** A parameter of the spec: a trainable weight or a BatchNorm moving statistic. */
export interface LayerSpecParam {
  /** tfjs name without the process's uniqueness suffix, `<layer>/<weight>` (e.g. `stem_bn1/gamma`). */
  readonly name: string;
  /** Shape in tfjs layout. */
  readonly shape: readonly number[];
  /** `hwio`: a conv kernel (OIHW inside the engine); `plain`: same layout on both sides. */
  readonly layout: 'hwio' | 'plain';
  readonly trainable: boolean;
  /** Keras L2 factor of the kernel regularizer: the loss adds l2 * sum(w^2); 0 for none. */
  readonly l2: number;
}

/** Activations the engine computes. */
export type SpecActivation = 'linear' | 'relu' | 'sigmoid' | 'tanh';

/** What a node computes; parameter fields are indices into {@link LayerSpec.params}. */
export type LayerSpecOp =
  | { op: 'input'; index: number }
  | { op: 'conv2d'; kernel: number; bias?: number; strides: number[]; dilation: number[]; pads: number[]; activation: SpecActivation }
  | { op: 'batch_norm'; gamma?: number; beta?: number; mean: number; variance: number; epsilon: number; momentum: number }
  | { op: 'max_pool2d'; poolSize: number[]; strides: number[] }
  | { op: 'global_max_pool' | 'global_avg_pool' | 'add' | 'mul' | 'abs_diff' | 'square' }
  | { op: 'activation'; activation: SpecActivation }
  | { op: 'concat'; axis: number }
  | { op: 'reshape'; shape: number[] }
  | { op: 'permute'; perm: number[] }
  | { op: 'dense'; kernel: number; bias?: number; activation: SpecActivation };

/** One torch-level op: reads values `inputs`, writes value `out`. */
export type LayerSpecNode = { readonly inputs: readonly number[]; readonly out: number } & LayerSpecOp;

/** A network for the native engine: inputs are the pair's photos (NHWC), output the probability. */
export interface LayerSpec {
  readonly params: readonly LayerSpecParam[];
  readonly nodes: readonly LayerSpecNode[];
  /** Number of values the nodes write (ids 0..values-1). */
  readonly values: number;
  /** Value id of the model's output. */
  readonly output: number;
}

type Layout = 'nhwc' | 'nchw';
interface Val {
  readonly id: number;
  /** Logical (tfjs) shape without the batch axis. */
  readonly shape: readonly number[];
  readonly layout: Layout;
}

/** Strips tfjs's process-wide uniqueness suffix (`stem_conv/kernel_1` -> `stem_conv/kernel`). */
const weightName = (w: tf.LayerVariable): string => w.originalName;

const unsupported = (layer: tf.layers.Layer, what: string): WhaleidError =>
  new WhaleidError(`The native engine cannot train layer ${layer.name} (${layer.getClassName()}): ${what}`);

function activationOf(layer: tf.layers.Layer, name: unknown): SpecActivation {
  const a = (name ?? 'linear') as string;
  if (a === 'linear' || a === 'relu' || a === 'sigmoid' || a === 'tanh') return a;
  throw unsupported(layer, `activation ${a}`);
}

/** The L2 factor of a layer's kernel regularizer (0 without one); L1 and other regularizers are refused. */
function kernelL2(layer: tf.layers.Layer): number {
  const c = layer.getConfig() as Config;
  if (c.biasRegularizer != null || c.activityRegularizer != null) throw unsupported(layer, 'a bias or activity regularizer');
  const reg = c.kernelRegularizer as { className: string; config: { l1?: number; l2?: number } } | null | undefined;
  if (reg == null) return 0;
  if (reg.className !== 'L1L2' || (reg.config.l1 ?? 0) !== 0) throw unsupported(layer, `kernel regularizer ${reg.className} with L1`);
  return reg.config.l2 ?? 0;
}

interface Builder {
  readonly nodes: LayerSpecNode[];
  readonly params: LayerSpecParam[];
  readonly paramIndex: Map<string, number>;
  /** Cached layout conversions: `${id}@${layout}`. */
  readonly converted: Map<string, Val>;
  next: number;
}

function emit(b: Builder, node: { inputs: number[] } & LayerSpecOp, shape: readonly number[], layout: Layout): Val {
  const out = b.next++;
  b.nodes.push({ ...node, out });
  return { id: out, shape, layout };
}

/** Index of the layer's weight `short` (e.g. `kernel`), adding it on first use; -1 when absent. */
function param(b: Builder, layer: tf.layers.Layer, short: string, layout: 'hwio' | 'plain' = 'plain', l2 = 0): number {
  const w = layer.weights.find((v) => v.originalName.split('/').pop() === short);
  if (w === undefined) return -1;
  const name = weightName(w);
  const known = b.paramIndex.get(name);
  if (known !== undefined) return known;
  b.params.push({ name, shape: [...w.shape] as number[], layout, trainable: w.trainable, l2 });
  b.paramIndex.set(name, b.params.length - 1);
  return b.params.length - 1;
}

const optional = (i: number): number | undefined => (i >= 0 ? i : undefined);

function toLayout(b: Builder, v: Val, want: Layout): Val {
  if (v.shape.length !== 3 || v.layout === want) return v;
  const key = `${v.id}@${want}`;
  const cached = b.converted.get(key);
  if (cached) return cached;
  const perm = want === 'nchw' ? [0, 3, 1, 2] : [0, 2, 3, 1];
  const out = emit(b, { op: 'permute', inputs: [v.id], perm }, v.shape, want);
  b.converted.set(key, out);
  return out;
}

/** Channel axis of the NHWC logical axis `axis` for a value in `layout`. */
function physicalAxis(axis: number, rank: number, layout: Layout): number {
  const a = axis < 0 ? axis + rank : axis;
  return rank === 4 && layout === 'nchw' ? [0, 2, 3, 1][a] : a;
}

type Converter = (b: Builder, node: GraphNode, ins: Val[]) => Val;

function outShape(node: GraphNode): number[] {
  return node.outputs[0].shape.slice(1).map((d) => {
    if (d == null) throw unsupported(node.layer, 'an output of unknown size (set the input size)');
    return d;
  });
}

const conv2d: Converter = (b, node, [x]) => {
  const { layer } = node;
  const c = layer.getConfig() as Config;
  if (c.dataFormat !== 'channelsLast') throw unsupported(layer, `data format ${String(c.dataFormat)}`);
  if (c.groups != null && c.groups !== 1) throw unsupported(layer, 'grouped convolution');
  const kernelSize = pair(c.kernelSize);
  const strides = pair(c.strides);
  const dilation = pair(c.dilationRate ?? 1);
  const pads = spatialPads(layer, node.inputs[0], kernelSize, strides, dilation);
  if (pads === null) throw unsupported(layer, "'same' padding of an input of unknown size");
  const kernel = param(b, layer, 'kernel', 'hwio', kernelL2(layer));
  const bias = optional(param(b, layer, 'bias'));
  const activation = activationOf(layer, c.activation);
  return emit(b, { op: 'conv2d', inputs: [toLayout(b, x, 'nchw').id], kernel, bias, strides, dilation, pads, activation }, outShape(node), 'nchw');
};

const batchNorm: Converter = (b, node, [x]) => {
  const { layer } = node;
  const rank = node.inputs[0].rank;
  if (!lastAxis(layer, rank) || (rank !== 4 && rank !== 2)) throw unsupported(layer, 'BatchNorm on an axis other than the channels');
  const c = layer.getConfig() as Config;
  const input = toLayout(b, x, 'nchw');
  const spec = {
    op: 'batch_norm' as const,
    inputs: [input.id],
    gamma: optional(param(b, layer, 'gamma')),
    beta: optional(param(b, layer, 'beta')),
    mean: param(b, layer, 'moving_mean'),
    variance: param(b, layer, 'moving_variance'),
    epsilon: c.epsilon as number,
    momentum: c.momentum as number,
  };
  return emit(b, spec, input.shape, input.layout);
};

const maxPool: Converter = (b, node, [x]) => {
  const { layer } = node;
  const c = layer.getConfig() as Config;
  if (c.dataFormat !== 'channelsLast') throw unsupported(layer, `data format ${String(c.dataFormat)}`);
  const poolSize = pair(c.poolSize);
  const strides = pair(c.strides ?? c.poolSize);
  const pads = spatialPads(layer, node.inputs[0], poolSize, strides, [1, 1]);
  if (pads === null || pads.some((p) => p !== 0)) throw unsupported(layer, "'same' pooling with padding");
  return emit(b, { op: 'max_pool2d', inputs: [toLayout(b, x, 'nchw').id], poolSize, strides }, outShape(node), 'nchw');
};

function globalPool(op: 'global_max_pool' | 'global_avg_pool'): Converter {
  return (b, node, [x]) => {
    const c = node.layer.getConfig() as Config;
    if (c.dataFormat != null && c.dataFormat !== 'channelsLast') throw unsupported(node.layer, `data format ${String(c.dataFormat)}`);
    if (c.keepDims === true) throw unsupported(node.layer, 'keepDims');
    return emit(b, { op, inputs: [toLayout(b, x, 'nchw').id] }, outShape(node), 'nhwc');
  };
}

function merge(op: 'add' | 'mul' | 'abs_diff'): Converter {
  return (b, node, ins) => {
    const shape = node.inputs[0].shape.join();
    if (node.inputs.some((t) => t.shape.join() !== shape)) throw unsupported(node.layer, 'inputs of different shapes (broadcasting)');
    if (op === 'abs_diff' && ins.length !== 2) throw unsupported(node.layer, 'other than two inputs');
    const xs = ins.map((v) => toLayout(b, v, ins[0].layout));
    return emit(b, { op, inputs: xs.map((v) => v.id) }, xs[0].shape, xs[0].layout);
  };
}

/** Converters by tfjs layer class name. */
const CONVERTERS: Record<string, Converter> = {
  Conv2D: conv2d,
  BatchNormalization: batchNorm,
  MaxPooling2D: maxPool,
  GlobalMaxPooling2D: globalPool('global_max_pool'),
  GlobalAveragePooling2D: globalPool('global_avg_pool'),
  Add: merge('add'),
  Multiply: merge('mul'),
  WhaleidAbsDiff: merge('abs_diff'),
  WhaleidSquare: (b, _node, [x]) => emit(b, { op: 'square', inputs: [x.id] }, x.shape, x.layout),
  Activation: (b, node, [x]) => {
    const activation = activationOf(node.layer, (node.layer.getConfig() as Config).activation);
    return emit(b, { op: 'activation', inputs: [x.id], activation }, x.shape, x.layout);
  },
  Concatenate: (b, node, ins) => {
    const layout = ins[0].layout;
    const axis = physicalAxis(((node.layer.getConfig() as Config).axis as number) ?? -1, node.inputs[0].rank, layout);
    const xs = ins.map((v) => toLayout(b, v, layout));
    return emit(b, { op: 'concat', inputs: xs.map((v) => v.id), axis }, outShape(node), layout);
  },
  Reshape: (b, node, [x]) => {
    const shape = outShape(node);
    return emit(b, { op: 'reshape', inputs: [toLayout(b, x, 'nhwc').id], shape }, shape, 'nhwc');
  },
  Flatten: (b, node, [x]) => emit(b, { op: 'reshape', inputs: [toLayout(b, x, 'nhwc').id], shape: [-1] }, outShape(node), 'nhwc'),
  Dense: (b, node, [x]) => {
    const { layer } = node;
    const kernel = param(b, layer, 'kernel', 'plain', kernelL2(layer));
    const bias = optional(param(b, layer, 'bias'));
    const activation = activationOf(layer, (layer.getConfig() as Config).activation);
    return emit(b, { op: 'dense', inputs: [toLayout(b, x, 'nhwc').id], kernel, bias, activation }, outShape(node), 'nhwc');
  },
};

/**
 * The model's layer applications in the order tfjs's executor runs them: its iterative
 * depth-first walk from the outputs, which pushes a node's inputs in order and so evaluates the
 * last input's subgraph first (tfjs-layers `getTopologicalSortAndRecipientCountsForOneFetch`).
 * The order matters for state: the Siamese model applies its branch to photo b before photo a,
 * and each application updates the BatchNorm moving averages.
 */
function executionNodes(model: tf.LayersModel): GraphNode[] {
  const visited = new Set<string>();
  const sorted: tf.SymbolicTensor[] = [];
  for (const fetch of model.outputs) {
    const stack: tf.SymbolicTensor[] = [fetch];
    const marks: number[] = [];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (visited.has(top.name)) {
        stack.pop();
        continue;
      }
      const marked = marks[marks.length - 1] === stack.length - 1;
      if (top.inputs.length === 0 || marked) {
        stack.pop();
        sorted.push(top);
        visited.add(top.name);
        if (marked) marks.pop();
      } else {
        marks.push(stack.length - 1);
        for (const input of top.inputs) if (!visited.has(input.name)) stack.push(input);
      }
    }
  }
  const seen = new Set<string>();
  const nodes: GraphNode[] = [];
  for (const t of sorted) {
    const layer = t.sourceLayer as tf.layers.Layer;
    const key = `${layer.name}#${t.nodeIndex}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const node = layer.inboundNodes[t.nodeIndex];
    nodes.push({ layer, inputs: node.inputTensors, outputs: node.outputTensors });
  }
  return nodes;
}

/** Emits `model` applied to `inputs` (inlining nested models), returning its outputs' values. */
function emitModel(b: Builder, model: tf.LayersModel, inputs: readonly Val[]): Val[] {
  const local = new Map<number, Val>();
  model.inputs.forEach((t, i) => local.set(t.id, inputs[i]));
  for (const node of executionNodes(model)) {
    if (node.layer.getClassName() === 'InputLayer') {
      if (!local.has(node.outputs[0].id)) throw unsupported(node.layer, 'an input layer that is not a model input');
      continue;
    }
    const ins = node.inputs.map((t) => {
      const v = local.get(t.id);
      if (v === undefined) throw new Error(`layer spec: tensor ${t.name} used before it was emitted`);
      return v;
    });
    if (node.layer instanceof tf.LayersModel) {
      const outs = emitModel(b, node.layer, ins);
      node.outputs.forEach((t, i) => local.set(t.id, outs[i]));
      continue;
    }
    if (node.outputs.length !== 1) throw unsupported(node.layer, `${node.outputs.length} outputs`);
    const convert = CONVERTERS[node.layer.getClassName()];
    if (convert === undefined) throw unsupported(node.layer, 'unsupported layer class');
    local.set(node.outputs[0].id, convert(b, node, ins));
  }
  return model.outputs.map((t) => local.get(t.id)!);
}

/**
 * The layer spec of a pair model (two NHWC photo inputs, one probability output) or of a
 * one-photo model (the branch classifier of the warm-up: one input, class logits out).
 *
 * @param model - the Siamese pair model (`siamese.model`), or any LayersModel with one or two
 *   image inputs of known size and one output
 * @returns the spec (plain data, JSON-serialisable)
 * @throws {@link WhaleidError} for a layer, activation, padding or regularizer the engine cannot run
 * @example
 * const spec = layerSpecOf(siamese.model);
 * spec.params.filter((p) => p.trainable).length; // the model's trainable weights
 */
export function layerSpecOf(model: tf.LayersModel): LayerSpec {
  if (model.inputs.length < 1 || model.inputs.length > 2 || model.outputs.length !== 1) {
    throw new WhaleidError(`The native engine trains pair models (2 inputs, 1 output) and one-photo models (1 input, 1 output); ${model.name} has ${model.inputs.length} inputs and ${model.outputs.length} outputs`);
  }
  const b: Builder = { nodes: [], params: [], paramIndex: new Map(), converted: new Map(), next: 0 };
  const inputs = model.inputs.map((t, index) => {
    const shape = t.shape.slice(1);
    if (shape.length !== 3 || shape.some((d) => d == null)) throw new WhaleidError(`The native engine needs image inputs of known size; ${t.name} is ${JSON.stringify(t.shape)}`);
    return emit(b, { op: 'input', inputs: [], index }, shape as number[], 'nhwc');
  });
  const [out] = emitModel(b, model, inputs);
  return { params: b.params, nodes: b.nodes, values: b.next, output: out.id };
}
