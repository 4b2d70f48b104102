/**
 * A small reader for ONNX files: models (`ModelProto`) and single tensors (`TensorProto`, the
 * `.pb` files of ONNX's backend test data). The messages and fields it reads are declared in
 * ./schema.ts. Nothing here depends on the tensor library: the results are plain typed arrays.
 */
import type { Type } from 'protobufjs';
import { ModelProto, TensorProto } from './schema.js';

/** A tensor read from ONNX: row-major values in the shape `dims`. */
export interface OnnxTensor {
  name: string;
  dims: number[];
  data: Float32Array | Int32Array;
}

/** An attribute's value: INT and FLOAT give a number, INTS and FLOATS a number[], and so on. */
type OnnxAttributeValue = number | string | number[] | string[] | OnnxTensor;

/** One node of the graph, with its attributes decoded. Absent optional inputs are ''. */
export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttributeValue>;
}

/** A model's graph: its nodes in order, its initializers, and the names of its inputs and outputs. */
export interface OnnxModel {
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  /** Graph inputs a caller must feed: those that are not also initializers. */
  inputs: string[];
  outputs: string[];
}

// The decoded messages as plain objects (`toObject` with the options below: int64 as bigint,
// bytes as Uint8Array, repeated fields always present).
interface RawTensor {
  dims: bigint[];
  dataType?: number;
  floatData: number[];
  int32Data: number[];
  int64Data: bigint[];
  name?: string;
  rawData?: Uint8Array;
  doubleData: number[];
  dataLocation?: number;
}
interface RawAttribute {
  name?: string;
  f?: number;
  i?: bigint;
  s?: Uint8Array;
  t?: RawTensor;
  floats: number[];
  ints: bigint[];
  strings: Uint8Array[];
  type?: number;
}
interface RawNode {
  input: string[];
  output: string[];
  name?: string;
  opType?: string;
  attribute: RawAttribute[];
}
interface RawGraph {
  node: RawNode[];
  initializer: RawTensor[];
  input: Array<{ name?: string }>;
  output: Array<{ name?: string }>;
}

const toObjectOptions = { longs: BigInt, arrays: true, defaults: false };

/** Decode `bytes` as `type`, turning protobufjs's errors into readable ones. */
function decode(type: Type, bytes: Uint8Array, what: string): Record<string, unknown> {
  if (!(bytes instanceof Uint8Array)) throw new Error(`ONNX: cannot parse ${what}: expected a Uint8Array`);
  try {
    return type.toObject(type.decode(bytes), toObjectOptions);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`ONNX: cannot parse ${what}: ${why} (truncated or not an ONNX file?)`);
  }
}

/** An int64 as a number, or an Error when it does not fit the range [lo, hi]. */
function toInt(v: bigint, lo: number, hi: number, where: string): number {
  if (v < BigInt(lo) || v > BigInt(hi)) throw new Error(`ONNX: ${where} = ${v} is out of range [${lo}, ${hi}]`);
  return Number(v);
}

const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;
const DTYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED',
  1: 'FLOAT',
  2: 'UINT8',
  3: 'INT8',
  4: 'UINT16',
  5: 'INT16',
  6: 'INT32',
  7: 'INT64',
  8: 'STRING',
  9: 'BOOL',
  10: 'FLOAT16',
  11: 'DOUBLE',
  12: 'UINT32',
  13: 'UINT64',
};

/**
 * Convert a decoded TensorProto to an OnnxTensor. Supported data types: 1 FLOAT (float32), 6 INT32
 * and 7 INT64 (read into an Int32Array, with a range check), each from its typed field or from
 * little-endian `raw_data`.
 */
