/**
 * A small writer for ONNX model files (`ModelProto`), the counterpart of ./read.ts.
 *
 * Like the reader, it declares only the messages and fields it writes as a protobufjs JSON schema
 * (field numbers from `onnx.proto`), so there is no generated module. Its input is a plain graph
 * description (nodes, initializers with their values already on the host, typed inputs and
 * outputs); ./export.ts builds that from a trace.
 */
import protobuf from 'protobufjs';

/** ONNX element types this writer emits (TensorProto.DataType). */
export const ONNX_FLOAT = 1;
export const ONNX_BOOL = 9;
export const ONNX_INT32 = 6;
const ONNX_INT64 = 7;

/** A tensor with its values: an initializer, or a node's TENSOR attribute. */
export interface WriteTensor {
  name: string;
  dims: readonly number[];
  /** float32 values (FLOAT), int32 (INT32) or BigInt64Array (INT64). */
  data: Float32Array | Int32Array | BigInt64Array;
}

/** An attribute value: a number is an INT unless listed in `floats`; arrays are INTS (or FLOATS). */
export type WriteAttribute = number | string | readonly number[] | { float: number } | { floats: readonly number[] };

export interface WriteNode {
  opType: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Record<string, WriteAttribute>;
}

/** A graph input or output: its element type and shape, each axis a size or a symbolic name. */
export interface WriteValueInfo {
  name: string;
  elemType: number;
  /** Sizes (numbers), symbolic sizes (strings, ONNX's dim_param), or null for an unknown size. */
  shape: ReadonlyArray<number | string | null>;
}

export interface WriteModel {
  graphName: string;
  opset: number;
  nodes: readonly WriteNode[];
  initializers: readonly WriteTensor[];
  inputs: readonly WriteValueInfo[];
  outputs: readonly WriteValueInfo[];
  producerName: string;
}

// The subset of onnx.proto that this writer fills in.
const schema = {
  nested: {
    onnx: {
      nested: {
        TensorProto: {
          fields: {
            dims: { id: 1, type: 'int64', rule: 'repeated' },
            dataType: { id: 2, type: 'int32' },
            name: { id: 8, type: 'string' },
            rawData: { id: 9, type: 'bytes' },
          },
        },
        AttributeProto: {
          fields: {
            name: { id: 1, type: 'string' },
            f: { id: 2, type: 'float' },
            i: { id: 3, type: 'int64' },
            s: { id: 4, type: 'bytes' },
            floats: { id: 7, type: 'float', rule: 'repeated' },
            ints: { id: 8, type: 'int64', rule: 'repeated' },
            type: { id: 20, type: 'int32' },
          },
        },
        Dimension: { fields: { dimValue: { id: 1, type: 'int64' }, dimParam: { id: 2, type: 'string' } } },
        TensorShapeProto: { fields: { dim: { id: 1, type: 'Dimension', rule: 'repeated' } } },
        TensorTypeProto: {
          fields: { elemType: { id: 1, type: 'int32' }, shape: { id: 2, type: 'TensorShapeProto' } },
        },
        TypeProto: { fields: { tensorType: { id: 1, type: 'TensorTypeProto' } } },
        ValueInfoProto: { fields: { name: { id: 1, type: 'string' }, type: { id: 2, type: 'TypeProto' } } },
        NodeProto: {
          fields: {
            input: { id: 1, type: 'string', rule: 'repeated' },
            output: { id: 2, type: 'string', rule: 'repeated' },
            name: { id: 3, type: 'string' },
            opType: { id: 4, type: 'string' },
            attribute: { id: 5, type: 'AttributeProto', rule: 'repeated' },
          },
        },
        GraphProto: {
          fields: {
            node: { id: 1, type: 'NodeProto', rule: 'repeated' },
            name: { id: 2, type: 'string' },
            initializer: { id: 5, type: 'TensorProto', rule: 'repeated' },
            input: { id: 11, type: 'ValueInfoProto', rule: 'repeated' },
            output: { id: 12, type: 'ValueInfoProto', rule: 'repeated' },
          },
        },
        OperatorSetIdProto: { fields: { domain: { id: 1, type: 'string' }, version: { id: 2, type: 'int64' } } },
        ModelProto: {
          fields: {
            irVersion: { id: 1, type: 'int64' },
            producerName: { id: 2, type: 'string' },
            graph: { id: 7, type: 'GraphProto' },
            opsetImport: { id: 8, type: 'OperatorSetIdProto', rule: 'repeated' },
          },
        },
      },
    },
  },
};

const ModelProto = protobuf.Root.fromJSON(schema).lookupType('onnx.ModelProto');

// AttributeProto.AttributeType values.
const A = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

/**
 * The IR version that goes with an opset (onnx/helper.py's table): opsets 13-14 → 7, 15-18 → 8,
 * 19-20 → 9, 21 → 10.
 */
function irVersionFor(opset: number): number {
  return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

function tensorMessage(t: WriteTensor): Record<string, unknown> {
  const dataType = t.data instanceof Float32Array ? ONNX_FLOAT : t.data instanceof Int32Array ? ONNX_INT32 : ONNX_INT64;
  // raw_data is little-endian; every platform wgru runs on is.
  const rawData = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
  return { dims: [...t.dims], dataType, name: t.name, rawData };
}

function attributeMessage(name: string, v: WriteAttribute): Record<string, unknown> {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`ONNX writer: attribute '${name}' = ${v} is not an integer`);
    return { name, type: A.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: A.INTS, ints: [...v] };
  if ('float' in v) return { name, type: A.FLOAT, f: v.float };
  return { name, type: A.FLOATS, floats: [...(v as { floats: number[] }).floats] };
}

function valueInfoMessage(v: WriteValueInfo): Record<string, unknown> {
  const dim = v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : d === null ? {} : { dimParam: d }));
  return { name: v.name, type: { tensorType: { elemType: v.elemType, shape: { dim } } } };
}

/** Serializes a model: the bytes of a `.onnx` file. */
export function writeOnnxModel(m: WriteModel): Uint8Array {
  const message = {
    irVersion: irVersionFor(m.opset),
    producerName: m.producerName,
    opsetImport: [{ domain: '', version: m.opset }],
    graph: {
      name: m.graphName,
      node: m.nodes.map((n) => ({
        input: [...n.inputs],
        output: [...n.outputs],
        name: n.name,
        opType: n.opType,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attributeMessage(k, v)),
      })),
      initializer: m.initializers.map(tensorMessage),
      input: m.inputs.map(valueInfoMessage),
      output: m.outputs.map(valueInfoMessage),
    },
  };
  return ModelProto.encode(ModelProto.fromObject(message)).finish();
}
