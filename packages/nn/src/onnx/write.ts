/**
 * A small writer for ONNX model files (`ModelProto`), the counterpart of ./read.ts, on the same
 * schema (./schema.ts). Its input is a plain graph description (nodes, initializers with their
 * values already on the host, typed inputs and outputs); ./export.ts builds that from a trace.
 */
import { ModelProto } from './schema.js';

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
