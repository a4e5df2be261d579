/**
 * The per-layer converters of the ONNX exporter (see `onnx-layers.ts` for the graph walk): each
 * turns one tfjs layer application into ONNX nodes on a {@link LayerContext}, reading the layer's
 * weights and config. The layer-config arithmetic (pads, pairs, axes) is the network's
 * (`../network/layer-config.ts`), shared with the native engine's layer spec.
 */
import * as tf from '@tensorflow/tfjs';
import { WhaleidError } from '../../util/errors.js';
import { L2_NORMALIZE_FLOOR } from '../network/head-weights.js';
import { attr, type GraphBuilder } from './onnx-graph.js';
import { lastAxis, pair, spatialPads, type Config, type GraphNode } from '../network/layer-config.js';

/** ONNX memory layout of a 4-D value. */
export type Layout = 'nhwc' | 'nchw';

/** A converted tensor: its ONNX name, its tfjs (logical NHWC) shape, and its ONNX layout. */
export interface Value {
  readonly name: string;
  readonly shape: readonly (number | null)[];
  readonly layout: Layout;
  /** Set for a folded BN's output: the real value is `name * scale + shift` per channel. */
  readonly affine?: { scale: Float64Array; shift: Float64Array };
}

/**
 * The error for something the exporter cannot express, naming the layer.
 *
 * @param layer - the layer
 * @param what - what is not supported
 * @returns the error to throw
 * @example
 * throw unsupported(layer, 'activation elu'); // Cannot export layer x (Conv2D) to ONNX: activation elu
 */
export const unsupported = (layer: tf.layers.Layer, what: string): WhaleidError =>
  new WhaleidError(`Cannot export layer ${layer.name} (${layer.getClassName()}) to ONNX: ${what}`);

/** What a converter works with: the builder and access to converted values. */
export interface LayerContext {
  readonly g: GraphBuilder;
  readonly get: (t: tf.SymbolicTensor, layout?: Layout | 'any') => Value;
  readonly toLayout: (v: Value, want: Layout) => Value;
  readonly values: Map<number, Value>;
}

/** Converts one layer application; returns its (single) output value. */
export type Converter = (ctx: LayerContext, node: GraphNode) => Value;

/** The layer's weights by their short name (`kernel`, `bias`, `gamma`, `moving_mean`, ...). */
function weightsOf(layer: tf.layers.Layer): Map<string, { data: Float32Array; shape: number[] }> {
  const out = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const w of layer.weights) {
    const short = w.originalName.split('/').pop() ?? w.originalName;
    const t = w.read();
    out.set(short, { data: Float32Array.from(t.dataSync() as Float32Array), shape: t.shape });
  }
  return out;
}

