/**
 * Batched matmul against the float64 CPU oracle: batch axes that broadcast (size 1 or missing on
 * either side), 1-D operands (a row vector on the left, a column on the right, their axis dropped
 * as in numpy.matmul), transposed, permuted and sliced operands that the kernel must read in place (one
 * dispatch, no copies), odd sizes around the kernel's 4x4 register tiles, zero-size axes, and
 * int32 operands (exact, wrapping like i32).
 *
 * Tolerance: each output is a dot product of k terms accumulated in float32, so its error is at
 * most about k rounding errors of the magnitudes involved: k * 2^-23 * (|A| @ |B|).
 */
import { abs, type Backend, engineStats, matmul, permute, slice, type Tensor } from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Bag,
  type Bound,
  broadcastableTo,
  deviceUnderTest,
  DUT_NAME,
  EXACT,
  expectClose,
  F32_TINY,
  FC_SEED,
  floatValue,
  onDut,
  onOracle,
  ULP,
  valuesFor,
  withBag,
} from './property-support.js';

let dut: Backend;
beforeAll(async () => {
  dut = await deviceUnderTest();
});

/** Matrix sizes: mostly small, sometimes past a few 4x4 tiles and 8x8 workgroups (up to 40). */
const size = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 6 }), weight: 4 },
  { arbitrary: fc.integer({ min: 7, max: 40 }), weight: 1 },
);

/** How one operand is laid out. */
interface Layout {
  /** Its own batch axes (broadcastable to the common batch shape). */
  batch: number[];
  /** A 1-D operand: no batch axes, no transposition. */
  vector: boolean;
  /**
   * Stored with its axes in another order and read through permute(): `perm[i]` is the stored
   * axis that logical axis i comes from. The identity is a plain layout; swapping the last two is
   * the classic transposed operand; the others move batch axes too.
   */
  perm: number[];
  /** Read through a slice that skips the first row (a view with an offset). */
  sliced: boolean;
}

const layout = (batch: number[]) =>
  broadcastableTo(batch).chain((own) => {
    const rank = own.length + 2;
    const identity = [...Array(rank).keys()];
    const swapped = [...identity.slice(0, -2), rank - 1, rank - 2];
    const perm = fc.oneof(
      fc.constant(identity),
      fc.constant(swapped),
      fc.shuffledSubarray(identity, { minLength: rank, maxLength: rank }),
    );
    return fc.record({ batch: fc.constant(own), vector: fc.boolean(), perm, sliced: fc.boolean() });
  });

const isIdentity = (perm: readonly number[]) => perm.every((p, i) => p === i);

const matmulCase = fc
  .record({ batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), m: size, k: size, n: size })
  .chain((dims) =>
    fc.record({
      dims: fc.constant(dims),
      a: layout(dims.batch).map(
        (l): Layout => ({ ...l, vector: l.vector && l.batch.length === 0 && isIdentity(l.perm) && !l.sliced }),
      ),
      b: layout(dims.batch).map(
        (l): Layout => ({ ...l, vector: l.vector && l.batch.length === 0 && isIdentity(l.perm) && !l.sliced }),
      ),
    }),
  )
  .filter(({ dims }) => dims.batch.reduce((p, d) => p * d, 1) * (dims.m * dims.k + dims.k * dims.n) <= 6000)
  .chain((c) => {
    const aShape = storedShape(c.a, c.dims.m, c.dims.k, 'left');
    const bShape = storedShape(c.b, c.dims.k, c.dims.n, 'right');
    const value = floatValue({ range: 100 });
    return fc.record({ c: fc.constant(c), aValues: valuesFor(aShape, value), bValues: valuesFor(bShape, value) });
  });

/**
 * The shape the operand's values are stored in (rows x cols logically, before the view). A 1-D
 * operand holds k values: the columns of the left one, the rows of the right one.
 */
function storedShape(l: Layout, rows: number, cols: number, side: 'left' | 'right'): number[] {
  if (l.vector) return [side === 'left' ? cols : rows];
  const r = rows + (l.sliced ? 1 : 0);
  const logical = [...l.batch, r, cols];
  // Stored axis perm[i] holds logical axis i.
  const stored = new Array<number>(logical.length);
  l.perm.forEach((p, i) => {
    stored[p] = logical[i];
  });
  return stored;
}

/** The logical operand: the stored values seen through permute and slice views. */
function operand(bag: Bag, stored: Tensor, l: Layout): Tensor {
  if (l.vector) return stored;
  const rank = stored.rank;
  let t = stored;
  if (!isIdentity(l.perm)) t = bag.add(permute(t, l.perm));
  if (l.sliced) t = bag.add(slice(t, [...Array(rank - 2).fill(0), 1], [...Array(rank - 2).fill(-1), -1]));
  return t;
}

function describeLayout(l: Layout, shape: readonly number[]): string {
  const perm = isIdentity(l.perm) ? '' : `permute(${JSON.stringify(l.perm)}) `;
  return `${l.vector ? 'vector ' : ''}${perm}${l.sliced ? 'sliced ' : ''}[${shape.join(', ')}]`;
}

