/**
 * Translation of a tfjs-layers graph into ONNX nodes: the graph walk, the layout bookkeeping and
 * one converter per supported layer class.
 *
 * Layout: tfjs is NHWC, ONNX Conv/MaxPool are NCHW. Each 4-D value remembers which layout its ONNX
 * tensor is in and is converted lazily, once, when a consumer needs the other one; a conversion
 * that only moves size-1 axes (the greyscale input, [N,1,1,C]) is a free Reshape, not a Transpose.
 * So the branch runs NCHW from its entry to its global pool, which is what ORT's conv kernels want.
 *
 * BatchNorm folding: a BN whose only consumer is a conv with no zero padding (1x1 convs here) is
 * folded into that conv's weights and bias exactly. A BN before a padded conv is NOT folded: the
 * conv pads the BN's output with zeros, which are not the image of zeros of its input, so a folded
 * conv would be wrong along the borders. Those stay BatchNormalization nodes (inference mode).
 */
import * as tf from '@tensorflow/tfjs';
import { WhaleidError } from '../../util/errors.js';
import { attr, type GraphBuilder } from './onnx-graph.js';
import { lastAxis, pair, spatialPads, type Config, type GraphNode } from '../network/layer-config.js';
import { CONVERTERS, foldedBatchNorm, unsupported, type LayerContext, type Layout, type Value } from './onnx-ops.js';

/** The model's layer applications in an order where every input is converted before its use. */
function topologicalNodes(model: tf.LayersModel): GraphNode[] {
  const seen = new Set<string>();
  const order: GraphNode[] = [];
  const visit = (t: tf.SymbolicTensor): void => {
    const layer = t.sourceLayer as tf.layers.Layer;
    const key = `${layer.name}#${t.nodeIndex}`;
    if (seen.has(key)) return;
    seen.add(key);
    const node = layer.inboundNodes[t.nodeIndex];
    for (const input of node.inputTensors) visit(input);
    order.push({ layer, inputs: node.inputTensors, outputs: node.outputTensors });
  };
  for (const out of model.outputs) visit(out);
  return order;
}


/** Options of {@link convertLayersModel}. */
export interface ConvertOptions {
  /** ONNX names of the model's inputs, in order. */
  readonly inputNames: readonly string[];
  /** ONNX names of the model's outputs, in order. */
  readonly outputNames: readonly string[];
  /** Fold BatchNorms into the following unpadded conv where exact; default true. */
  readonly foldBatchNorm?: boolean;
}

/** What {@link convertLayersModel} did, for the model's metadata and for tests. */
export interface ConvertReport {
  /** Names of the BatchNorm layers folded into a conv. */
  readonly foldedBatchNorms: readonly string[];
}

/**
 * Converts a flat tfjs LayersModel (Conv2D, MaxPooling2D, BatchNormalization, Add, Multiply,
 * Activation, GlobalMax/AveragePooling2D, Concatenate, Reshape, Flatten, Dense, Dropout and the
 * head's WhaleidAbsDiff / WhaleidSquare, the cosine scorer's WhaleidL2Normalize) into the builder's
 * graph, inference semantics.
 *
 * @param model - the model; its inputs get a symbolic batch dimension `N`
 * @param g - the graph builder to fill
 * @param options - names and folding, see {@link ConvertOptions}
 * @returns which BatchNorms were folded
 * @throws {@link WhaleidError} for a layer class, activation, padding or data format it cannot express
 * @example
 * const g = createGraphBuilder('branch', producer);
 * convertLayersModel(branch, g, { inputNames: ['image'], outputNames: ['features'] });
 */
