/**
 * Elementwise kernels against the float64 CPU oracle: every unary and binary primitive of
 * ops/table.ts over random shapes with NumPy broadcasting (size-1 axes both ways, 0-d tensors,
 * plain numbers), comparisons as float32 masks, `where`, `cast`, and int32 arithmetic.
 *
 * Tolerances follow the precision WGSL promises (the Vulkan/WebGPU tables): +, -, * are correctly
 * rounded; division is within 2.5 ULP; exp within 3 + 2|x| ULP; log within 3 ULP (2^-21 absolute
 * on [0.5, 2]); functions built from those (sigmoid, tanh, pow) inherit their errors. Denormal
 * results may be flushed to zero, so every bound also allows F32_TINY absolute.
 */
import {
  type Backend,
  binary,
  type BinaryOp,
  binaryOps,
  cast,
  cpuBackend,
  type DType,
  sigmoid,
  type Tensor,
  tanh,
  tensorOn,
  unary,
  type UnaryOp,
  unaryOps,
  where,
} from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Bound,
  EXACT,
  expectClose,
  F32_TINY,
  f32,
  FC_SEED,
  floatValue,
  type Operand,
  operandFor,
  operandPair,
  pair,
  shapeArb,
  tensorArb,
  ULP,
  valuesAt,
  deviceUnderTest,
  withBag,
  DUT_NAME,
} from './property-support.js';

let dut: Backend;
beforeAll(async () => {
  dut = await deviceUnderTest();
});

const RUNS = 30;

/** How a unary op is tested: which inputs, and the error allowed at input x with reference r. */
interface UnaryCase {
  values: fc.Arbitrary<number>;
  bound: (x: number, r: number) => number;
}

const exact = (): number => 0;
const any = floatValue({ nonFinite: true });
/** Relative error in ULP plus room for a flushed denormal. */
const ulps = (n: number) => (r: number) => n * ULP * Math.abs(r) + F32_TINY;

/** Values within a thousand ULP of 1, where log(x) is tiny. */
const nearOne = fc.integer({ min: -1000, max: 1000 }).map((k) => Math.fround(1 + k * 2 ** -23));

const UNARY: Record<UnaryOp, UnaryCase> = {
  neg: { values: any, bound: exact },
  abs: { values: any, bound: exact },
  sign: { values: any, bound: exact },
  relu: { values: any, bound: exact },
  floor: { values: any, bound: exact },
  ceil: { values: any, bound: exact },
  round: { values: fc.oneof(any, fc.constantFrom(0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5)), bound: exact },
  isnan: { values: any, bound: exact },
  isinf: { values: any, bound: exact },
  // exp: 3 + 2|x| ULP (WGSL). Arguments up to ±1e4 overflow to Inf / underflow to 0 on both sides.
  exp: {
    values: fc.oneof(floatValue({ range: 100, nonFinite: true }), any),
    bound: (x, r) => ulps(3 + 2 * Math.abs(x))(r),
  },
  // log: WGSL promises 3 ULP, but only 2^-21 absolute on [0.5, 2], where the result is near 0;
  // wgru_log sums a series there, so we ask 4 ULP relative everywhere (near 1 too). Negatives: NaN.
  log: { values: fc.oneof(any, f32(0, 1e4), f32(0.5, 2), nearOne), bound: (_x, r) => ulps(4)(r) },
  sqrt: { values: fc.oneof(any, f32(0, 1e4)), bound: (_x, r) => ulps(3)(r) },
  reciprocal: { values: any, bound: (_x, r) => ulps(3)(r) },
  // sigmoid = 1/(1+e) or e/(1+e) with e = exp(-|x|): the exp error plus two roundings.
  sigmoid: { values: any, bound: (x, r) => ulps(6 + 2 * Math.abs(x))(r) },
  // tanh: a rational function near 0 (a few roundings), (1-e)/(1+e) beyond, where the exp error
  // is damped by e itself: 16 ULP covers both.
  tanh: { values: any, bound: (_x, r) => ulps(16)(r) },
  // sin/cos: WGSL promises 2^-11 absolute on [-pi, pi] only; this adapter (llvmpipe) reduces
  // the argument properly, and we hold it to 1e-6 absolute plus the input's own spacing.
  sin: { values: any, bound: (x) => 1e-6 + 2 * ULP * Math.abs(x) },
  cos: { values: any, bound: (x) => 1e-6 + 2 * ULP * Math.abs(x) },
};

/** How a binary op is tested: operand values and the error allowed at (a, b) with reference r. */
interface BinaryCase {
  a: fc.Arbitrary<number>;
  b: fc.Arbitrary<number>;
  bound: (a: number, b: number, r: number) => number;
}