function tensorFromRaw(t: RawTensor, source: string): OnnxTensor {
  const name = t.name ?? '';
  const where = `${source}${name ? ` (tensor '${name}')` : ''}`;
  const dims = t.dims.map((d, k) => toInt(d, 0, Number.MAX_SAFE_INTEGER, `${where}: dims[${k}]`));
  const count = dims.reduce((a, b) => a * b, 1);
  const dtype = t.dataType ?? 0;
  if (t.dataLocation === 1) throw new Error(`ONNX: ${where}: tensors with external data are not supported`);
  if (dtype !== 1 && dtype !== 6 && dtype !== 7) {
    throw new Error(
      `ONNX: ${where}: data_type ${dtype} (${DTYPE_NAMES[dtype] ?? 'unknown'}) is not supported; only 1 FLOAT, 6 INT32 and 7 INT64 are`,
    );
  }
  const raw = t.rawData !== undefined && t.rawData.length > 0 ? t.rawData : undefined;
  const bytesPer = dtype === 7 ? 8 : 4;
  const field = raw ? 'raw_data' : dtype === 1 ? 'float_data' : dtype === 6 ? 'int32_data' : 'int64_data';
  const found = raw
    ? raw.length / bytesPer
    : dtype === 1
      ? t.floatData.length
      : dtype === 6
        ? t.int32Data.length
        : t.int64Data.length;
  if (found !== count) {
    const got = raw ? `${raw.length} bytes` : `${found} values`;
    throw new Error(
      `ONNX: ${where}: ${field} holds ${got} but dims [${dims.join(', ')}] need ${count} values of ${bytesPer} bytes`,
    );
  }
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  let data: Float32Array | Int32Array;
  if (dtype === 1) {
    data = view
      ? Float32Array.from({ length: count }, (_, k) => view.getFloat32(4 * k, true))
      : Float32Array.from(t.floatData);
  } else if (dtype === 6) {
    data = view
      ? Int32Array.from({ length: count }, (_, k) => view.getInt32(4 * k, true))
      : Int32Array.from(t.int32Data);
  } else {
    const longs = view ? Array.from({ length: count }, (_, k) => view.getBigInt64(8 * k, true)) : t.int64Data;
    data = Int32Array.from(longs, (v, k) => toInt(v, I32_MIN, I32_MAX, `${where}: int64 value [${k}]`));
  }
  return { name, dims, data };
}

/**
 * Read one serialized `TensorProto` (an ONNX test-data `.pb` file). `source` names the file in
 * error messages. Throws a readable Error for malformed bytes, an unsupported data type, or a
 * value count that does not match `dims`.
 */
export function readTensorProto(bytes: Uint8Array, source = 'TensorProto'): OnnxTensor {
  return tensorFromRaw(decode(TensorProto, bytes, source) as unknown as RawTensor, source);
}

// AttributeProto.AttributeType values.
const A = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;
const utf8 = new TextDecoder();

/** The attribute's type, inferred from the field that is set for files older than IR version 3. */
function attributeType(a: RawAttribute): number {
  if (a.type) return a.type;
  if (a.f !== undefined) return A.FLOAT;
  if (a.i !== undefined) return A.INT;
  if (a.s !== undefined) return A.STRING;
  if (a.t !== undefined) return A.TENSOR;
  if (a.floats.length) return A.FLOATS;
  if (a.ints.length) return A.INTS;
  if (a.strings.length) return A.STRINGS;
  return 0;
}

function attributeValue(a: RawAttribute, where: string): OnnxAttributeValue {
  const type = attributeType(a);
  const safe = Number.MAX_SAFE_INTEGER;
  switch (type) {
    case A.FLOAT:
      return a.f ?? 0;
    case A.INT:
      return toInt(a.i ?? 0n, -safe, safe, where);
    case A.STRING:
      return utf8.decode(a.s ?? new Uint8Array());
    case A.TENSOR:
      return tensorFromRaw(a.t ?? { dims: [], floatData: [], int32Data: [], int64Data: [], doubleData: [] }, where);
    case A.FLOATS:
      return a.floats.slice();
    case A.INTS:
      return a.ints.map((v, k) => toInt(v, -safe, safe, `${where}[${k}]`));
    case A.STRINGS:
      return a.strings.map((s) => utf8.decode(s));
    default:
      throw new Error(`ONNX: ${where}: attribute type ${type} (graphs, sparse tensors, types) is not supported`);
  }
}

/**
 * Read a serialized `ModelProto` (a `.onnx` file): the graph's nodes with decoded attributes, its
 * initializers, and its input and output names. Throws `ONNX: cannot parse model: ...` for
 * malformed bytes.
 */
export function readOnnxModel(bytes: Uint8Array): OnnxModel {
  const model = decode(ModelProto, bytes, 'model') as { graph?: RawGraph };
  if (!model.graph) throw new Error('ONNX: cannot parse model: it has no graph');
  const g = model.graph;
  const initializers = new Map<string, OnnxTensor>();
  for (const t of g.initializer) initializers.set(t.name ?? '', tensorFromRaw(t, 'initializer'));
  const nodes = g.node.map((n, k): OnnxNode => {
    const name = n.name ?? '';
    const attributes: Record<string, OnnxAttributeValue> = {};
    for (const a of n.attribute) {
      const an = a.name ?? '';
      attributes[an] = attributeValue(a, `node ${k} '${name || n.opType}' attribute '${an}'`);
    }
    return { opType: n.opType ?? '', name, inputs: n.input.slice(), outputs: n.output.slice(), attributes };
  });
  return {
    nodes,
    initializers,
    inputs: g.input.map((v) => v.name ?? '').filter((n) => !initializers.has(n)),
    outputs: g.output.map((v) => v.name ?? ''),
  };
}