function activation(ctx: LayerContext, layer: tf.layers.Layer, v: Value, name: string): Value {
  const op = ({ relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh', softplus: 'Softplus' } as Record<string, string>)[name];
  if (name === 'linear' || name == null) return v;
  if (name === 'softmax') {
    // tfjs normalises over the last (channel) axis; ONNX's Softmax over the axis given, so the
    // value must be in tfjs's layout (the Activation converter asks for NHWC).
    if (v.layout === 'nchw' && v.shape.length !== 2) throw unsupported(layer, 'softmax of an NCHW value (as a conv activation)');
    return { ...v, name: ctx.g.node('Softmax', [v.name], [attr.int('axis', -1)], `${layer.name}_softmax`) };
  }
  if (op === undefined) throw unsupported(layer, `activation ${name}`);
  return { ...v, name: ctx.g.node(op, [v.name], [], `${layer.name}_${name}`) };
}

/** Per-channel scale and shift of an inference-mode BatchNorm: y = x * scale + shift. */
function batchNormAffine(layer: tf.layers.Layer): { scale: Float64Array; shift: Float64Array } {
  const c = layer.getConfig() as Config;
  const w = weightsOf(layer);
  const mean = w.get('moving_mean')?.data;
  const variance = w.get('moving_variance')?.data;
  if (!mean || !variance) throw unsupported(layer, 'no moving statistics');
  const gamma = w.get('gamma')?.data;
  const beta = w.get('beta')?.data;
  const eps = c.epsilon as number;
  const scale = new Float64Array(mean.length);
  const shift = new Float64Array(mean.length);
  for (let i = 0; i < mean.length; i++) {
    scale[i] = (gamma ? gamma[i] : 1) / Math.sqrt(variance[i] + eps);
    shift[i] = (beta ? beta[i] : 0) - mean[i] * scale[i];
  }
  return { scale, shift };
}

/**
 * A BatchNorm folded into the following conv: emits no node; its value is the BN's input tagged
 * with the BN's per-channel scale and shift, which the conv multiplies into its weights.
 *
 * @param ctx - the conversion context
 * @param node - the BatchNormalization application
 * @returns the tagged value
 * @throws {@link WhaleidError} when the layer has no moving statistics
 * @example
 * const v = foldedBatchNorm(ctx, node); // v.affine.scale[c] = gamma / sqrt(var + eps)
 */
export function foldedBatchNorm(ctx: LayerContext, node: GraphNode): Value {
  const x = ctx.get(node.inputs[0]);
  return { ...x, affine: batchNormAffine(node.layer) };
}

/**
 * A conv's weights in ONNX order [out, in, kh, kw], with a folded BatchNorm (per input channel
 * scale and shift) applied: W' = W * scale[in], bias' = bias + sum W * shift[in] (float64 sums).
 */
function convWeights(layer: tf.layers.Layer, affine: Value['affine']): { weights: Float32Array; bias: Float32Array | null; dims: number[] } {
  const w = weightsOf(layer);
  const k = w.get('kernel');
  if (!k) throw unsupported(layer, 'no kernel');
  const [kh, kw, cin, cout] = k.shape;
  const weights = new Float32Array(k.data.length);
  const bias = new Float64Array(cout);
  const b = w.get('bias')?.data;
  for (let o = 0; o < cout; o++) bias[o] = b ? b[o] : 0;
  for (let y = 0; y < kh; y++) {
    for (let z = 0; z < kw; z++) {
      for (let i = 0; i < cin; i++) {
        const s = affine ? affine.scale[i] : 1;
        const t = affine ? affine.shift[i] : 0;
        for (let o = 0; o < cout; o++) {
          const v = k.data[((y * kw + z) * cin + i) * cout + o];
          weights[((o * cin + i) * kh + y) * kw + z] = v * s;
          bias[o] += v * t;
        }
      }
    }
  }
  return { weights, bias: b || affine ? Float32Array.from(bias) : null, dims: [cout, cin, kh, kw] };
}

function conv2d(ctx: LayerContext, node: GraphNode): Value {
  const { layer } = node;
  const c = layer.getConfig() as Config;
  if (c.dataFormat !== 'channelsLast') throw unsupported(layer, `data format ${String(c.dataFormat)}`);
  const raw = ctx.values.get(node.inputs[0].id);
  if (!raw) throw new Error(`onnx export: ${layer.name} input not converted`);
  const x: Value = { name: raw.name, shape: raw.shape, layout: raw.layout }; // without the folded BN
  const kernel = pair(c.kernelSize);
  const strides = pair(c.strides);
  const dilation = pair(c.dilationRate ?? 1);
  const { weights, bias, dims } = convWeights(layer, raw.affine);
  const pads = spatialPads(layer, node.inputs[0], kernel, strides, dilation);
  const [, h, w] = node.inputs[0].shape;
  const plain = pads !== null && pads.every((p) => p === 0) && strides.every((v) => v === 1) && dilation.every((v) => v === 1);
  if (plain && h != null && w != null && ((kernel[0] === 1 && kernel[1] === w) || (kernel[1] === 1 && kernel[0] === h))) {
    const span = kernel[0] === 1 && kernel[1] === w ? 'rows' : 'columns';
    return convAsMatMul(ctx, layer, x, [h, w], span, { weights, bias, dims }, c.activation as string);
  } else {
    const inputs = [ctx.toLayout(x, 'nchw').name, ctx.g.floatInit(`${layer.name}_W`, weights, dims)];
    if (bias) inputs.push(ctx.g.floatInit(`${layer.name}_B`, bias, [dims[0]]));
    const attributes = [attr.ints('kernel_shape', kernel), attr.ints('strides', strides), attr.ints('dilations', dilation), attr.int('group', 1)];
    attributes.push(pads ? attr.ints('pads', pads) : attr.string('auto_pad', 'SAME_UPPER'));
    const out: Value = { name: ctx.g.node('Conv', inputs, attributes, layer.name), shape: [], layout: 'nchw' };
    return activation(ctx, layer, out, c.activation as string);
  }
}

/**
 * A 'valid' stride-1 conv whose kernel spans a whole row (1 x W) or a whole column (H x 1) of its
 * input is a matrix product: one GEMM over all rows/columns of the batch instead of a tiny conv
 * per photo. The head's two MLP convs are exactly this (4 x 1 over [4, F], 1 x mid over [F, mid]),
 * and ORT runs them several times faster as MatMul.
 * - rows: out[n, y, 0, o] = sum_{x, c} in[n, y, x, c] * K[0, x, c, o]: NHWC memory is already
 *   [N*H, W*C], no transpose.
 * - columns: out[n, 0, x, o] = sum_{y, c} in[n, y, x, c] * K[y, 0, c, o]: one transpose to [N, W, H, C].
 * The product is 2-D so that ORT fuses MatMul + bias (+ relu) into one Gemm: the head's hidden
 * layer is [N*F, mid], 64 kB per pair, and every extra pass over it costs as much as the product.
 */
function convAsMatMul(
  ctx: LayerContext,
  layer: tf.layers.Layer,
  x: Value,
  [h, w]: [number, number],
  span: 'rows' | 'columns',
  { weights, bias, dims: [cout, cin, kh, kw] }: ReturnType<typeof convWeights>,
  activationName: string,
): Value {
  const { g } = ctx;
  const name = layer.name;
  // Kernel as [taps * C, O] with tap-major rows, from the ONNX-ordered [O, C, kh, kw] weights.
  const taps = kh * kw;
  const matrix = new Float32Array(taps * cin * cout);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      for (let t = 0; t < taps; t++) matrix[(t * cin + i) * cout + o] = weights[(o * cin + i) * taps + t];
    }
  }
  let rows: string;
  if (span === 'rows') {
    rows = g.node('Reshape', [ctx.toLayout(x, 'nhwc').name, g.int64Init(`${name}_rows_shape`, [-1, w * cin])], [], `${name}_rows`);
  } else {
    const perm = x.layout === 'nchw' && x.shape.length === 4 ? [0, 3, 2, 1] : [0, 2, 1, 3]; // -> [N, W, H, C]
    const t = g.node('Transpose', [x.name], [attr.ints('perm', perm)], `${name}_columns`);
    rows = g.node('Reshape', [t, g.int64Init(`${name}_columns_shape`, [-1, h * cin])], [], `${name}_columns_flat`);
  }
  let y = g.node('MatMul', [rows, g.floatInit(`${name}_W`, matrix, [taps * cin, cout])], [], `${name}_matmul`);
  if (bias) y = g.node('Add', [y, g.floatInit(`${name}_B`, bias, [cout])], [], `${name}_bias`);
  // Activation before the reshape, where ORT can fuse it into the Gemm.
  y = activation(ctx, layer, { name: y, shape: [], layout: 'nhwc' }, activationName).name;
  const shape = span === 'rows' ? [-1, h, 1, cout] : [-1, 1, w, cout];
  return { name: g.node('Reshape', [y, g.int64Init(`${name}_shape`, shape)], [], name), shape: [], layout: 'nhwc' };
}