/** Exponents: small integers (exact repeated squaring, negative bases allowed) or fractions. */
const exponent = fc.oneof(
  { arbitrary: fc.integer({ min: -6, max: 6 }), weight: 3 },
  { arbitrary: f32(-3, 3), weight: 2 },
  { arbitrary: fc.constantFrom(0.5, -0.5, 2, 3, -1, 0, 64, 65, Number.NaN, Number.POSITIVE_INFINITY), weight: 1 },
);

const BINARY: Record<BinaryOp, BinaryCase> = {
  // Correctly rounded in float32: half an ULP, one allowed for the double rounding of the oracle.
  add: { a: any, b: any, bound: (_a, _b, r) => ulps(1)(r) },
  sub: { a: any, b: any, bound: (_a, _b, r) => ulps(1)(r) },
  mul: { a: any, b: any, bound: (_a, _b, r) => ulps(1)(r) },
  div: { a: any, b: any, bound: (_a, _b, r) => ulps(3)(r) },
  // pow: exp2(b log2 a): with x = b log2|a|, exp2's 3 + 2|x| ULP plus log2's 3 ULP scaled by |x|.
  pow: {
    a: floatValue({ range: 100, nonFinite: true }),
    b: exponent,
    bound: (a, b, r) => ulps(8 + 5 * Math.abs(b * Math.log2(Math.abs(a))))(r),
  },
  maximum: { a: any, b: any, bound: () => 0 },
  minimum: { a: any, b: any, bound: () => 0 },
  equal: { a: any, b: any, bound: () => 0 },
  notEqual: { a: any, b: any, bound: () => 0 },
  less: { a: any, b: any, bound: () => 0 },
  lessEqual: { a: any, b: any, bound: () => 0 },
  greater: { a: any, b: any, bound: () => 0 },
  greaterEqual: { a: any, b: any, bound: () => 0 },
};

/** Operand i lined up with output element i (a number operand is the same everywhere). */
function operandAt(values: ArrayLike<number> | number, i: number): number {
  return typeof values === 'number' ? values : values[i];
}

