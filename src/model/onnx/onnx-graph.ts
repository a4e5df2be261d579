/**
 * A small builder for ONNX graphs: unique value names, nodes with typed attributes, float32 and
 * int64 initializers stored as little-endian raw bytes, graph inputs/outputs with a symbolic batch
 * dimension, and the final {@link OnnxModel}. It knows nothing about tfjs; `onnx-export.ts` drives it.
 */
import { OnnxAttributeType, OnnxDataType, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './onnx-proto.js';

/** ONNX opset the exporter targets (ORT 1.30 supports it fully; every op used is stable there). */
export const ONNX_OPSET = 17;
/** IR version that goes with opset 17. */
export const ONNX_IR_VERSION = 8;

/** Attribute constructors: ONNX distinguishes int and float attributes, JS numbers do not. */
export const attr = {
  /**
   * @param name - attribute name
   * @param value - integer value
   * @returns the attribute
   */
  int: (name: string, value: number): OnnxAttribute => ({ name, type: OnnxAttributeType.INT, i: value }),
  /**
   * @param name - attribute name
   * @param value - float value
   * @returns the attribute
   */
  float: (name: string, value: number): OnnxAttribute => ({ name, type: OnnxAttributeType.FLOAT, f: value }),
  /**
   * @param name - attribute name
   * @param values - integer list
   * @returns the attribute
   */
  ints: (name: string, values: readonly number[]): OnnxAttribute => ({ name, type: OnnxAttributeType.INTS, ints: [...values] }),
  /**
   * @param name - attribute name
   * @param value - UTF-8 string
   * @returns the attribute
   */
  string: (name: string, value: string): OnnxAttribute => ({ name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(value) }),
};

/** A graph under construction. */
export interface GraphBuilder {
  /** A value name not used yet, derived from `base` (layer names are reused where possible). */
  uniqueName(base: string): string;
  /** Declares a float32 graph input; a string dimension is symbolic (e.g. `N`). Returns its name. */
  input(name: string, dims: readonly (number | string)[]): string;
  /**
   * Keeps `name` from the names {@link GraphBuilder.uniqueName} hands out, for a graph output
   * declared later: a value computed before it may otherwise take the name (a branch's layer
   * `features` under an appended normalisation).
   */
  reserveOutput(name: string): void;
  /** Declares a float32 graph output `name` holding value `value` (an Identity node if the names differ). */
  output(name: string, value: string, dims: readonly (number | string)[]): void;
  /** Adds a node with one output named after `base`; returns the output's name. */
  node(opType: string, inputs: readonly string[], attributes?: readonly OnnxAttribute[], base?: string): string;
  /** Adds a float32 initializer (row-major `dims`); returns its name. */
  floatInit(base: string, data: Float32Array, dims: readonly number[]): string;
  /** Adds an int64 initializer (row-major `dims`, default 1-D); returns its name. */
  int64Init(base: string, data: readonly number[], dims?: readonly number[]): string;
  /** Finishes the model. */
  toModel(metadata?: Readonly<Record<string, string>>): OnnxModel;
}

function valueInfo(name: string, dims: readonly (number | string)[]): OnnxValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType: OnnxDataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function littleEndianFloats(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  // DataView with an explicit little-endian flag: ONNX raw_data is little-endian on every host.
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}

/**
 * Creates an empty graph builder.
 *
 * @param graphName - name of the graph (and the model's doc string)
 * @param producer - producer name and version written into the model
 * @returns the builder
 * @example
 * const g = createGraphBuilder('branch', { name: 'whaleid', version: '0.1.0' });
 * const x = g.input('image', ['N', 64, 64, 1]);
 * g.output('y', g.node('Relu', [x]), ['N', 64, 64, 1]);
 * const bytes = encodeOnnxModel(g.toModel());
 */
export function createGraphBuilder(graphName: string, producer: { name: string; version: string }): GraphBuilder {
  const used = new Set<string>();
  const reserved = new Set<string>();
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];

  const uniqueName = (base: string): string => {
    const clean = base.length > 0 ? base : 'v';
    let name = clean;
    for (let k = 1; used.has(name); k++) name = `${clean}_${k}`;
    used.add(name);
    return name;
  };

  const builder: GraphBuilder = {
    uniqueName,
    input(name, dims) {
      if (used.has(name)) throw new Error(`onnx graph: duplicate input name ${name}`);
      used.add(name);
      inputs.push(valueInfo(name, dims));
      return name;
    },
    reserveOutput(name) {
      if (used.has(name)) throw new Error(`onnx graph: output name ${name} is already used`);
      used.add(name);
      reserved.add(name);
    },
    output(name, value, dims) {
      if (name !== value) {
        if (used.has(name) && !reserved.delete(name)) throw new Error(`onnx graph: output name ${name} is already used`);
        used.add(name);
        nodes.push({ input: [value], output: [name], name: `${name}_identity`, opType: 'Identity', attribute: [] });
      }
      outputs.push(valueInfo(name, dims));
    },
    node(opType, nodeInputs, attributes = [], base = opType.toLowerCase()) {
      const out = uniqueName(base);
      nodes.push({ input: [...nodeInputs], output: [out], name: out, opType, attribute: [...attributes] });
      return out;
    },
    floatInit(base, data, dims) {
      const n = dims.reduce((a, b) => a * b, 1);
      if (n !== data.length) throw new Error(`onnx graph: initializer ${base} has ${data.length} values for dims [${dims.join(', ')}]`);
      const name = uniqueName(base);
      initializers.push({ name, dims: [...dims], dataType: OnnxDataType.FLOAT, rawData: littleEndianFloats(data) });
      return name;
    },
    int64Init(base, data, dims = [data.length]) {
      const name = uniqueName(base);
      const raw = new Uint8Array(data.length * 8);
      const view = new DataView(raw.buffer);
      data.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
      initializers.push({ name, dims: [...dims], dataType: OnnxDataType.INT64, rawData: raw });
      return name;
    },
    toModel(metadata = {}) {
      return {
        irVersion: ONNX_IR_VERSION,
        opsetImport: [{ domain: '', version: ONNX_OPSET }],
        producerName: producer.name,
        producerVersion: producer.version,
        graph: { name: graphName, node: nodes, initializer: initializers, input: inputs, output: outputs },
        metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      };
    },
  };
  return builder;
}
