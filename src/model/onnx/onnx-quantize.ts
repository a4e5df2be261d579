/**
 * Post-training static int8 quantization of an exported branch (`onnx/branch.onnx`), written by us
 * on the decoded ONNX graph (no Python tools at run time). The result is QDQ-format ONNX: every
 * Conv reads `DequantizeLinear(QuantizeLinear(x))` (uint8, one scale and zero point per tensor,
 * from calibration) and `DequantizeLinear` of int8 weights (symmetric, one scale per output
 * channel, axis 0) and of an int32 bias (scale = input scale x weight scale), and its output (or
 * that of the Relu after it) goes through `QuantizeLinear`. ONNX Runtime's QDQ transformer fuses
 * each such group into one QLinearConv, which runs on its u8s8 kernels (AVX512-VNNI here).
 *
 * Exact rewrites before quantizing, so that more of the graph stays int8:
 * - Conv + Relu: the Relu is dropped, its output's zero point is 0, so the uint8 range clamps.
 * - A BatchNorm before an unpadded conv is folded into that conv's weights even when the BN has
 *   other consumers (the residual's `bn1` feeds the `reduce` conv and the Add): the conv then
 *   reads the BN's (already quantized) input; the BN stays in float for its other consumers.
 * - MaxPool of a quantized value runs on the uint8 tensor (max commutes with the monotonic
 *   dequantization), so stem conv -> pool -> conv never leaves uint8.
 * What remains in float (BatchNorms before padded convs, the residual Add and its Relu, the global
 * pool) reads dequantized values.
 */
