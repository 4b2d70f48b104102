/**
 * The GRU importers' and exporters' tiny block algebra (take a gate's rows or columns, join,
 * negate, add, transpose) with two implementations: one on host typed arrays, one on Tensors. Every conversion is written
 * once, against that algebra, so the same code maps a Float32Array read from a file and a Tensor
 * on the GPU, and the two give the same bits.
 *
 * Every operation the conversions use is exact in IEEE arithmetic except `add`, which rounds once
 * (the correctly rounded sum, on the host and on every backend). Exporters never add: where a
 * foreign format has two biases whose sum is wgru's one bias, they put the whole bias in one
 * and negative zeros in the other. −0 is the exact additive identity: x + (−0) = x bitwise for
 * every x, −0 included, while (−0) + (+0) = +0. So exporting and then importing gives back the
 * very same bits, signed zeros included.
 */
import {
  add,
  clone,
  concat,
  type DType,
  neg,
  reshape,
  shapeString,
  slice,
  Tensor,
  tensorOn,
  tidy,
  transpose,
} from '@wgru/tensor';
import type { HostArray, ShapedArray, WeightDict, WeightValue } from './common.js';

/**
 * @internal A block algebra over matrices of type M (a host ShapedArray or a Tensor). `part` and
 * `cat` act along one axis; `transpose` swaps the two axes of a matrix.
 */
export interface Blocks<M> {
  part(m: M, axis: number, start: number, size: number): M;
  cat(ms: readonly M[], axis: number): M;
  neg(m: M): M;
  add(a: M, b: M): M;
  transpose(m: M): M;
  reshape(m: M, shape: readonly number[]): M;
  /** A block of −0.0 (the exact additive identity; see the file comment). */
  negativeZeros(shape: readonly number[]): M;
}

