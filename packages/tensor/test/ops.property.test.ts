/**
 * Creation and host round trips on the device under test: tensor() from numbers, nested arrays
 * and typed arrays, data() / array() back (float32 and int32, 0-d, zero-size axes), zeros / ones /
 * full / arange against the CPU, and a dispatch big enough to need a two-dimensional grid.
 *
 * The per-category properties live beside this file: elementwise, reduce, matmul, movement,
 * indexing and random `*.property.test.ts`, and `errors.test.ts` for errors at call time.
 */
import {
  add,
  arange,
  type Backend,
  full,
  type NestedArray,
  ones,
  setBackend,
  sum,
  type Tensor,
  tensor,
  zeros,
} from '@wgru/tensor';
import fc from 'fast-check';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  deviceUnderTest,
  DUT_NAME,
  EXACT,
  expectClose,
  FC_SEED,
  floatValue,
  onOracle,
  shapeArb,
  tensorArb,
  withBag,
} from './property-support.js';

let dut: Backend;
beforeAll(async () => {
  dut = await deviceUnderTest();
});
afterEach(async () => {
  await setBackend(DUT_NAME);
});

/** Row-major nested arrays of `values` in `shape`, as array() should give them. */
function nestValues(values: readonly number[], shape: readonly number[]): NestedArray {
  if (shape.length === 0) return values[0];
  const [n, ...rest] = shape as [number, ...number[]];
  const inner = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, i) => nestValues(values.slice(i * inner, (i + 1) * inner), rest));
}

describe(`creation and round trips on ${DUT_NAME}`, () => {
  it('float32: typed array in, data() and array() out, nested arrays in, the same out', async () => {
    await fc.assert(
      fc.asyncProperty(tensorArb(shapeArb(), floatValue({ nonFinite: true })), async ({ shape, values }) => {
        const t = tensor(Float32Array.from(values), shape);
        expect(t.backend).toBe(dut);
        expect([t.dtype, t.shape, t.size]).toEqual(['float32', shape, values.length]);
        expect(Array.from(await t.data())).toEqual(values);
        const nested = nestValues(values, shape);
        expect(await t.array()).toEqual(nested);
        // Nested arrays infer the shape, except where a zero-size axis hides the ones below it.
        if (!shape.includes(0)) {
          const u = tensor(nested);
          expect(u.shape).toEqual(shape);
          expect(await u.array()).toEqual(nested);
          u.dispose();
        }
        t.dispose();
      }),
      { seed: FC_SEED, numRuns: 40 },
    );
  });

  it('int32: the whole int32 range round-trips exactly', async () => {
    const int = fc.oneof(
      fc.integer({ min: -2147483648, max: 2147483647 }),
      fc.constantFrom(-2147483648, 2147483647, 0, -1, 16777217),
    );
    await fc.assert(
      fc.asyncProperty(tensorArb(shapeArb(), int), async ({ shape, values }) => {
        const t = tensor(
          values.length === 1 && shape.length === 0 ? values[0] : nestValues(values, shape),
          shape,
          'int32',
        );
        expect(t.dtype).toBe('int32');
        const d = await t.data();
        expect(d).toBeInstanceOf(Int32Array);
        expect(Array.from(d)).toEqual(values);
        expect(await t.array()).toEqual(nestValues(values, shape));
        t.dispose();
      }),
      { seed: FC_SEED, numRuns: 30 },
    );
  });

  it('zeros / ones / full / arange agree with the CPU backend, in float32 and int32', async () => {
    await fc.assert(
      fc.asyncProperty(
        shapeArb(),
        fc.constantFrom('float32', 'int32') as fc.Arbitrary<'float32' | 'int32'>,
        fc.integer({ min: -1000, max: 1000 }),
        async (shape, dtype, value) => {
          const make = () => [zeros(shape, dtype), ones(shape, dtype), full(shape, value, dtype)];
          const got = make();
          await setBackend('cpu');
          const want = make();
          await setBackend(DUT_NAME);
          for (let i = 0; i < 3; i++) {
            await expectClose(
              ['zeros', 'ones', 'full'][i] as string,
              got[i] as Tensor,
              want[i] as Tensor,
              EXACT,
              dtype,
            );
          }
          expect(Array.from(await (got[2] as Tensor).data())).toEqual(new Array(got[2]?.size).fill(value));
          for (const t of [...got, ...want]) t.dispose();
        },
      ),
      { seed: FC_SEED, numRuns: 20 },
    );
    const cases: Array<[number, number | undefined, number | undefined, number[]]> = [
      [5, undefined, undefined, [0, 1, 2, 3, 4]],
      [2, 8, 3, [2, 5]],
      [3, -3, -2, [3, 1, -1]],
      [0, 1, 0.25, [0, 0.25, 0.5, 0.75]],
      [4, 4, 1, []],
      [5, 1, 1, []],
    ];
    for (const [a, b, step, want] of cases) {
      const t = arange(a, b, step);
      expect(Array.from(await t.data()), `arange(${a}, ${b}, ${step})`).toEqual(want);
      expect(t.dtype).toBe(want.every(Number.isInteger) && Number.isInteger(step ?? 1) ? 'int32' : 'float32');
      t.dispose();
    }
  });

  it('a dispatch of more than 65535 workgroups (a 2-D grid) covers every element', async () => {
    const n = 65535 * 64 + 3; // one workgroup row full, and a few elements beyond it
    const values = Float32Array.from({ length: n }, (_, i) => i % 1000);
    await withBag(async (bag) => {
      const x = bag.add(tensor(values));
      const y = bag.add(add(x, 1));
      const d = await y.data();
      for (const i of [0, 1, 63, 64, 65535 * 64 - 1, 65535 * 64, n - 1]) expect(d[i]).toBe((i % 1000) + 1);
      let bad = 0;
      for (let i = 0; i < n; i++) if (d[i] !== (i % 1000) + 1) bad++;
      expect(bad).toBe(0);
      const s = bag.add(sum(bag.add(onOracle(Array.from(values.subarray(0, 10)), [10]))));
      expect(await s.array()).toBe(45);
    });
  });
});
