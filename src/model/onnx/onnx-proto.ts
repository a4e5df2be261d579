/**
 * The subset of `onnx.proto` (ONNX IR, proto2) that whaleid writes and reads, as a protobufjs JSON
 * descriptor, so no .proto file is downloaded or parsed at run time. Field numbers and types are
 * those of onnx/onnx `onnx/onnx.proto`; fields we never write (sparse tensors, training info,
 * functions, sequence/map types) are left out, which protobufjs tolerates when decoding (unknown
 * fields are skipped).
 */
import protobuf from 'protobufjs';
import { WhaleidError } from '../../util/errors.js';

/** ONNX `TensorProto.DataType` codes used here. */
export const OnnxDataType = Object.freeze({ FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 });

/** ONNX `AttributeProto.AttributeType` codes used here. */
export const OnnxAttributeType = Object.freeze({ FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 });

/** A tensor (weights or constants), stored in `rawData` little-endian as ONNX requires. */
export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

/** A node attribute; exactly one of the value fields is set, matching `type`. */
export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

/** One operator application. */
export interface OnnxNode {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain?: string;
  attribute: OnnxAttribute[];
}

/** One dimension of a declared shape: a fixed size or a symbolic name (e.g. the batch `N`). */
export type OnnxDim = { dimValue: number } | { dimParam: string };

/** A graph input or output declaration. */
export interface OnnxValueInfo {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: OnnxDim[] } } };
}

/** The computation graph. */
export interface OnnxGraph {
  name: string;
  node: OnnxNode[];
  initializer: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  docString?: string;
}

/** The top-level file: IR version, opsets, producer and the graph. */
export interface OnnxModel {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: OnnxGraph;
  metadataProps?: { key: string; value: string }[];
}

const f = (id: number, type: string, rule?: 'repeated') => (rule ? { id, type, rule } : { id, type });

// Field numbers as in onnx/onnx.proto (IR version 8 fields are a subset of the latest file).
const DESCRIPTOR = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: f(1, 'string'),
            type: f(20, 'int32'),
            f: f(2, 'float'),
            i: f(3, 'int64'),
            s: f(4, 'bytes'),
            t: f(5, 'TensorProto'),
            docString: f(13, 'string'),
            floats: f(7, 'float', 'repeated'),
            ints: f(8, 'int64', 'repeated'),
            strings: f(9, 'bytes', 'repeated'),
          },
        },
        ValueInfoProto: { fields: { name: f(1, 'string'), type: f(2, 'TypeProto'), docString: f(3, 'string') } },
        NodeProto: {
          fields: {
            input: f(1, 'string', 'repeated'),
            output: f(2, 'string', 'repeated'),
            name: f(3, 'string'),
            opType: f(4, 'string'),
            domain: f(7, 'string'),
            attribute: f(5, 'AttributeProto', 'repeated'),
            docString: f(6, 'string'),
          },
        },
        ModelProto: {
          fields: {
            irVersion: f(1, 'int64'),
            opsetImport: f(8, 'OperatorSetIdProto', 'repeated'),
            producerName: f(2, 'string'),
            producerVersion: f(3, 'string'),
            domain: f(4, 'string'),
            modelVersion: f(5, 'int64'),
            docString: f(6, 'string'),
            graph: f(7, 'GraphProto'),
            metadataProps: f(14, 'StringStringEntryProto', 'repeated'),
          },
        },
        StringStringEntryProto: { fields: { key: f(1, 'string'), value: f(2, 'string') } },
        GraphProto: {
          fields: {
            node: f(1, 'NodeProto', 'repeated'),
            name: f(2, 'string'),
            initializer: f(5, 'TensorProto', 'repeated'),
            docString: f(10, 'string'),
            input: f(11, 'ValueInfoProto', 'repeated'),
            output: f(12, 'ValueInfoProto', 'repeated'),
            valueInfo: f(13, 'ValueInfoProto', 'repeated'),
          },
        },
        TensorProto: {
          fields: {
            dims: f(1, 'int64', 'repeated'),
            dataType: f(2, 'int32'),
            // proto2 file with [packed = true] on the numeric lists.
            floatData: { id: 4, type: 'float', rule: 'repeated', options: { packed: true } },
            int32Data: { id: 5, type: 'int32', rule: 'repeated', options: { packed: true } },
            int64Data: { id: 7, type: 'int64', rule: 'repeated', options: { packed: true } },
            name: f(8, 'string'),
            docString: f(12, 'string'),
            rawData: f(9, 'bytes'),
            doubleData: { id: 10, type: 'double', rule: 'repeated', options: { packed: true } },
          },
        },
        TensorShapeProto: {
          fields: { dim: f(1, 'Dimension', 'repeated') },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: f(1, 'int64'), dimParam: f(2, 'string'), denotation: f(3, 'string') },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: { tensorType: f(1, 'Tensor'), denotation: f(6, 'string') },
          nested: { Tensor: { fields: { elemType: f(1, 'int32'), shape: f(2, 'TensorShapeProto') } } },
        },
        OperatorSetIdProto: { fields: { domain: f(1, 'string'), version: f(2, 'int64') } },
      },
    },
  },
};

let modelType: protobuf.Type | undefined;

/** The `onnx.ModelProto` type, built once from the descriptor. */
function modelProto(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(DESCRIPTOR).lookupType('onnx.ModelProto');
  return modelType;
}

/**
 * Serialises a model to the ONNX protobuf wire format (the bytes of a `.onnx` file).
 *
 * @param model - the model as plain objects (camelCase field names)
 * @returns the encoded bytes
 * @throws Error when a field does not fit its protobuf type (a bug in the caller)
 * @example
 * const bytes = encodeOnnxModel(graphBuilder.toModel());
 * await writeFileAtomic('branch.onnx', bytes);
 */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const type = modelProto();
  const problem = type.verify(model);
  if (problem) throw new Error(`encodeOnnxModel: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/**
 * Parses the bytes of a `.onnx` file into plain objects (64-bit integers as numbers, bytes as
 * Uint8Array); fields outside the subset described here are dropped.
 *
 * @param bytes - the file contents
 * @returns the model
 * @throws {@link WhaleidError} when the bytes are not a valid ModelProto
 * @example
 * const model = decodeOnnxModel(await fs.readFile('branch.onnx'));
 * model.graph.initializer.length;
 */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  const type = modelProto();
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (err) {
    throw new WhaleidError(`Cannot decode ONNX model: ${(err as Error).message}`);
  }
  const obj = type.toObject(message, { longs: Number, defaults: false, arrays: true });
  const model = obj as OnnxModel;
  if (model.graph == null) throw new WhaleidError('Cannot decode ONNX model: no graph');
  return model;
}
