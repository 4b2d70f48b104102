/**
 * Shared pieces of the property tests: the device under test, the float64 CPU oracle, arbitraries
 * for shapes and values, and tolerant comparison.
 *
 * Every property runs an op on the device under test (WebGPU, float32) and the same op on the CPU
 * backend with float64 operands made from the *same* float32 values, then compares. The oracle
 * therefore sees exactly the inputs the kernel saw; the only differences left are the kernel's
 * float32 rounding and the precision of the GPU's built-in functions, which the tolerances name.
 *
 * Without a WebGPU adapter the device under test is the CPU backend in float32, so the suite still
 * checks the front end (shapes, views, broadcasting, dtype rules) against the float64 oracle.
 */
import {
  activeBackend,
  type Backend,
  broadcastTo,
  cpuBackend,
  type DType,
  type Shape,
  setBackend,
  sizeOf,
  type Tensor,
  tensorOn,
  type TypedArray,
} from '@wgru/tensor';
import fc from 'fast-check';
import { FC_SEED, webgpuAvailable } from '../../../test-support/backends.js';

export { FC_SEED };

/**
 * Which backend the properties judge: WebGPU when an adapter exists, else the CPU in float32.
 * WGRU_PROPERTY_DUT=cpu|wasm picks that backend instead (the wasm-dut test files set it, to run
 * the same properties on the WebAssembly backend).
 */
export const DUT_NAME: 'webgpu' | 'wasm' | 'cpu' =
  process.env.WGRU_PROPERTY_DUT === 'cpu' || process.env.WGRU_PROPERTY_DUT === 'wasm'
    ? process.env.WGRU_PROPERTY_DUT
    : (await webgpuAvailable())
      ? 'webgpu'
      : 'cpu';

/** Activates the device under test and returns it (call in `beforeAll`). */
export async function deviceUnderTest(): Promise<Backend> {
  await setBackend(DUT_NAME);
  return activeBackend();
}

/** The float64 reference backend. */
export const oracle: Backend = cpuBackend();

/** float32 spacing at 1.0 (one "ULP" in the relative sense used by the Vulkan precision tables). */
export const ULP = 2 ** -23;
/** The smallest normal float32. Vulkan lets a device flush denormal results to zero. */
export const F32_TINY = 2 ** -126;
export const F32_MAX = 3.4028234663852886e38;

// ---------------------------------------------------------------------------------------------
// Tensors on both sides

/** Tensors made during one property run, disposed together at its end. */
export class Bag {
  private readonly items: Tensor[] = [];
  add<T extends Tensor>(t: T): T {
    this.items.push(t);
    return t;
  }
  dispose(): void {
    for (const t of this.items) t.dispose();
    this.items.length = 0;
  }
}

/** Runs `fn` with a fresh bag and disposes everything it collected, even when `fn` throws. */
export async function withBag<T>(fn: (bag: Bag) => Promise<T>): Promise<T> {
  const bag = new Bag();
  try {
    return await fn(bag);
  } finally {
    bag.dispose();
  }
}

/** A float32 (or int32) tensor on the device under test. */
export function onDut(
  dut: Backend,
  values: readonly number[],
  shape: Shape,
  dtype: 'float32' | 'int32' = 'float32',
): Tensor {
  const data = dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
  return tensorOn(dut, data, shape, dtype);
}

/** The same values on the oracle: float64 for float data, int32 for int32 data. */
export function onOracle(values: readonly number[], shape: Shape, dtype: 'float32' | 'int32' = 'float32'): Tensor {
  return dtype === 'int32'
    ? tensorOn(oracle, Int32Array.from(values), shape, 'int32')
    : tensorOn(oracle, Float64Array.from(values), shape, 'float64');
}

/** A pair of the same values on the device under test and on the oracle. */
export interface Pair {
  dut: Tensor;
  ref: Tensor;
}

export function pair(
  bag: Bag,
  dut: Backend,
  values: readonly number[],
  shape: Shape,
  dtype: 'float32' | 'int32' = 'float32',
): Pair {
  return { dut: bag.add(onDut(dut, values, shape, dtype)), ref: bag.add(onOracle(values, shape, dtype)) };
}