describe(`matmul on ${DUT_NAME} against the float64 oracle`, () => {
  it('batched, broadcast, 1-D, transposed, permuted and sliced operands', async () => {
    await fc.assert(
      fc.asyncProperty(matmulCase, ({ c, aValues, bValues }) =>
        withBag(async (bag) => {
          const aShape = storedShape(c.a, c.dims.m, c.dims.k, 'left');
          const bShape = storedShape(c.b, c.dims.k, c.dims.n, 'right');
          const A = operand(bag, bag.add(onDut(dut, aValues, aShape)), c.a);
          const B = operand(bag, bag.add(onDut(dut, bValues, bShape)), c.b);
          const Ar = operand(bag, bag.add(onOracle(aValues, aShape)), c.a);
          const Br = operand(bag, bag.add(onOracle(bValues, bShape)), c.b);

          const before = engineStats().dispatches;
          const got = bag.add(matmul(A, B));
          const dispatches = engineStats().dispatches - before;
          const want = bag.add(matmul(Ar, Br));
          const what = `${describeLayout(c.a, A.shape)} @ ${describeLayout(c.b, B.shape)}`;
          // Views are read in place: one kernel, no contiguous copies of the operands.
          if (got.size > 0 && dispatches !== 1)
            throw new Error(`${what}: ${dispatches} dispatches, expected 1 (operands copied?)`);

          const mags = await bag.add(matmul(bag.add(abs(Ar)), bag.add(abs(Br)))).data();
          const k = c.dims.k;
          const bound: Bound = (_r, i) => k * ULP * mags[i] + F32_TINY;
          await expectClose(`matmul ${what}`, got, want, bound, 'float32');
        }),
      ),
      { seed: FC_SEED, numRuns: 60 },
    );
  });

  it('int32 @ int32 is int32 and exact (wrapping like i32); int32 @ float32 is float32', async () => {
    const int = fc.oneof(fc.integer({ min: -9, max: 9 }), fc.integer({ min: -2147483648, max: 2147483647 }));
    const c = fc
      .record({
        m: fc.integer({ min: 1, max: 9 }),
        k: fc.integer({ min: 0, max: 9 }),
        n: fc.integer({ min: 1, max: 9 }),
      })
      .chain(({ m, k, n }) => fc.tuple(fc.constant([m, k, n]), valuesFor([m, k], int), valuesFor([k, n], int)));
    await fc.assert(
      fc.asyncProperty(c, ([[m, k, n], a, b]) =>
        withBag(async (bag) => {
          const A = bag.add(onDut(dut, a, [m, k], 'int32'));
          const B = bag.add(onDut(dut, b, [k, n], 'int32'));
          const got = bag.add(matmul(A, B));
          const want = bag.add(matmul(bag.add(onOracle(a, [m, k], 'int32')), bag.add(onOracle(b, [k, n], 'int32'))));
          await expectClose('int32 matmul', got, want, EXACT, 'int32');
          const mixed = bag.add(matmul(A, bag.add(onDut(dut, b.map(Math.fround), [k, n]))));
          expect(mixed.dtype).toBe('float32');
        }),
      ),
      { seed: FC_SEED, numRuns: 25 },
    );
  });

  it('0 * Inf inside a dot product gives NaN on both backends', async () => {
    await withBag(async (bag) => {
      const a = [0, 1];
      const b = [Number.POSITIVE_INFINITY, 2];
      const got = await bag.add(matmul(bag.add(onDut(dut, a, [1, 2])), bag.add(onDut(dut, b, [2, 1])))).data();
      const want = await bag.add(matmul(bag.add(onOracle(a, [1, 2])), bag.add(onOracle(b, [2, 1])))).data();
      expect(Number.isNaN(got[0])).toBe(true);
      expect(Number.isNaN(want[0])).toBe(true);
    });
  });

  it('more batches, or more columns, than one dispatch dimension holds (65535 workgroups)', async () => {
    await withBag(async (bag) => {
      const batch = 70000;
      const a = Array.from({ length: batch * 2 }, (_, i) => (i % 7) - 3);
      const got = bag.add(matmul(bag.add(onDut(dut, a, [batch, 1, 2])), bag.add(onDut(dut, [1, 2], [2, 1]))));
      const want = bag.add(matmul(bag.add(onOracle(a, [batch, 1, 2])), bag.add(onOracle([1, 2], [2, 1]))));
      await expectClose('batched matmul of 70000 1x2 @ 2x1', got, want, EXACT);
      const wide = 300000;
      const b = Array.from({ length: wide * 2 }, (_, i) => (i % 5) - 2);
      const gotWide = bag.add(matmul(bag.add(onDut(dut, [1, -1], [1, 2])), bag.add(onDut(dut, b, [2, wide]))));
      const wantWide = bag.add(matmul(bag.add(onOracle([1, -1], [1, 2])), bag.add(onOracle(b, [2, wide]))));
      await expectClose('[1, 2] @ [2, 300000]', gotWide, wantWide, EXACT);
    });
  });

  it('vector @ vector is a 0-d tensor; matrix @ vector drops the vector axis', async () => {
    await withBag(async (bag) => {
      const v = bag.add(onDut(dut, [1, 2, 3], [3]));
      const M = bag.add(onDut(dut, [1, 0, 0, 0, 1, 0], [2, 3]));
      const dot = bag.add(matmul(v, v));
      expect(dot.shape).toEqual([]);
      expect(await dot.array()).toBe(14);
      const mv = bag.add(matmul(M, v));
      expect(mv.shape).toEqual([2]);
      expect(await mv.array()).toEqual([1, 2]);
      const vm = bag.add(matmul(bag.add(onDut(dut, [1, 1], [2])), M));
      expect(await vm.array()).toEqual([1, 1, 0]);
    });
  });
});