function pool(op: 'MaxPool' | 'AveragePool'): Converter {
  return (ctx, node) => {
    const { layer } = node;
    const c = layer.getConfig() as Config;
    if (c.dataFormat !== 'channelsLast') throw unsupported(layer, `data format ${String(c.dataFormat)}`);
    const kernel = pair(c.poolSize);
    const strides = pair(c.strides ?? c.poolSize);
    const pads = spatialPads(layer, node.inputs[0], kernel, strides, [1, 1]);
    if (pads === null) throw unsupported(layer, "'same' pooling of an input of unknown size");
    // TF's 'same' average pool divides by the number of real pixels, ONNX's by default too.
    const attributes = [attr.ints('kernel_shape', kernel), attr.ints('strides', strides), attr.ints('pads', pads)];
    return { name: ctx.g.node(op, [ctx.get(node.inputs[0], 'nchw').name], attributes, layer.name), shape: [], layout: 'nchw' };
  };
}

function globalPool(op: 'GlobalMaxPool' | 'GlobalAveragePool'): Converter {
  return (ctx, node) => {
    const c = node.layer.getConfig() as Config;
    if (c.dataFormat != null && c.dataFormat !== 'channelsLast') throw unsupported(node.layer, `data format ${String(c.dataFormat)}`);
    const pooled = ctx.g.node(op, [ctx.get(node.inputs[0], 'nchw').name], [], `${node.layer.name}_pool`);
    return { name: ctx.g.node('Flatten', [pooled], [attr.int('axis', 1)], node.layer.name), shape: [], layout: 'nhwc' };
  };
}