/** The row-major values of `t` broadcast to `shape` (to line inputs up with outputs). */
export async function valuesAt(t: Tensor, shape: Shape): Promise<TypedArray> {
  const v = broadcastTo(t, shape);
  try {
    return await v.data();
  } finally {
    v.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// Comparison

/**
 * The largest allowed |actual - expected| for element i whose float64 reference is `ref`.
 * A plain `{ rtol, atol }` means atol + rtol * |ref|.
 */
export type Bound = (ref: number, i: number) => number;
export type Tolerance = { rtol?: number; atol?: number } | Bound;

/** Exact agreement (NaN matches NaN, -0 matches 0). */
export const EXACT: Tolerance = { rtol: 0, atol: 0 };

function boundOf(tol: Tolerance): Bound {
  if (typeof tol === 'function') return tol;
  const rtol = tol.rtol ?? 0;
  const atol = tol.atol ?? 0;
  return (ref) => atol + rtol * Math.abs(ref);
}

/**
 * Whether a float32 result `actual` agrees with the float64 reference `ref` within `bound`.
 * NaN must meet NaN. Infinities must match, except near the top of the float32 range, where a
 * reference within `bound` of FLT_MAX may legitimately round either way.
 */
export function agrees(actual: number, ref: number, bound: number): boolean {
  if (Number.isNaN(ref) || Number.isNaN(actual)) return Number.isNaN(ref) && Number.isNaN(actual);
  if (actual === ref) return true;
  if (!Number.isFinite(actual)) return Math.sign(actual) === Math.sign(ref) && Math.abs(ref) + bound >= F32_MAX;
  if (!Number.isFinite(ref)) return false;
  return Math.abs(actual - ref) <= bound;
}

function fmt(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/**
 * Reads both tensors and throws a descriptive error unless their shapes are equal and every
 * element agrees within `tol`. `expectDType` also pins the result's dtype on the device.
 */
export async function expectClose(
  what: string,
  actual: Tensor,
  expected: Tensor,
  tol: Tolerance,
  expectDType?: DType,
): Promise<void> {
  if (actual.shape.length !== expected.shape.length || actual.shape.some((d, i) => d !== expected.shape[i])) {
    throw new Error(`${what}: shape [${actual.shape.join(', ')}] but the oracle gives [${expected.shape.join(', ')}]`);
  }
  if (expectDType !== undefined && actual.dtype !== expectDType) {
    throw new Error(`${what}: dtype ${actual.dtype}, expected ${expectDType}`);
  }
  const [a, e] = await Promise.all([actual.data(), expected.data()]);
  const bound = boundOf(tol);
  const bad: string[] = [];
  for (let i = 0; i < e.length; i++) {
    const b = bound(e[i], i);
    if (!agrees(a[i], e[i], b)) {
      bad.push(`[${i}] got ${fmt(a[i])}, oracle ${fmt(e[i])} (allowed ±${b.toPrecision(3)})`);
      if (bad.length >= 6) break;
    }
  }
  if (bad.length > 0) throw new Error(`${what} (shape [${actual.shape.join(', ')}]): ${bad.join('; ')}`);
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** A float32 in [min, max] that is zero or normal (Vulkan may flush denormal inputs to zero). */
export function f32(min: number, max: number): fc.Arbitrary<number> {
  return fc
    .float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true })
    .map((x) => (Math.abs(x) < F32_TINY ? 0 : x));
}

/** Values worth trying in any float op: signed zeros, tiny and huge magnitudes, the ±90 tanh edge. */
export const SPECIAL_FINITE = [
  0, -0, 1, -1, 0.5, -0.5, 2.5, -2.5, 1e-30, -1e-30, 1e-7, -1e-7, 89.5, -89.5, 90.5, -90.5, 100, -100, 1e4, -1e4,
].map(Math.fround);
export const NON_FINITE = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];

/** Mostly moderate values, some large ones, some special ones, and (if asked) NaN and ±Inf. */
export function floatValue(opts: { range?: number; nonFinite?: boolean } = {}): fc.Arbitrary<number> {
  const range = opts.range ?? 1e4;
  const parts: Array<fc.WeightedArbitrary<number>> = [
    { arbitrary: f32(-Math.min(range, 10), Math.min(range, 10)), weight: 6 },
    { arbitrary: f32(-range, range), weight: 2 },
    { arbitrary: fc.constantFrom(...SPECIAL_FINITE.filter((v) => Math.abs(v) <= range)), weight: 2 },
  ];
  if (opts.nonFinite) parts.push({ arbitrary: fc.constantFrom(...NON_FINITE), weight: 1 });
  return fc.oneof(...parts);
}

/** An axis length: mostly 1-3 (size-1 axes broadcast), sometimes 0-5, now and then 6-70. */
export const dim: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 5 },
  { arbitrary: fc.integer({ min: 0, max: 5 }), weight: 3 },
  { arbitrary: fc.integer({ min: 6, max: 70 }), weight: 1 },
);