import { WhaleidError } from '../../util/errors.js';
import { OnnxAttributeType, OnnxDataType, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx-proto.js';

/** The range of one activation tensor over the calibration photos. */
export interface ActivationRange {
  min: number;
  max: number;
}

/** What {@link quantizeOnnxModel} did. */
export interface QuantizeReport {
  /** Convs turned into QDQ groups. */
  quantizedConvs: number;
  /** BatchNorms folded into a following unpadded conv. */
  foldedBatchNorms: number;
  /** Relus absorbed by their conv's output quantization. */
  fusedRelus: number;
  /** MaxPools run on uint8. */
  uint8Pools: number;
  /** BatchNorms left in float, written as Mul + Add. */
  affineBatchNorms: number;
}

/** How one quantizable Conv is rewritten (shared by calibration and quantization). */
interface ConvPlan {
  readonly conv: OnnxNode;
  /** The BatchNorm folded into it, or null. */
  readonly bn: OnnxNode | null;
  /** The value the quantized conv reads (the folded BN's input, else the conv's input). */
  readonly source: string;
  /** The Relu absorbed into its output, or null. */
  readonly relu: OnnxNode | null;
  /** The value its quantized output stands for (the Relu's output, else the conv's). */
  readonly output: string;
}

interface GraphIndex {
  readonly init: Map<string, OnnxTensor>;
  readonly producer: Map<string, OnnxNode>;
  readonly consumers: Map<string, OnnxNode[]>;
  readonly outputs: Set<string>;
}

function indexGraph(model: OnnxModel): GraphIndex {
  const init = new Map((model.graph.initializer ?? []).map((t) => [t.name, t]));
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of model.graph.node) {
    for (const o of n.output) producer.set(o, n);
    for (const i of n.input) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  return { init, producer, consumers, outputs: new Set(model.graph.output.map((o) => o.name)) };
}

const attrOf = (n: OnnxNode, name: string): OnnxAttribute | undefined => n.attribute.find((a) => a.name === name);

/**
 * Reads a float32 initializer stored as raw little-endian bytes (how our exporter stores them).
 *
 * @param t - the tensor
 * @returns its values
 * @throws {@link WhaleidError} for another data type or storage
 */
export function initializerFloats(t: OnnxTensor): Float32Array {
  if (t.dataType !== OnnxDataType.FLOAT || !t.rawData) throw new WhaleidError(`Cannot quantize: initializer ${t.name} is not float32 raw data`);
  const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
  return Float32Array.from({ length: t.rawData.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/**
 * Convs with fewer input channels stay float32: the greyscale stem (1 channel, 9x9) ran slower as
 * QLinearConv than as ORT's float conv (48 vs 38 ms for 4 photos at 384 px, AVX2), its reduction
 * being too short for the int8 kernels.
 */
const MIN_INPUT_CHANNELS = 4;

const unpadded = (conv: OnnxNode): boolean => {
  const pads = attrOf(conv, 'pads')?.ints ?? [];
  const auto = attrOf(conv, 'auto_pad')?.s;
  return pads.every((p) => Number(p) === 0) && (auto === undefined || ['NOTSET', 'VALID'].includes(new TextDecoder().decode(auto)));
};

function planConv(g: GraphIndex, conv: OnnxNode): ConvPlan | null {
  const w = g.init.get(conv.input[1]);
  if (conv.opType !== 'Conv' || !w || w.dims.length !== 4 || w.dataType !== OnnxDataType.FLOAT || g.init.has(conv.input[0])) return null;
  if (Number(attrOf(conv, 'group')?.i ?? 1) !== 1 || Number(w.dims[1]) < MIN_INPUT_CHANNELS) return null;
  const before = g.producer.get(conv.input[0]);
  const foldable = before?.opType === 'BatchNormalization' && unpadded(conv) && before.input.slice(1).every((i) => g.init.has(i)) && !g.outputs.has(conv.input[0]);
  const bn = foldable ? before : null;
  const users = g.consumers.get(conv.output[0]) ?? [];
  const relu = users.length === 1 && users[0].opType === 'Relu' && !g.outputs.has(conv.output[0]) ? users[0] : null;
  return { conv, bn, source: bn ? bn.input[0] : conv.input[0], relu, output: relu ? relu.output[0] : conv.output[0] };
}

/**
 * The activation tensors whose ranges {@link quantizeOnnxModel} needs: each quantized conv's
 * input (a folded BatchNorm's input) and output (its Relu's).
 *
 * @param model - the float32 model
 * @returns the value names, each once
 * @example
 * const names = calibrationTensors(decodeOnnxModel(bytes)); // ['image_nchw', 'stem_conv_relu', ...]
 */
export function calibrationTensors(model: OnnxModel): string[] {
  const g = indexGraph(model);
  const names = new Set<string>();
  for (const n of model.graph.node) {
    const plan = planConv(g, n);
    if (plan) names.add(plan.source).add(plan.output);
  }
  return [...names];
}

/**
 * The model with more float32 graph outputs (for calibration: ONNX Runtime then returns those
 * intermediate values too). Shapes are left undeclared.
 *
 * @param model - the model
 * @param names - values to expose
 * @returns a new model; `model` is unchanged
 * @example
 * const probe = withExtraOutputs(model, calibrationTensors(model));
 */
export function withExtraOutputs(model: OnnxModel, names: readonly string[]): OnnxModel {
  const have = new Set(model.graph.output.map((o) => o.name));
  const extra = names.filter((n) => !have.has(n)).map((name) => ({ name, type: { tensorType: { elemType: OnnxDataType.FLOAT, shape: { dim: [] } } } }));
  // a value info without shape: ONNX allows it, and ORT infers the shapes
  const output = [...model.graph.output, ...extra.map((e) => ({ name: e.name, type: { tensorType: { elemType: e.type.tensorType.elemType } } }))];
  return { ...model, graph: { ...model.graph, output: output as OnnxModel['graph']['output'] } };
}

/** uint8 affine quantization of a range that includes 0 (as ONNX requires of a zero point). */
function activationParams(r: ActivationRange): { scale: number; zero: number } {
  const lo = Math.min(0, r.min);
  const hi = Math.max(0, r.max, lo + 1e-6);
  const scale = (hi - lo) / 255;
  return { scale, zero: Math.min(255, Math.max(0, Math.round(-lo / scale))) };
}

/** A graph being rewritten: nodes and initializers written so far, and the values in hand. */
interface Rewrite {
  readonly g: GraphIndex;
  readonly ranges: ReadonlyMap<string, ActivationRange>;
  readonly nodes: OnnxNode[];
  readonly inits: OnnxTensor[];
  /** Values available in float (graph inputs, initializers, outputs of emitted float nodes). */
  readonly float: Set<string>;
  /** Values available quantized: their uint8 tensor's name and parameters. */
  readonly quant: Map<string, { q: string; scale: string; zero: string; s: number }>;
  readonly used: Set<string>;
}

function fresh(rw: Rewrite, base: string): string {
  let name = base;
  for (let k = 1; rw.used.has(name); k++) name = `${base}_${k}`;
  rw.used.add(name);
  return name;
}

function addInit(rw: Rewrite, base: string, dataType: number, dims: number[], raw: Uint8Array): string {
  const name = fresh(rw, base);
  rw.inits.push({ name, dims, dataType, rawData: raw });
  return name;
}

const floatBytes = (v: ArrayLike<number>): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);
const int32Bytes = (v: ArrayLike<number>): Uint8Array => new Uint8Array(Int32Array.from(v).buffer);

function addNode(rw: Rewrite, opType: string, inputs: string[], output: string, attribute: OnnxAttribute[] = []): string {
  rw.nodes.push({ opType, input: inputs, output: [output], name: output, attribute });
  return output;
}

/** The float value `name`, dequantizing (under its own name) what only exists quantized. */
function needFloat(rw: Rewrite, name: string): string {
  if (name === '' || rw.float.has(name)) return name;
  const q = rw.quant.get(name);
  if (!q) throw new WhaleidError(`Cannot quantize: value ${name} is used before it is computed`);
  rw.float.add(name);
  return addNode(rw, 'DequantizeLinear', [q.q, q.scale, q.zero], name);
}

/** The quantized value `name`, adding its QuantizeLinear (with the calibrated range) if needed. */
function needQuant(rw: Rewrite, name: string): { q: string; scale: string; zero: string; s: number } {
  const have = rw.quant.get(name);
  if (have) return have;
  const range = rw.ranges.get(name);
  if (!range || !Number.isFinite(range.min) || !Number.isFinite(range.max)) throw new WhaleidError(`Cannot quantize: no calibrated range for ${name}`);
  return quantizeValue(rw, name, needFloat(rw, name), range);
}

function quantizeValue(rw: Rewrite, name: string, floatValue: string, range: ActivationRange): { q: string; scale: string; zero: string; s: number } {
  const { scale, zero } = activationParams(range);
  const s = addInit(rw, `${name}_scale`, OnnxDataType.FLOAT, [], floatBytes([scale]));
  const z = addInit(rw, `${name}_zero`, OnnxDataType.UINT8, [], Uint8Array.of(zero));
  const q = addNode(rw, 'QuantizeLinear', [floatValue, s, z], fresh(rw, `${name}_q`));
  const out = { q, scale: s, zero: z, s: scale };
  rw.quant.set(name, out);
  return out;
}

/** BatchNorm (inference) as y = x * scale + shift per channel. */
function bnAffine(rw: Rewrite, bn: OnnxNode): { scale: Float64Array; shift: Float64Array } {
  const [gamma, beta, mean, variance] = bn.input.slice(1).map((i) => initializerFloats(rw.g.init.get(i) as OnnxTensor));
  const eps = attrOf(bn, 'epsilon')?.f ?? 1e-5;
  const scale = Float64Array.from(gamma, (gm, c) => gm / Math.sqrt(variance[c] + eps));
  return { scale, shift: Float64Array.from(beta, (b, c) => b - mean[c] * scale[c]) };
}

/** The conv's weights [O, I, kh, kw] and bias with a folded BN applied (float64 sums). */
function foldedWeights(rw: Rewrite, plan: ConvPlan): { w: Float32Array; b: Float64Array; dims: number[] } {
  const wt = rw.g.init.get(plan.conv.input[1]) as OnnxTensor;
  const dims = wt.dims.map(Number);
  const [out, inp, kh, kw] = dims;
  const w = initializerFloats(wt);
  const bt = plan.conv.input[2] ? rw.g.init.get(plan.conv.input[2]) : undefined;
  if (plan.conv.input[2] && !bt) throw new WhaleidError(`Cannot quantize: conv ${plan.conv.name} has a bias that is not an initializer`);
  const b = bt ? Float64Array.from(initializerFloats(bt)) : new Float64Array(out);
  if (plan.bn) {
    const { scale, shift } = bnAffine(rw, plan.bn);
    const taps = kh * kw;
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < inp; i++) {
        for (let t = 0; t < taps; t++) {
          const k = (o * inp + i) * taps + t;
          b[o] += w[k] * shift[i];
          w[k] *= scale[i];
        }
      }
    }
  }
  return { w, b, dims };
}

/**
 * A BatchNorm that stays in float as x * scale + shift with [1, C, 1, 1] constants: elementwise
 * ops that ONNX Runtime's layout transformer moves its transposes through, so the QLinearConvs
 * around it run NHWC without a Transpose on each side (a BatchNormalization node pins NCHW:
 * measured 72 Transposes in the branch).
 */
function emitAffine(rw: Rewrite, bn: OnnxNode): void {
  const { scale, shift } = bnAffine(rw, bn);
  const dims = [1, scale.length, 1, 1];
  const x = needFloat(rw, bn.input[0]);
  const mul = addNode(rw, 'Mul', [x, addInit(rw, `${bn.name}_scale`, OnnxDataType.FLOAT, dims, floatBytes(scale))], fresh(rw, `${bn.name}_mul`));
  addNode(rw, 'Add', [mul, addInit(rw, `${bn.name}_shift`, OnnxDataType.FLOAT, dims, floatBytes(shift))], bn.output[0]);
  rw.float.add(bn.output[0]);
}

function emitConv(rw: Rewrite, plan: ConvPlan): void {
  const { conv } = plan;
  const x = needQuant(rw, plan.source);
  const xdq = addNode(rw, 'DequantizeLinear', [x.q, x.scale, x.zero], fresh(rw, `${conv.name}_x_dq`));
  const { w, b, dims } = foldedWeights(rw, plan);
  const [out] = dims;
  const per = w.length / out;
  const wq = new Int8Array(w.length);
  const ws = new Float32Array(out);
  const bq = new Int32Array(out);
  for (let o = 0; o < out; o++) {
    let amax = 0;
    for (let k = o * per; k < (o + 1) * per; k++) amax = Math.max(amax, Math.abs(w[k]));
    ws[o] = amax > 0 ? amax / 127 : 1;
    for (let k = o * per; k < (o + 1) * per; k++) wq[k] = Math.max(-127, Math.min(127, Math.round(w[k] / ws[o])));
    bq[o] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b[o] / (x.s * ws[o]))));
  }
  const axis = [{ name: 'axis', type: OnnxAttributeType.INT, i: 0 }];
  const wInputs = [
    addInit(rw, `${conv.name}_Wq`, OnnxDataType.INT8, dims, new Uint8Array(wq.buffer)),
    addInit(rw, `${conv.name}_Ws`, OnnxDataType.FLOAT, [out], floatBytes(ws)),
    addInit(rw, `${conv.name}_Wz`, OnnxDataType.INT8, [out], new Uint8Array(out)),
  ];
  const wdq = addNode(rw, 'DequantizeLinear', wInputs, fresh(rw, `${conv.name}_W_dq`), axis);
  const bInputs = [
    addInit(rw, `${conv.name}_Bq`, OnnxDataType.INT32, [out], int32Bytes(bq)),
    addInit(rw, `${conv.name}_Bs`, OnnxDataType.FLOAT, [out], floatBytes(Array.from(ws, (v) => v * x.s))),
    addInit(rw, `${conv.name}_Bz`, OnnxDataType.INT32, [out], new Uint8Array(out * 4)),
  ];
  const bdq = addNode(rw, 'DequantizeLinear', bInputs, fresh(rw, `${conv.name}_B_dq`), axis);
  const y = addNode(rw, 'Conv', [xdq, wdq, bdq], fresh(rw, `${conv.name}_f`), conv.attribute);
  const range = rw.ranges.get(plan.output);
  if (!range) throw new WhaleidError(`Cannot quantize: no calibrated range for ${plan.output}`);
  // a zero point of 0 clamps at 0: the Relu's work, done by the quantized output
  quantizeValue(rw, plan.output, y, plan.relu ? { min: 0, max: range.max } : range);
}

