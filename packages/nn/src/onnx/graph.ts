/**
 * The ONNX graph that a trace builds, one op at a time: value names, symbolic shapes (./shapes.ts),
 * nodes, and initializers whose values are read only when the file is written (./values.ts).
 *
 * Every Variable or Tensor an op reads is one of three things:
 * - a graph input (the example inputs, recognised by their storage, so views and shares of them
 *   count too), or a value an earlier traced op made;
 * - a constant: a parameter, a number the op turned into a scalar, any value that existed before
 *   the trace. It becomes an initializer, read when the model is written;
 * - a value made during the trace by something the trace did not see (raw tensor ops, a
 *   Variable built from their result): an Error, because the graph cannot recompute it.
 */
import { Variable } from '@wgru/autograd';
import { type DType, shapeString, type Storage, type Tensor } from '@wgru/tensor';
import { type Dim, fixed, type SymbolSizes } from './shapes.js';
import { after, all, type Maybe, settled, valuesOf } from './values.js';
import { ONNX_FLOAT, ONNX_INT32, type WriteAttribute, type WriteNode, type WriteTensor } from './write.js';

/** A named value of the graph with its element type and symbolic shape. */
export interface Value {
  name: string;
  dtype: 'float32' | 'int32';
  dims: Dim[];
}

/** An initializer whose values are read when the model is written. */
interface PendingInitializer {
  name: string;
  dims: number[];
  read: () => Maybe<Float32Array | Int32Array | BigInt64Array>;
}

/** The ONNX element type of a wgru dtype the exporter supports. */
export function elemType(dtype: 'float32' | 'int32'): number {
  return dtype === 'float32' ? ONNX_FLOAT : ONNX_INT32;
}

export class OnnxGraph {
  readonly nodes: WriteNode[] = [];
  readonly syms = new Map<string, number>();
  private readonly pending: PendingInitializer[] = [];
  private readonly values = new WeakMap<Variable, Value>();
  /** Graph inputs and constants by storage: every view of one storage is looked up here. */
  private readonly byStorage = new Map<Storage, Array<{ t: Tensor; value: Value }>>();
  /** Variables created during the trace (see the file comment). */
  readonly born = new WeakSet<Variable>();
  /** Tensor handles this graph holds until the file is written (or the export fails). */
  private readonly held: Tensor[] = [];
  private readonly used = new Set<string>();
  private readonly hostValues = new Map<Int32Array, Value>();
  private readonly memo = new WeakMap<object, Map<string, unknown>>();
  private readonly inputStorages = new Set<Storage>();

  constructor(readonly opset: number) {}

  get symbols(): SymbolSizes {
    return this.syms;
  }