describe(`elementwise on ${DUT_NAME} against the float64 oracle`, () => {
  it('every primitive of the table has a test case', () => {
    expect(Object.keys(UNARY).sort()).toEqual(Object.keys(unaryOps).sort());
    expect(Object.keys(BINARY).sort()).toEqual(Object.keys(binaryOps).sort());
  });

  for (const op of Object.keys(UNARY) as UnaryOp[]) {
    const c = UNARY[op];
    it(`unary ${op}`, async () => {
      await fc.assert(
        fc.asyncProperty(tensorArb(shapeArb(), c.values), ({ shape, values }) =>
          withBag(async (bag) => {
            const x = pair(bag, dut, values, shape);
            const got = bag.add(unary(op, x.dut));
            const want = bag.add(unary(op, x.ref));
            const bound: Bound = (r, i) => c.bound(values[i], r);
            await expectClose(`${op}`, got, want, bound, 'float32');
          }),
        ),
        { seed: FC_SEED, numRuns: RUNS },
      );
    });
  }

  for (const op of Object.keys(BINARY) as BinaryOp[]) {
    const c = BINARY[op];
    const operands = shapeArb().chain((out) =>
      fc
        .tuple(fc.constant(out), operandFor(out, c.a), operandFor(out, c.b))
        .filter(([, a, b]) => a.kind === 'tensor' || b.kind === 'tensor'),
    );
    it(`binary ${op} with broadcasting and number operands`, async () => {
      await fc.assert(
        fc.asyncProperty(operands, ([, a, b]) =>
          withBag(async (bag) => {
            const x = operandPair(bag, dut, a);
            const y = operandPair(bag, dut, b);
            const got = bag.add(binary(op, x.dut, y.dut));
            const want = bag.add(binary(op, x.ref, y.ref));
            const av = typeof x.ref === 'number' ? x.ref : await valuesAt(x.ref, want.shape);
            const bv = typeof y.ref === 'number' ? y.ref : await valuesAt(y.ref, want.shape);
            const bound: Bound = (r, i) => c.bound(operandAt(av, i), operandAt(bv, i), r);
            await expectClose(`${op}(${describeOperand(a)}, ${describeOperand(b)})`, got, want, bound, 'float32');
          }),
        ),
        { seed: FC_SEED, numRuns: RUNS },
      );
    });
  }

  it('where(cond, a, b) broadcasts all three; NaN and any nonzero count as true', async () => {
    const condValue = fc.constantFrom(0, -0, 1, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY);
    const args = shapeArb().chain((out) =>
      fc.tuple(operandFor(out, condValue, false), operandFor(out, any), operandFor(out, any)),
    );
    await fc.assert(
      fc.asyncProperty(args, ([c, a, b]) =>
        withBag(async (bag) => {
          const cond = operandPair(bag, dut, c);
          const x = operandPair(bag, dut, a);
          const y = operandPair(bag, dut, b);
          const got = bag.add(where(cond.dut as Tensor, x.dut, y.dut));
          const want = bag.add(where(cond.ref as Tensor, x.ref, y.ref));
          await expectClose('where', got, want, EXACT, 'float32');
        }),
      ),
      { seed: FC_SEED, numRuns: RUNS },
    );
  });

  it('where keeps the dtype of its values: int32 beside an integer number stays int32', async () => {
    await withBag(async (bag) => {
      const mask = pair(bag, dut, [1, 0, 1], [3]);
      const ints = pair(bag, dut, [5, 6, 7], [3], 'int32');
      for (const side of [mask.dut, mask.ref]) {
        const t = side === mask.dut ? ints.dut : ints.ref;
        const w = bag.add(where(side, t, 0));
        expect(w.dtype).toBe('int32');
        expect(Array.from(await w.data())).toEqual([5, 0, 7]);
        const f = bag.add(where(side, t, 0.5));
        expect(f.dtype).toBe('float32');
        expect(Array.from(await f.data())).toEqual([5, 0.5, 7]);
      }
    });
  });

  it('cast float32 -> int32 truncates toward zero, saturates, and turns NaN into 0', async () => {
    const value = fc.oneof(
      any,
      f32(-3e9, 3e9),
      fc.constantFrom(2147483520, -2147483648, 2147483648, 0.999, -0.999, 1e10),
    );
    await fc.assert(
      fc.asyncProperty(tensorArb(shapeArb(), value), ({ shape, values }) =>
        withBag(async (bag) => {
          const x = pair(bag, dut, values, shape);
          await expectClose(
            'cast to int32',
            bag.add(cast(x.dut, 'int32')),
            bag.add(cast(x.ref, 'int32')),
            EXACT,
            'int32',
          );
        }),
      ),
      { seed: FC_SEED, numRuns: RUNS },
    );
  });

  it('cast int32 -> float32 rounds like Math.fround, and back is exact for small integers', async () => {
    const value = fc.oneof(
      fc.integer({ min: -1000, max: 1000 }),
      fc.integer({ min: -2147483648, max: 2147483647 }),
      fc.constantFrom(16777217, -16777217, 2147483647),
    );
    await fc.assert(
      fc.asyncProperty(tensorArb(shapeArb(), value), ({ shape, values }) =>
        withBag(async (bag) => {
          const x = pair(bag, dut, values, shape, 'int32');
          const got = bag.add(cast(x.dut, 'float32'));
          const want = values.map(Math.fround);
          expect(got.dtype).toBe('float32');
          expect(Array.from(await got.data())).toEqual(want);
          await expectClose('cast to float32', got, bag.add(cast(x.ref, 'float32')), EXACT);
        }),
      ),
      { seed: FC_SEED, numRuns: RUNS },
    );
  });

  describe('int32 arithmetic stays int32 (wrapping like i32) and matches the CPU bit for bit', () => {
    const int = fc.oneof(
      fc.integer({ min: -20, max: 20 }),
      fc.integer({ min: -2147483648, max: 2147483647 }),
      fc.constantFrom(-2147483648, 2147483647, 65536, 46341),
    );
    const intOps: BinaryOp[] = [
      'add',
      'sub',
      'mul',
      'maximum',
      'minimum',
      'equal',
      'notEqual',
      'less',
      'lessEqual',
      'greater',
      'greaterEqual',
    ];
    for (const op of intOps) {
      it(`int32 ${op}`, async () => {
        const args = shapeArb().chain((out) =>
          fc
            .tuple(operandFor(out, int), operandFor(out, int))
            .filter(([a, b]) => a.kind === 'tensor' || b.kind === 'tensor'),
        );
        await fc.assert(
          fc.asyncProperty(args, ([a, b]) =>
            withBag(async (bag) => {
              const x = operandPair(bag, dut, a, 'int32');
              const y = operandPair(bag, dut, b, 'int32');
              const got = bag.add(binary(op, x.dut, y.dut));
              const want = bag.add(binary(op, x.ref, y.ref));
              const dtype: DType = binaryOps[op].mask ? 'float32' : 'int32';
              expect(want.dtype).toBe(dtype);
              await expectClose(`int32 ${op}`, got, want, EXACT, dtype);
            }),
          ),
          { seed: FC_SEED, numRuns: 25 },
        );
      });
    }
    it('int32 unary neg/abs/sign/relu stay int32; exp/div/pow/sqrt give float32', async () => {
      await fc.assert(
        fc.asyncProperty(tensorArb(shapeArb(), int), ({ shape, values }) =>
          withBag(async (bag) => {
            const x = pair(bag, dut, values, shape, 'int32');
            for (const op of ['neg', 'abs', 'sign', 'relu'] as const) {
              await expectClose(`int32 ${op}`, bag.add(unary(op, x.dut)), bag.add(unary(op, x.ref)), EXACT, 'int32');
            }
            await expectClose(
              'int32 sqrt',
              bag.add(unary('sqrt', x.dut)),
              bag.add(unary('sqrt', x.ref)),
              ulps(3),
              'float32',
            );
            await expectClose(
              'int32 div',
              bag.add(binary('div', x.dut, 7)),
              bag.add(binary('div', x.ref, 7)),
              ulps(3),
              'float32',
            );
            // An integer number beside int32 stays int32; a fractional one promotes to float32.
            await expectClose(
              'int32 + 3',
              bag.add(binary('add', x.dut, 3)),
              bag.add(binary('add', x.ref, 3)),
              EXACT,
              'int32',
            );
            await expectClose(
              'int32 * 0.5',
              bag.add(binary('mul', x.dut, 0.5)),
              bag.add(binary('mul', x.ref, 0.5)),
              ulps(1),
              'float32',
            );
          }),
        ),
        { seed: FC_SEED, numRuns: 25 },
      );
    });
  });

  it('a number beside float32 tensors is a float32 constant on both backends (x + fround(0.1))', async () => {
    // fround(x + 0.1) and fround(x + fround(0.1)) differ for about one x in twelve here.
    const xs = Array.from({ length: 1000 }, (_, i) => Math.fround(i * 0.37 - 100));
    await withBag(async (bag) => {
      const cpu = bag.add(onCpuFloat32(xs));
      const gpu = bag.add(onDutFloat32(xs));
      for (const [op, c] of [
        ['add', 0.1],
        ['mul', 0.7],
        ['sub', 1 / 3],
        ['maximum', 0.3],
      ] as const) {
        const want = Array.from(await bag.add(binary(op, cpu, c)).data());
        const got = Array.from(await bag.add(binary(op, gpu, c)).data());
        expect(got, `${op}(x, ${c})`).toEqual(want);
        expect(want, `${op}(x, ${c}) in float32 arithmetic`).toEqual(
          xs.map((x) => Math.fround(binaryOps[op].cpu(x, Math.fround(c)))),
        );
      }
    });
  });
});