/** A shape of rank min..max (0-d included by default) with at most `maxSize` elements. */
export function shapeArb(
  opts: { minRank?: number; maxRank?: number; maxSize?: number; dims?: fc.Arbitrary<number> } = {},
): fc.Arbitrary<number[]> {
  const maxSize = opts.maxSize ?? 2000;
  return fc
    .array(opts.dims ?? dim, { minLength: opts.minRank ?? 0, maxLength: opts.maxRank ?? 4 })
    .filter((s) => sizeOf(s) <= maxSize);
}

/** Values for a tensor of `shape`. */
export function valuesFor(shape: Shape, value: fc.Arbitrary<number>): fc.Arbitrary<number[]> {
  const n = sizeOf(shape);
  return fc.array(value, { minLength: n, maxLength: n });
}

/** A shape with its values. */
export function tensorArb(
  shape: fc.Arbitrary<number[]>,
  value: fc.Arbitrary<number>,
): fc.Arbitrary<{ shape: number[]; values: number[] }> {
  return shape.chain((s) => valuesFor(s, value).map((values) => ({ shape: s, values })));
}

/**
 * A shape that broadcasts to `out`: some leading axes dropped, some axes set to 1 (NumPy rules),
 * so that broadcasting happens both ways when two are drawn for the same `out`.
 */
export function broadcastableTo(out: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: out.length }),
      fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
    )
    .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
}

/** An operand of an elementwise op: a tensor (maybe 0-d) or a plain number. */
export type Operand = { kind: 'tensor'; shape: number[]; values: number[] } | { kind: 'number'; value: number };

export function operandFor(
  out: readonly number[],
  value: fc.Arbitrary<number>,
  allowNumber = true,
): fc.Arbitrary<Operand> {
  const asTensor = broadcastableTo(out).chain((shape) =>
    valuesFor(shape, value).map((values): Operand => ({ kind: 'tensor', shape, values })),
  );
  if (!allowNumber) return asTensor;
  return fc.oneof(
    { arbitrary: asTensor, weight: 5 },
    { arbitrary: value.map((v): Operand => ({ kind: 'number', value: v })), weight: 1 },
  );
}

/** Materialises an operand on both sides (a number stays a number). */
export function operandPair(
  bag: Bag,
  dut: Backend,
  op: Operand,
  dtype: 'float32' | 'int32' = 'float32',
): { dut: Tensor | number; ref: Tensor | number } {
  if (op.kind === 'number') return { dut: op.value, ref: op.value };
  return pair(bag, dut, op.values, op.shape, dtype);
}

/** A random selection of `axes` of a rank-`rank` tensor, each written positive or negative. */
export function axesArb(rank: number): fc.Arbitrary<number[]> {
  if (rank === 0) return fc.constant([]);
  return fc
    .tuple(
      fc.subarray(Array.from({ length: rank }, (_, i) => i)),
      fc.array(fc.boolean(), { minLength: rank, maxLength: rank }),
    )
    .chain(([axes, negs]) =>
      fc
        .shuffledSubarray(axes, { minLength: axes.length, maxLength: axes.length })
        .map((order) => order.map((a) => (negs[a] ? a - rank : a))),
    );
}

/** One axis of a rank-`rank` tensor (rank >= 1), positive or negative. */
export function axisArb(rank: number): fc.Arbitrary<number> {
  return fc.integer({ min: -rank, max: rank - 1 });
}

export function describeShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}