/** Inputs of a merge layer in one layout (the first input's), checked to have equal shapes. */
function sameLayoutInputs(ctx: LayerContext, node: GraphNode): Value[] {
  const first = ctx.get(node.inputs[0]);
  const shape = node.inputs[0].shape.join();
  return node.inputs.map((t) => {
    if (t.shape.join() !== shape) throw unsupported(node.layer, 'inputs of different shapes');
    return ctx.toLayout(ctx.get(t), first.layout);
  });
}

function merge(op: 'Add' | 'Mul'): Converter {
  return (ctx, node) => {
    const xs = sameLayoutInputs(ctx, node);
    let name = xs[0].name;
    for (let i = 1; i < xs.length; i++) name = ctx.g.node(op, [name, xs[i].name], [], node.layer.name);
    return { name, shape: [], layout: xs[0].layout };
  };
}

function batchNorm(ctx: LayerContext, node: GraphNode): Value {
  const rank = node.inputs[0].rank;
  if (!lastAxis(node.layer, rank) || (rank !== 4 && rank !== 2)) throw unsupported(node.layer, 'BatchNorm on an axis other than the channels');
  const x = ctx.get(node.inputs[0], 'nchw'); // channels on axis 1, as ONNX wants
  const c = node.layer.getConfig() as Config;
  const w = weightsOf(node.layer);
  const n = w.get('moving_mean')?.data.length ?? 0;
  const init = (key: string, fill: number): string => {
    const data = w.get(key)?.data ?? new Float32Array(n).fill(fill);
    return ctx.g.floatInit(`${node.layer.name}_${key}`, data, [n]);
  };
  const inputs = [x.name, init('gamma', 1), init('beta', 0), init('moving_mean', 0), init('moving_variance', 1)];
  return { name: ctx.g.node('BatchNormalization', inputs, [attr.float('epsilon', c.epsilon as number)], node.layer.name), shape: [], layout: x.layout };
}

/** Maps the NHWC logical axis to the axis of a tensor in `layout`. */
function physicalAxis(axis: number, rank: number, layout: Layout): number {
  const a = axis < 0 ? axis + rank : axis;
  return rank === 4 && layout === 'nchw' ? [0, 2, 3, 1][a] : a;
}