export function convertLayersModel(model: tf.LayersModel, g: GraphBuilder, options: ConvertOptions): ConvertReport {
  if (options.inputNames.length !== model.inputs.length || options.outputNames.length !== model.outputs.length) {
    throw new WhaleidError(`Cannot export model ${model.name}: it has ${model.inputs.length} inputs and ${model.outputs.length} outputs`);
  }
  const nodes = topologicalNodes(model);
  const values = new Map<number, Value>();
  const converted = new Map<string, Value>(); // `${name}@${layout}` -> layout-converted copy
  const dims = (shape: readonly (number | null)[]): (number | string)[] => shape.map((d, i) => d ?? (i === 0 ? 'N' : `d${i}`));

  // An output name that is not its own layer's name could be taken by an inner layer of that name.
  model.outputs.forEach((t, i) => {
    if (t.sourceLayer.name !== options.outputNames[i]) g.reserveOutput(options.outputNames[i]);
  });
  model.inputs.forEach((t, i) => {
    values.set(t.id, { name: g.input(options.inputNames[i], dims(t.shape)), shape: t.shape, layout: 'nhwc' });
  });

  // Consumers of every tensor, to decide which BatchNorms can be folded.
  const consumers = new Map<number, GraphNode[]>();
  for (const node of nodes) for (const t of node.inputs) consumers.set(t.id, [...(consumers.get(t.id) ?? []), node]);
  const outputIds = new Set(model.outputs.map((t) => t.id));
  const foldable = new Set<tf.layers.Layer>();
  if (options.foldBatchNorm ?? true) {
    for (const node of nodes) {
      if (node.layer.getClassName() !== 'BatchNormalization' || node.inputs[0].rank !== 4 || !lastAxis(node.layer, 4)) continue;
      const users = consumers.get(node.outputs[0].id) ?? [];
      if (users.length !== 1 || outputIds.has(node.outputs[0].id)) continue;
      const conv = users[0];
      if (conv.layer.getClassName() !== 'Conv2D' || conv.inputs.length !== 1) continue;
      const c = conv.layer.getConfig() as Config;
      const pads = spatialPads(conv.layer, conv.inputs[0], pair(c.kernelSize), pair(c.strides), pair(c.dilationRate ?? 1));
      if (pads !== null && pads.every((p) => p === 0)) foldable.add(node.layer);
    }
  }

  const toLayout = (v: Value, want: Layout): Value => {
    if (v.affine) throw new Error(`onnx export: folded BatchNorm output ${v.name} used by a non-conv layer`);
    if (v.shape.length !== 4 || v.layout === want) return v;
    const key = `${v.name}@${want}`;
    const cached = converted.get(key);
    if (cached) return cached;
    const perm = want === 'nchw' ? [0, 3, 1, 2] : [0, 2, 3, 1];
    const physical = physicalShape(v);
    const target = perm.map((p) => physical[p]);
    const nonUnit = (s: readonly (number | null)[]) => s.filter((d) => d !== 1);
    const staticDims = target.slice(1).every((d) => d != null);
    let name: string;
    if (staticDims && nonUnit(physical).join() === nonUnit(target).join()) {
      // Only size-1 axes move: same bytes, a Reshape (free in ORT) instead of a Transpose.
      name = g.node('Reshape', [v.name, g.int64Init(`${v.name}_${want}_shape`, [0, ...(target.slice(1) as number[])])], [], `${v.name}_${want}`);
    } else {
      name = g.node('Transpose', [v.name], [attr.ints('perm', perm)], `${v.name}_${want}`);
    }
    const out: Value = { name, shape: v.shape, layout: want };
    converted.set(key, out);
    return out;
  };
  const get = (t: tf.SymbolicTensor, layout: Layout | 'any' = 'any'): Value => {
    const v = values.get(t.id);
    if (v === undefined) throw new Error(`onnx export: tensor ${t.name} used before it was converted`);
    return layout === 'any' ? toLayout(v, v.layout) : toLayout(v, layout);
  };
  const ctx: LayerContext = { g, get, toLayout, values };

  for (const node of nodes) {
    const cls = node.layer.getClassName();
    if (cls === 'InputLayer') {
      if (!values.has(node.outputs[0].id)) throw unsupported(node.layer, 'an input layer that is not a model input');
      continue;
    }
    if (node.outputs.length !== 1) throw unsupported(node.layer, `${node.outputs.length} outputs`);
    const out = node.outputs[0];
    let value: Value;
    if (cls === 'BatchNormalization' && foldable.has(node.layer)) value = foldedBatchNorm(ctx, node);
    else {
      const convert = CONVERTERS[cls];
      if (convert === undefined) throw unsupported(node.layer, 'unsupported layer class');
      value = convert(ctx, node);
    }
    values.set(out.id, { ...value, shape: out.shape });
  }

  model.outputs.forEach((t, i) => {
    const v = get(t, 'nhwc');
    g.output(options.outputNames[i], v.name, dims(t.shape));
  });
  return { foldedBatchNorms: [...foldable].map((l) => l.name) };
}

/** The dims of the ONNX tensor (its layout), from the logical NHWC shape. */
function physicalShape(v: Value): (number | null)[] {
  const [n, h, w, c] = v.shape;
  return v.layout === 'nchw' && v.shape.length === 4 ? [n, c, h, w] : [...v.shape];
}