describe(`tanh and sigmoid on ${DUT_NAME} at the extremes`, () => {
  it('are finite and within a few ULP (relative) at ±100, ±1e4, near 0 and at the ±90 edge', async () => {
    const xs = [
      0, -0, 1e-30, -1e-30, 1e-20, 1e-7, -1e-7, 1e-3, -1e-3, 0.5, -0.5, 0.999, 1, 1.001, 3, -3, 9, 10, -10, 20, 89, 90,
      91, -89, -90, -91, 100, -100, 1e4, -1e4,
    ].map(Math.fround);
    await withBag(async (bag) => {
      const x = bag.add(onDutFloat32(xs));
      const th = await bag.add(tanh(x)).data();
      const sg = await bag.add(sigmoid(x)).data();
      xs.forEach((v, i) => {
        const t = th[i];
        const s = sg[i];
        expect(Number.isFinite(t), `tanh(${v}) = ${t}`).toBe(true);
        expect(Number.isFinite(s), `sigmoid(${v}) = ${s}`).toBe(true);
        const tRef = Math.tanh(v);
        // Relative error, except where the true result is a float32 denormal (may flush to 0).
        expect(Math.abs(t - tRef), `tanh(${v}) = ${t}, want ${tRef}`).toBeLessThanOrEqual(
          8 * ULP * Math.abs(tRef) + F32_TINY,
        );
        const sRef = 1 / (1 + Math.exp(-v));
        expect(Math.abs(s - sRef), `sigmoid(${v}) = ${s}, want ${sRef}`).toBeLessThanOrEqual(
          (6 + 2 * Math.abs(v)) * ULP * sRef + F32_TINY,
        );
        if (v === 0) expect([Math.abs(t), s]).toEqual([0, 0.5]);
      });
    });
  });
});

// --- small helpers -----------------------------------------------------------------------------

function onCpuFloat32(values: number[]): Tensor {
  return tensorOn(cpuBackend(), Float32Array.from(values), [values.length], 'float32');
}

function onDutFloat32(values: number[]): Tensor {
  return tensorOn(dut, Float32Array.from(values), [values.length], 'float32');
}

function describeOperand(o: Operand): string {
  return o.kind === 'number' ? `number ${o.value}` : `[${o.shape.join(', ')}]`;
}
