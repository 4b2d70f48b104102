import type { Backend } from '../backend.js';
import { assertDType, type DType, dtypeOfArray, type NestedArray, type Shape, type TypedArray } from '../dtype.js';
import { activeBackend } from '../registry.js';
import { checkShape, shapeString, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { checkAllocation, empty, naming } from './core.js';
import { add, fillOn, mul } from './elementwise.js';

/** Infers the shape of nested arrays, checking that they are not ragged. */
function inferShape(values: NestedArray): number[] {
  const shape: number[] = [];
  let v: NestedArray = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0] as NestedArray;
  }
  return shape;
}

function flatten(values: NestedArray, shape: readonly number[], out: number[], depth = 0, path = ''): void {
  if (depth === shape.length) {
    if (typeof values !== 'number')
      throw new Error(
        `tensor: expected a number at ${path || 'the top level'}, got ` +
          `${Array.isArray(values) ? 'an array (ragged nesting)' : typeof values}`,
      );
    out.push(values);
    return;
  }
  if (!Array.isArray(values) || values.length !== shape[depth]) {
    throw new Error(
      `tensor: ragged nested array at ${path || 'the top level'}: expected ${shape[depth]} entries like the ` +
        `first row, got ${Array.isArray(values) ? values.length : typeof values}`,
    );
  }
  values.forEach((v, i) => {
    flatten(v, shape, out, depth + 1, `${path}[${i}]`);
  });
}

/** Throws unless `v` is an integer that int32 can hold (Int32Array would silently wrap it). */
function checkInt32(op: string, v: number, where = ''): void {
  if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
    throw new Error(`${op}: int32 needs integers in [-2147483648, 2147483647], got ${v}${where}`);
  }
}

function toTyped(values: ArrayLike<number>, dtype: DType): TypedArray {
  if (dtype === 'int32') {
    for (let i = 0; i < values.length; i++) checkInt32('tensor', values[i], ` at position ${i}`);
    return Int32Array.from(values);
  }
  return dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}

/** @internal Creates a tensor from host values on a given backend. */
export function tensorOn(
  backend: Backend,
  values: number | NestedArray | TypedArray,
  shape?: Shape,
  dtype?: DType,
): Tensor {
  if (dtype !== undefined) assertDType('tensor', 'dtype', dtype);
  if (shape !== undefined) checkShape('tensor', 'shape', shape);
  let flat: TypedArray;
  let inferred: number[];
  if (ArrayBuffer.isView(values)) {
    const a = values as TypedArray;
    const t = dtype ?? dtypeOfArray(a);
    flat = dtypeOfArray(a) === t ? a : toTyped(a, t);
    inferred = [a.length];
  } else if (typeof values === 'number') {
    flat = toTyped([values], dtype ?? 'float32');
    inferred = [];
  } else if (Array.isArray(values)) {
    inferred = inferShape(values);
    const list: number[] = [];
    flatten(values, inferred, list);
    flat = toTyped(list, dtype ?? 'float32');
  } else {
    throw new Error(
      `tensor: values must be a number, nested arrays or a typed array, got ` +
        `${values === null ? 'null' : typeof values}`,
    );
  }
  const s = shape ?? inferred;
  if (sizeOf(s) !== flat.length) {
    throw new Error(`tensor: ${flat.length} values do not fill shape ${shapeString(s)} (${sizeOf(s)} elements)`);
  }
  if (!backend.supports(dtypeOfArray(flat))) {
    throw new Error(
      `tensor: float64 is supported on the CPU backend only (the active backend is ${backend.info.name}); use float32`,
    );
  }
  checkAllocation(backend, 'tensor', s, dtypeOfArray(flat));
  const t = new Tensor(
    backend,
    naming('tensor', () => backend.upload(flat)),
    s,
    dtypeOfArray(flat),
  );
  if (t.dtype === 'int32') t.hostValues = flat === values ? flat.slice() : flat;
  return t;
}

/**
 * A tensor from numbers, nested arrays or a typed array (row-major), on the active backend.
 * The dtype defaults to float32 (int32/float64 for those typed arrays).
 *
 * @example
 * ```ts
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);      // float32 [2, 3]
 * const i = tensor([0, 2], undefined, 'int32');   // int32 [2]
 * ```
 */
export function tensor(values: number | NestedArray | TypedArray, shape?: Shape, dtype?: DType): Tensor {
  return tensorOn(activeBackend(), values, shape, dtype);
}

function filled(op: string, shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  checkShape(op, 'shape', shape);
  assertDType(op, 'dtype', dtype);
  if (typeof value !== 'number') throw new Error(`${op}: value must be a number, got ${typeof value}`);
  if (dtype === 'int32') checkInt32(op, value);
  return fillOn(activeBackend(), shape, value, dtype, op);
}