  /** A name not used yet, from `base`. */
  fresh(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'v';
    let name = clean;
    for (let k = 1; this.used.has(name); k++) name = `${clean}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Claims an exact name (an input or output name the caller chose). */
  claim(name: string): void {
    if (this.used.has(name)) throw new Error(`exportOnnx: the name '${name}' is used twice`);
    this.used.add(name);
  }

  /** Appends a node; returns its outputs' names (made from `outs`). */
  node(
    opType: string,
    inputs: readonly string[],
    outs: readonly string[],
    attributes?: Record<string, WriteAttribute>,
  ): string[] {
    const outputs = outs.map((o) => this.fresh(o));
    const node: WriteNode = { opType, name: this.fresh(`${opType}_node`), inputs, outputs };
    if (attributes) node.attributes = attributes;
    this.nodes.push(node);
    return outputs;
  }

  /** A one-output node producing a value of `dims` and `dtype`. */
  value(
    opType: string,
    inputs: readonly string[],
    dtype: Value['dtype'],
    dims: Dim[],
    attributes?: Record<string, WriteAttribute>,
  ): Value {
    const [name] = this.node(opType, inputs, [opType.toLowerCase()], attributes);
    return { name: name as string, dtype, dims };
  }

  /** Records that `v` holds `value` (an op's output, or an input). */
  set(v: Variable, value: Value): void {
    this.values.set(v, value);
  }

  /** Registers `t` (an example input's tensor) as the graph input `value`. */
  input(t: Tensor, value: Value): void {
    this.indexStorage(t, value);
    this.inputStorages.add(t.storage);
  }

  private indexStorage(t: Tensor, value: Value): void {
    const list = this.byStorage.get(t.storage) ?? [];
    list.push({ t, value });
    this.byStorage.set(t.storage, list);
  }

  private lookupStorage(t: Tensor, where: string): Value | undefined {
    const list = this.byStorage.get(t.storage);
    const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    const found = list?.find(
      (e) =>
        e.t.offset === t.offset && same(e.t.shape, t.shape) && same(e.t.strides, t.strides) && e.t.dtype === t.dtype,
    )?.value;
    if (!found && this.inputStorages.has(t.storage))
      throw new Error(
        `exportOnnx: ${where} is a view ${shapeString(t.shape)} of an input made with raw @wgru/tensor ops; take it with Variable ops (slice, reshape, ...) so that the graph can recompute it`,
      );
    return found;
  }

  /** The value an op operand stands for (see the file comment). `where` names it in errors. */
  of(x: Variable | Tensor, where: string, base?: string): Value {
    if (x instanceof Variable) {
      const known = this.values.get(x);
      if (known) return known;
      const t = x.value;
      const viaStorage = this.lookupStorage(t, where);
      if (viaStorage) return viaStorage;
      if (this.born.has(x) && x.holds === null && !x.requiresGrad) {
        throw new Error(
          `exportOnnx: ${where} is a Variable ${shapeString(x.shape)} made during the trace by something exportOnnx does not see (raw @wgru/tensor ops, or variable() of their result); write it with Variable ops, or compute it before the call so that it is a constant`,
        );
      }
      const value = this.constant(t, base ?? (x.requiresGrad ? 'param' : 'const'), where);
      this.values.set(x, value);
      return value;
    }
    return this.lookupStorage(x, where) ?? this.constant(x, base ?? 'const', where);
  }

  /** Host int32 data an op reads (a recurrent layer's lengths): a graph input if registered, else a constant. */
  host(a: Int32Array, base: string): Value {
    const known = this.hostValues.get(a);
    if (known) return known;
    const data = a.slice();
    const value: Value = {
      name: this.initializer(base, [a.length], async () => data),
      dtype: 'int32',
      dims: [fixed(a.length)],
    };
    this.hostValues.set(a, value);
    return value;
  }

  /** Registers host data (an example input's Int32Array) as the graph input `value`. */
  hostInput(a: Int32Array, value: Value): void {
    this.hostValues.set(a, value);
  }

  /** A constant tensor as an initializer (its storage held until the file is written). */
  private constant(t: Tensor, base: string, where: string): Value {
    const dtype = supportedDtype(t.dtype, where);
    const share = t.share();
    this.held.push(share);
    const value: Value = { name: this.fresh(base), dtype, dims: t.shape.map(fixed) };
    this.pending.push({
      name: value.name,
      dims: [...t.shape],
      read: () => valuesOf(share, dtype),
    });
    this.indexStorage(share, value);
    return value;
  }

  /** An initializer whose values come from `read` (recurrent weights converted to ONNX's layout). */
  initializer(base: string, dims: number[], read: PendingInitializer['read']): string {
    const name = this.fresh(base);
    this.pending.push({ name, dims, read });
    return name;
  }

  /** `make()` once per (owner, key): a module called twice shares its initializers. */
  once<T>(owner: object, key: string, make: () => T): T {
    let table = this.memo.get(owner);
    if (!table) this.memo.set(owner, (table = new Map()));
    if (!table.has(key)) table.set(key, make());
    return table.get(key) as T;
  }

  /** An int64 initializer with known values (a Reshape's shape, a Slice's starts). */
  int64(base: string, values: readonly number[]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return this.initializer(base, [values.length], () => data);
  }

  /** Reads every initializer and lets go of the tensors held for them. */
  initializers(): Maybe<WriteTensor[]> {
    let reads: Maybe<Array<Float32Array | Int32Array | BigInt64Array>>;
    try {
      reads = all(this.pending.map((p) => p.read()));
    } catch (e) {
      this.release();
      throw e;
    }
    const written = after(reads, (data) =>
      this.pending.map((p, k) => ({ name: p.name, dims: p.dims, data: data[k]! })),
    );
    return settled(written, () => this.release());
  }

  /** Frees the tensors held for initializers (after writing, or when the export fails). */
  release(): void {
    for (const t of this.held.splice(0)) t.dispose();
  }
}

/** The exporter writes float32 and int32 values only (ONNX Runtime's GRU has no float64 kernel). */
export function supportedDtype(dtype: DType, where: string): 'float32' | 'int32' {
  if (dtype === 'float32' || dtype === 'int32') return dtype;
  throw new Error(`exportOnnx: ${where} is ${dtype}; ONNX export writes float32 and int32 values only`);
}
