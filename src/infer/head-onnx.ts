/**
 * The head's weights read from an exported `head.onnx` as plain data, so that prediction,
 * evaluation and the service score pairs without loading tfjs (or the whole training model) only
 * to read 706 numbers.
 *
 * The export writes each dense step of the head as a MatMul with initializers named after the
 * layer (`onnx-layers.ts`): `head_mlp1_W` [4, M] (row k = product, sum, |diff|, diff^2, the
 * {@link HeadWeights} layout), `head_mlp1_B` [M], `head_mlp2_W` [M, 1], `head_mlp2_B` [1],
 * `weighted_average_W` [F, 1] and `weighted_average_B` [1], followed by a Sigmoid.
 */
import { readFileSync } from 'node:fs';
import type { HeadWeights } from '../model/network/head-weights.js';
import { decodeOnnxModel, OnnxDataType, type OnnxTensor } from '../model/onnx/onnx-proto.js';
import { WhaleidError } from '../util/errors.js';

function floats(t: OnnxTensor): Float32Array {
  const raw = t.rawData ?? new Uint8Array(0);
  const n = (t.dims ?? []).reduce((a, b) => a * Number(b), 1);
  const out = new Float32Array(n);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Reads the head's weights from the bytes of a `head.onnx` written by `exportHeadOnnx`.
 *
 * @param model - the file's bytes, or its path
 * @param label - the name used in errors (default: the path, or `head.onnx`)
 * @returns the weights, equal to `readHeadWeights` of the exported head
 * @throws {@link WhaleidError} naming the file when it is not an exported whaleid head
 * @example
 * const head = readHeadWeightsOnnx('runs/a/onnx/head.onnx');
 * scorePair(head, fa, fb);
 */
export function readHeadWeightsOnnx(model: Uint8Array | string, label = typeof model === 'string' ? model : 'head.onnx'): HeadWeights {
  const bytes = typeof model === 'string' ? readFileSync(model) : model;
  const graph = decodeOnnxModel(bytes).graph;
  const init = new Map((graph.initializer ?? []).map((t) => [t.name, t]));
  const get = (name: string, rank: number): { data: Float32Array; dims: number[] } => {
    const t = init.get(name);
    const dims = (t?.dims ?? []).map(Number);
    if (!t || t.dataType !== OnnxDataType.FLOAT || dims.length !== rank || !t.rawData || t.rawData.byteLength !== dims.reduce((a, b) => a * b, 1) * 4) {
      throw new WhaleidError(`${label}: not a whaleid head (no float32 ${name} of rank ${rank} with its data)`);
    }
    return { data: floats(t), dims };
  };
  const w1 = get('head_mlp1_W', 2);
  const b1 = get('head_mlp1_B', 1);
  const w2 = get('head_mlp2_W', 2);
  const b2 = get('head_mlp2_B', 1);
  const w3 = get('weighted_average_W', 2);
  const b3 = get('weighted_average_B', 1);
  const mid = w1.dims[1];
  const features = w3.dims[0];
  const sigmoid = (graph.node ?? []).some((n) => n.opType === 'Sigmoid');
  if (w1.dims[0] !== 4 || b1.dims[0] !== mid || w2.dims[0] !== mid || w2.dims[1] !== 1 || b2.dims[0] !== 1 || w3.dims[1] !== 1 || b3.dims[0] !== 1 || !sigmoid) {
    throw new WhaleidError(`${label}: not a whaleid head (shapes [4, M], [M], [M, 1], [1], [F, 1], [1] and a sigmoid output expected)`);
  }
  return { features, mid, w1: w1.data, b1: b1.data, w2: w2.data, b2: b2.data[0], w3: w3.data, b3: b3.data[0] };
}