/** @internal The three gate blocks of size H along `axis`, in stored order. */
export function gates3<M>(A: Blocks<M>, m: M, axis: number, H: number): [M, M, M] {
  return [A.part(m, axis, 0, H), A.part(m, axis, H, H), A.part(m, axis, 2 * H, H)];
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const sameShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Host arrays: every operation returns a fresh array of the same kind (Float32Array or Float64Array). */
function hostBlocks(make: (n: number) => HostArray): Blocks<ShapedArray> {
  const split = (shape: readonly number[], axis: number) => ({
    outer: size(shape.slice(0, axis)),
    n: shape[axis],
    inner: size(shape.slice(axis + 1)),
  });
  return {
    part(m, axis, start, count) {
      const { outer, n, inner } = split(m.shape, axis);
      const shape = m.shape.map((d, i) => (i === axis ? count : d));
      const out = make(size(shape));
      for (let o = 0; o < outer; o++)
        out.set(m.data.subarray((o * n + start) * inner, (o * n + start + count) * inner), o * count * inner);
      return { shape, data: out };
    },
    cat(ms, axis) {
      const first = ms[0] as ShapedArray;
      const total = ms.reduce((t, m) => t + m.shape[axis], 0);
      const shape = first.shape.map((d, i) => (i === axis ? total : d));
      const { outer, inner } = split(shape, axis);
      const out = make(size(shape));
      let at = 0;
      for (const m of ms) {
        const n = m.shape[axis];
        for (let o = 0; o < outer; o++)
          out.set(m.data.subarray(o * n * inner, (o + 1) * n * inner), (o * total + at) * inner);
        at += n;
      }
      return { shape, data: out };
    },
    neg(m) {
      const out = make(m.data.length);
      for (let i = 0; i < out.length; i++) out[i] = -m.data[i];
      return { shape: m.shape, data: out };
    },
    add(a, b) {
      // Two float32 values summed in float64 and stored as float32 give the correctly rounded
      // float32 sum, exactly what a float32 add on any backend gives.
      const out = make(a.data.length);
      for (let i = 0; i < out.length; i++) out[i] = a.data[i] + b.data[i];
      return { shape: a.shape, data: out };
    },
    transpose(m) {
      const [r, c] = m.shape as [number, number];
      const out = make(m.data.length);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = m.data[i * c + j];
      return { shape: [c, r], data: out };
    },
    reshape(m, shape) {
      return { shape: [...shape], data: m.data };
    },
    negativeZeros(shape) {
      return { shape: [...shape], data: make(size(shape)).fill(-0) };
    },
  };
}

/** Tensors on one backend, in one dtype. Results are new tensors (views of inputs where possible). */
function tensorBlocks(like: Tensor): Blocks<Tensor> {
  return {
    part: (m, axis, start, count) =>
      slice(
        m,
        m.shape.map((_, i) => (i === axis ? start : 0)),
        m.shape.map((d, i) => (i === axis ? count : d)),
      ),
    cat: (ms, axis) => concat(ms, axis),
    neg: (m) => neg(m),
    add: (a, b) => add(a, b),
    transpose: (m) => transpose(m),
    reshape: (m, shape) => reshape(m, shape),
    // Uploaded rather than filled: a constant −0 might be printed into a shader as 0.
    negativeZeros: (shape) =>
      tensorOn(
        like.backend,
        new (like.dtype === 'float64' ? Float64Array : Float32Array)(size(shape)).fill(-0),
        shape,
        like.dtype,
      ),
  };
}

/** @internal Reads one expected weight (throws a clear Error when missing or misshapen). */
export type Take<M> = (key: string, shape: readonly number[], what: string) => M;
/** @internal Like Take, but returns undefined when the key is absent. */
export type TakeOptional<M> = (key: string, shape: readonly number[], what: string) => M | undefined;

/** @internal The conversion body, written once against a block algebra. */
export type Conversion = <M>(A: Blocks<M>, take: Take<M>, takeOptional: TakeOptional<M>) => Record<string, M>;

/**
 * @internal Runs a conversion on a dict of weights. With any Tensor among the values, it runs on
 * Tensors (host arrays are uploaded to that tensor's backend and dtype) and returns fresh Tensors;
 * otherwise on host arrays, returning fresh arrays of the input's kind. Keys the conversion does
 * not read are an Error: a misspelt or foreign key is never silently dropped.
 */
export function convertWeights(
  fn: string,
  dict: WeightDict,
  conversion: Conversion,
): Record<string, Tensor | ShapedArray> {
  if (dict === null || typeof dict !== 'object')
    throw new Error(`${fn}: weights must be an object of Tensors or Float32Arrays`);
  const values = Object.entries(dict);
  const firstTensor = values.map(([, v]) => v).find((v): v is Tensor => v instanceof Tensor);
  for (const [k, v] of values) {
    const ok =
      v instanceof Tensor ||
      v instanceof Float32Array ||
      v instanceof Float64Array ||
      (v !== null &&
        typeof v === 'object' &&
        'data' in v &&
        'shape' in v &&
        (v.data instanceof Float32Array || v.data instanceof Float64Array) &&
        Array.isArray(v.shape));
    if (!ok)
      throw new Error(
        `${fn}: '${k}' must be a Tensor, a Float32Array, a Float64Array or { shape, data }, got ${v === null ? 'null' : typeof v}`,
      );
    if (v instanceof Tensor && firstTensor && (v.backend !== firstTensor.backend || v.dtype !== firstTensor.dtype)) {
      throw new Error(
        `${fn}: '${k}' is a ${v.dtype} tensor on ${v.backend.info.name}, other weights are ${firstTensor.dtype} on ${firstTensor.backend.info.name}`,
      );
    }
    if (v instanceof Tensor && v.dtype === 'int32')
      throw new Error(`${fn}: '${k}' is an int32 tensor; weights must be float32 or float64`);
  }
  const hostKind = (v: WeightValue) =>
    v instanceof Tensor
      ? undefined
      : (v instanceof Float32Array || v instanceof Float64Array ? v : v.data) instanceof Float64Array
        ? 'float64'
        : 'float32';
  const kinds = new Set(values.map(([, v]) => hostKind(v)).filter((k) => k !== undefined));
  if (!firstTensor && kinds.size > 1) throw new Error(`${fn}: weights mix Float32Array and Float64Array; use one kind`);

  const used = new Set<string>();
  const read = <M>(toM: (v: WeightValue, shape: readonly number[]) => M): [Take<M>, TakeOptional<M>] => {
    const takeOptional: TakeOptional<M> = (key, shape, what) => {
      used.add(key);
      if (!(key in dict)) return undefined;
      const v = dict[key] as WeightValue;
      const got =
        v instanceof Tensor ? v.shape : v instanceof Float32Array || v instanceof Float64Array ? undefined : v.shape;
      const n =
        v instanceof Tensor
          ? v.size
          : v instanceof Float32Array || v instanceof Float64Array
            ? v.length
            : v.data.length;
      if (got ? !sameShape(got, shape) : n !== size(shape)) {
        throw new Error(
          `${fn}: '${key}' (${what}) has ${got ? `shape ${shapeString(got)}` : `${n} values`}; expected shape ${shapeString(shape)}${got ? '' : ` (${size(shape)} values)`}`,
        );
      }
      if (!(v instanceof Tensor) && got && n !== size(shape))
        throw new Error(`${fn}: '${key}' has shape ${shapeString(got)} but ${n} values`);
      return toM(v, shape);
    };
    const take: Take<M> = (key, shape, what) => {
      const m = takeOptional(key, shape, what);
      if (m === undefined)
        throw new Error(
          `${fn}: missing '${key}' (${what}, shape ${shapeString(shape)}); given keys: ${Object.keys(dict).join(', ') || 'none'}`,
        );
      return m;
    };
    return [take, takeOptional];
  };
  const checkUnused = () => {
    const unexpected = Object.keys(dict).filter((k) => !used.has(k));
    if (unexpected.length > 0)
      throw new Error(
        `${fn}: unexpected keys ${unexpected.map((k) => `'${k}'`).join(', ')}; expected ${[...used].map((k) => `'${k}'`).join(', ')}`,
      );
  };

  if (firstTensor) {
    const dtype: DType = firstTensor.dtype;
    const result = tidy(() => {
      const [take, takeOptional] = read<Tensor>((v, shape) =>
        v instanceof Tensor
          ? reshape(v, shape)
          : tensorOn(
              firstTensor.backend,
              v instanceof Float32Array || v instanceof Float64Array ? v : v.data,
              shape,
              dtype,
            ),
      );
      const out = conversion(tensorBlocks(firstTensor), take, takeOptional);
      // Fresh, contiguous tensors: never views sharing storage with the inputs.
      return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, clone(t)]));
    });
    try {
      checkUnused();
    } catch (e) {
      for (const t of Object.values(result)) t.dispose();
      throw e;
    }
    return result;
  }
  const make = kinds.has('float64') ? (n: number) => new Float64Array(n) : (n: number) => new Float32Array(n);
  const [take, takeOptional] = read<ShapedArray>((v, shape) => ({
    shape: [...shape],
    data: v instanceof Float32Array || v instanceof Float64Array ? v : (v as ShapedArray).data,
  }));
  const out = conversion(hostBlocks(make), take, takeOptional);
  checkUnused();
  // Fresh arrays: copy any that is still an input's own array.
  const inputs = new Set<HostArray>(
    values
      .map(([, v]) =>
        v instanceof Tensor ? undefined : v instanceof Float32Array || v instanceof Float64Array ? v : v.data,
      )
      .filter((a): a is HostArray => a !== undefined),
  );
  return Object.fromEntries(
    Object.entries(out).map(([k, m]) => [k, inputs.has(m.data) ? { shape: m.shape, data: m.data.slice() } : m]),
  );
}

/** @internal The flat data of host results (what `Module.loadStateDict` takes), or the Tensors. */
export function flatten(out: Record<string, Tensor | ShapedArray>): Record<string, Tensor | HostArray> {
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v instanceof Tensor ? v : v.data]));
}