/**
 * A tensor of zeros (float32 unless `dtype` says otherwise).
 *
 * @example
 * ```ts
 * zeros([2, 3]);            // float32 [2, 3]
 * zeros([4], 'int32');      // int32 [4]
 * ```
 */
export const zeros = (shape: Shape, dtype?: DType): Tensor => filled('zeros', shape, 0, dtype);
/** A tensor of ones (float32 unless `dtype` says otherwise). */
export const ones = (shape: Shape, dtype?: DType): Tensor => filled('ones', shape, 1, dtype);
/**
 * A tensor filled with `value`.
 *
 * @example
 * ```ts
 * await full([2], 7).data();   // Float32Array [7, 7]
 * ```
 */
export const full = (shape: Shape, value: number, dtype?: DType): Tensor => filled('full', shape, value, dtype);

/**
 * start, start + step, ... below stop (NumPy's arange).
 *
 * @example
 * ```ts
 * await arange(4).data();            // Int32Array [0, 1, 2, 3]
 * await arange(0, 1, 0.25).data();   // Float32Array [0, 0.25, 0.5, 0.75]
 * ```
 */
export function arange(start: number, stop?: number, step = 1, dtype?: DType): Tensor {
  const [a, b] = stop === undefined ? [0, start] : [start, stop];
  if (![a, b, step].every(Number.isFinite) || step === 0)
    throw new Error(`arange: start, stop and step must be finite numbers with step != 0, got ${a}, ${b}, ${step}`);
  const n = Math.max(0, Math.ceil((b - a) / step));
  const values = Array.from({ length: n }, (_, i) => a + i * step);
  const t = dtype ?? (values.every(Number.isInteger) && Number.isInteger(step) ? 'int32' : 'float32');
  return tensor(values, [n], t);
}

let seedCounter = 0x5eed;

/**
 * Sets the seed that unseeded random calls draw from (like torch.manual_seed).
 *
 * @example
 * ```ts
 * manualSeed(7);
 * const a = await randn([3]).data();
 * manualSeed(7);
 * const b = await randn([3]).data();   // the same numbers as a
 * ```
 */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`manualSeed: seed must be a non-negative safe integer, got ${seed}`);
  seedCounter = seed;
}

/**
 * The state of the stream unseeded random calls draw from: `manualSeed(rngState())` later makes
 * them continue exactly where they were (like torch.get_rng_state / set_rng_state), e.g. when a
 * run resumes from a checkpoint.
 *
 * @example
 * ```ts
 * const saved = rngState();
 * const a = await randn([3]).data();
 * manualSeed(saved);
 * const b = await randn([3]).data();   // the same numbers as a
 * ```
 */
export function rngState(): number {
  return seedCounter;
}

function nextSeed(op: string, opts?: { seed?: number }): number {
  if (opts !== undefined && (opts === null || typeof opts !== 'object'))
    throw new Error(`${op}: options must be an object like { seed: 42 }`);
  for (const k of Object.keys(opts ?? {})) if (k !== 'seed') throw new Error(`${op}: unknown option '${k}'`);
  const s = opts?.seed;
  if (s === undefined) return seedCounter++;
  if (!Number.isSafeInteger(s) || s < 0) throw new Error(`${op}: seed must be a non-negative safe integer, got ${s}`);
  return s;
}

/**
 * Standard normal samples (Philox + Box–Muller): the same seed gives the same numbers on every backend.
 *
 * @example
 * ```ts
 * const a = randn([2, 3], { seed: 42 });
 * const b = randn([2, 3], { seed: 42 });   // the same numbers as a, on the CPU and on WebGPU
 * const c = randn([2, 3]);                 // from the global stream (see manualSeed)
 * ```
 */
export function randn(shape: Shape, opts?: { seed?: number }): Tensor {
  checkShape('randn', 'shape', shape);
  const seed = nextSeed('randn', opts);
  const b = activeBackend();
  const out = empty(b, shape, 'float32', 'randn');
  b.random('normal', seed, out.view);
  return out;
}

/**
 * Uniform samples in [low, high).
 *
 * @example
 * ```ts
 * const u = uniform([2, 3], -0.5, 0.5, { seed: 0 });   // the same numbers on every backend
 * ```
 */
export function uniform(shape: Shape, low = 0, high = 1, opts?: { seed?: number }): Tensor {
  checkShape('uniform', 'shape', shape);
  if (!Number.isFinite(low) || !Number.isFinite(high) || high < low)
    throw new Error(`uniform: need finite low <= high, got ${low}, ${high}`);
  const seed = nextSeed('uniform', opts);
  const b = activeBackend();
  const u = empty(b, shape, 'float32', 'uniform');
  b.random('uniform', seed, u.view);
  if (low === 0 && high === 1) return u;
  const scaled = mul(u, high - low);
  const out = add(scaled, low);
  u.dispose();
  scaled.dispose();
  return out;
}