/** Converters by tfjs layer class name. */
export const CONVERTERS: Record<string, Converter> = {
  Conv2D: conv2d,
  MaxPooling2D: pool('MaxPool'),
  AveragePooling2D: pool('AveragePool'),
  GlobalMaxPooling2D: globalPool('GlobalMaxPool'),
  GlobalAveragePooling2D: globalPool('GlobalAveragePool'),
  BatchNormalization: batchNorm,
  Add: merge('Add'),
  Multiply: merge('Mul'),
  Dropout: (ctx, node) => ctx.get(node.inputs[0]),
  Activation: (ctx, node) => {
    const name = (node.layer.getConfig() as Config).activation as string;
    return activation(ctx, node.layer, ctx.get(node.inputs[0], name === 'softmax' ? 'nhwc' : 'any'), name);
  },
  Concatenate: (ctx, node) => {
    const xs = node.inputs.map((t) => ctx.get(t));
    const layout = xs[0].layout;
    const axis = physicalAxis(((node.layer.getConfig() as Config).axis as number) ?? -1, node.inputs[0].rank, layout);
    const names = xs.map((v) => ctx.toLayout(v, layout).name);
    return { name: ctx.g.node('Concat', names, [attr.int('axis', axis)], node.layer.name), shape: [], layout };
  },
  Reshape: (ctx, node) => {
    const target = (node.layer.getConfig() as Config).targetShape as number[];
    const shape = ctx.g.int64Init(`${node.layer.name}_shape`, [0, ...target]);
    return { name: ctx.g.node('Reshape', [ctx.get(node.inputs[0], 'nhwc').name, shape], [], node.layer.name), shape: [], layout: 'nhwc' };
  },
  Flatten: (ctx, node) => ({
    name: ctx.g.node('Flatten', [ctx.get(node.inputs[0], 'nhwc').name], [attr.int('axis', 1)], node.layer.name),
    shape: [],
    layout: 'nhwc',
  }),
  Dense: (ctx, node) => {
    const c = node.layer.getConfig() as Config;
    const x = ctx.get(node.inputs[0], 'nhwc');
    const w = weightsOf(node.layer);
    const k = w.get('kernel');
    if (!k) throw unsupported(node.layer, 'no kernel');
    const kernel = ctx.g.floatInit(`${node.layer.name}_W`, k.data, k.shape);
    let name = ctx.g.node('MatMul', [x.name, kernel], [], `${node.layer.name}_matmul`);
    const b = w.get('bias');
    if (b) name = ctx.g.node('Add', [name, ctx.g.floatInit(`${node.layer.name}_B`, b.data, b.shape)], [], node.layer.name);
    return activation(ctx, node.layer, { name, shape: [], layout: 'nhwc' }, c.activation as string);
  },
  WhaleidAbsDiff: (ctx, node) => {
    const [a, b] = sameLayoutInputs(ctx, node);
    const diff = ctx.g.node('Sub', [a.name, b.name], [], `${node.layer.name}_sub`);
    return { name: ctx.g.node('Abs', [diff], [], node.layer.name), shape: [], layout: a.layout };
  },
  WhaleidSquare: (ctx, node) => {
    const x = ctx.get(node.inputs[0]);
    return { name: ctx.g.node('Mul', [x.name, x.name], [], node.layer.name), shape: [], layout: x.layout };
  },
  // x / sqrt(max(sum x^2, floor)) over the last axis, as cosine-head.ts's layer computes it (opset 17: axes is an attribute)
  WhaleidL2Normalize: (ctx, node) => {
    const x = ctx.get(node.inputs[0], 'nhwc');
    const name = node.layer.name;
    const sumSquares = ctx.g.node('ReduceSumSquare', [x.name], [attr.ints('axes', [node.inputs[0].rank - 1]), attr.int('keepdims', 1)], `${name}_sum_squares`);
    const floored = ctx.g.node('Max', [sumSquares, ctx.g.floatInit(`${name}_floor`, Float32Array.of(L2_NORMALIZE_FLOOR), [])], [], `${name}_floored`);
    const norm = ctx.g.node('Sqrt', [floored], [], `${name}_norm`);
    return { name: ctx.g.node('Div', [x.name, norm], [], name), shape: [], layout: 'nhwc' };
  },
};