/**
 * Quantizes a float32 branch graph (see the module's comment) with the calibrated activation
 * ranges.
 *
 * @param model - the float32 model (e.g. `decodeOnnxModel(branch.onnx)`); not changed
 * @param ranges - the range of each of {@link calibrationTensors}'s values
 * @param metadata - extra `metadata_props` entries (e.g. the float model's hash)
 * @returns the QDQ model and what was rewritten
 * @throws {@link WhaleidError} when a needed range is missing or a weight is not float32 raw data
 * @example
 * const { model: q } = quantizeOnnxModel(model, ranges, { 'whaleid.float_sha256': hash });
 * await writeFileAtomic('runs/a/onnx/branch.int8.onnx', encodeOnnxModel(q));
 */
export function quantizeOnnxModel(model: OnnxModel, ranges: ReadonlyMap<string, ActivationRange>, metadata: Readonly<Record<string, string>> = {}): { model: OnnxModel; report: QuantizeReport } {
  const g = indexGraph(model);
  const plans = new Map<OnnxNode, ConvPlan>();
  for (const n of model.graph.node) {
    const p = planConv(g, n);
    if (p) plans.set(n, p);
  }
  const fusedRelus = new Set([...plans.values()].flatMap((p) => (p.relu ? [p.relu] : [])));
  // a BN is left out when every consumer is a conv that folds it
  const foldedBns = new Set([...plans.values()].flatMap((p) => (p.bn ? [p.bn] : [])));
  const dropped = new Set([...foldedBns].filter((bn) => !g.outputs.has(bn.output[0]) && (g.consumers.get(bn.output[0]) ?? []).every((c) => plans.get(c)?.bn === bn)));
  const graphInputs = model.graph.input.map((i) => i.name);
  const used = new Set([...graphInputs, ...g.init.keys(), ...model.graph.node.flatMap((n) => n.output)]);
  const rw: Rewrite = { g, ranges, nodes: [], inits: [], float: new Set([...graphInputs, ...g.init.keys()]), quant: new Map(), used };
  const report: QuantizeReport = { quantizedConvs: 0, foldedBatchNorms: foldedBns.size, fusedRelus: fusedRelus.size, uint8Pools: 0, affineBatchNorms: 0 };
  for (const n of model.graph.node) {
    const plan = plans.get(n);
    if (plan) {
      emitConv(rw, plan);
      report.quantizedConvs++;
    } else if (fusedRelus.has(n) || dropped.has(n)) {
      continue;
    } else if (n.opType === 'MaxPool' && rw.quant.has(n.input[0]) && !rw.float.has(n.input[0]) && n.output.length === 1) {
      const x = rw.quant.get(n.input[0]) as { q: string; scale: string; zero: string; s: number };
      const q = addNode(rw, 'MaxPool', [x.q], fresh(rw, `${n.output[0]}_q`), n.attribute);
      rw.quant.set(n.output[0], { ...x, q });
      report.uint8Pools++;
    } else if (n.opType === 'BatchNormalization' && n.input.slice(1).every((i) => g.init.has(i))) {
      emitAffine(rw, n);
      report.affineBatchNorms++;
    } else {
      rw.nodes.push({ ...n, input: n.input.map((i) => needFloat(rw, i)) });
      for (const o of n.output) rw.float.add(o);
    }
  }
  for (const o of model.graph.output) needFloat(rw, o.name);
  const keep = new Set(rw.nodes.flatMap((n) => n.input));
  const initializer = [...(model.graph.initializer ?? []).filter((t) => keep.has(t.name)), ...rw.inits];
  const metadataProps = [...(model.metadataProps ?? []).filter((p) => !(p.key in metadata) && p.key !== 'whaleid.precision'), { key: 'whaleid.precision', value: 'int8' }, ...Object.entries(metadata).map(([key, value]) => ({ key, value }))];
  return { model: { ...model, graph: { ...model.graph, node: rw.nodes, initializer }, metadataProps }, report };
}
