/**
 * Indexing kernels against the CPU oracle: gather with numpy.take semantics (any axis, negative
 * indices, indices of rank 0-2, strided x, float32 and int32 data), its adjoint scatterAdd
 * (repeated indices accumulate), and oneHot. Indices come both from the host (validated and
 * wrapped before anything runs) and from the device (computed by a kernel, so the kernel itself
 * must wrap negative ones).
 */
import { abs, assign, type Backend, cast, gather, oneHot, reshape, scatterAdd, transpose } from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Bound,
  deviceUnderTest,
  DUT_NAME,
  EXACT,
  expectClose,
  F32_TINY,
  FC_SEED,
  floatValue,
  onDut,
  onOracle,
  pair,
  shapeArb,
  type Tolerance,
  ULP,
  valuesFor,
  withBag,
} from './property-support.js';

let dut: Backend;
beforeAll(async () => {
  dut = await deviceUnderTest();
});

const RUNS = 40;
const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Indices of rank 0-2 into an axis of length `dim` (negative ones included). */
function indicesFor(dim: number): fc.Arbitrary<{ shape: number[]; values: number[] }> {
  const shape = fc
    .array(fc.integer({ min: dim === 0 ? 0 : 1, max: 4 }), { maxLength: 2 })
    .filter((s) => dim > 0 || sizeOf(s) === 0);
  return shape.chain((s) =>
    valuesFor(s, fc.integer({ min: -dim, max: Math.max(dim - 1, -dim) })).map((values) => ({ shape: s, values })),
  );
}

const gatherCase = shapeArb({ minRank: 1, maxSize: 1000 }).chain((xShape) =>
  fc.integer({ min: -xShape.length, max: xShape.length - 1 }).chain((axis) => {
    const a = axis < 0 ? axis + xShape.length : axis;
    return fc.record({
      xShape: fc.constant(xShape),
      axis: fc.constant(axis),
      xValues: valuesFor(xShape, floatValue({ nonFinite: true })),
      idx: indicesFor(xShape[a]),
      transposed: fc.boolean(),
      int: fc.boolean(),
    });
  }),
);

describe(`gather / scatterAdd / oneHot on ${DUT_NAME}`, () => {
  it('gather is numpy.take: any axis, negative indices, indices of rank 0-2, strided x', async () => {
    await fc.assert(
      fc.asyncProperty(gatherCase, (c) =>
        withBag(async (bag) => {
          const dtype = c.int ? 'int32' : 'float32';
          const values = c.int ? c.xValues.map((v) => (Number.isFinite(v) ? Math.trunc(v) : 7)) : c.xValues;
          // A transposed x: stored reversed, viewed through transpose().
          const stored = c.transposed ? [...c.xShape].reverse() : c.xShape;
          const x = pair(bag, dut, values, stored, dtype);
          const xd = c.transposed ? bag.add(transpose(x.dut)) : x.dut;
          const xr = c.transposed ? bag.add(transpose(x.ref)) : x.ref;
          const idx = pair(bag, dut, c.idx.values, c.idx.shape, 'int32');
          const got = bag.add(gather(xd, idx.dut, c.axis));
          const want = bag.add(gather(xr, idx.ref, c.axis));
          const a = c.axis < 0 ? c.axis + xd.rank : c.axis;
          expect(got.shape).toEqual([...xd.shape.slice(0, a), ...c.idx.shape, ...xd.shape.slice(a + 1)]);
          await expectClose(
            `gather(x [${xd.shape.join(', ')}], indices [${c.idx.shape.join(', ')}], ${c.axis})`,
            got,
            want,
            EXACT,
            dtype,
          );
        }),
      ),
      { seed: FC_SEED, numRuns: RUNS },
    );
  });

  it('gather wraps negative indices computed on the device, too', async () => {
    await fc.assert(
      fc.asyncProperty(
        gatherCase.filter((c) => !c.int),
        (c) =>
          withBag(async (bag) => {
            const x = pair(bag, dut, c.xValues, c.xShape);
            // Indices made by a kernel (cast), so that no host copy of them exists to check.
            const f = pair(bag, dut, c.idx.values, c.idx.shape);
            const id = bag.add(cast(f.dut, 'int32'));
            const ir = bag.add(cast(f.ref, 'int32'));
            await expectClose(
              'gather with device-side indices',
              bag.add(gather(x.dut, id, c.axis)),
              bag.add(gather(x.ref, ir, c.axis)),
              EXACT,
            );
            const hostIdx = bag.add(onOracle(c.idx.values, c.idx.shape, 'int32'));
            await expectClose(
              'device-side indices vs host indices',
              bag.add(gather(x.dut, id, c.axis)),
              bag.add(gather(x.ref, hostIdx, c.axis)),
              EXACT,
            );
          }),
      ),
      { seed: FC_SEED, numRuns: 25 },
    );
  });

  it('scatterAdd is the adjoint of gather: repeated indices accumulate', async () => {
    // Small axes, so that indices repeat often.
    const c = shapeArb({ minRank: 1, maxSize: 500, dims: fc.integer({ min: 1, max: 4 }) }).chain((shape) =>
      fc.integer({ min: -shape.length, max: shape.length - 1 }).chain((axis) => {
        const a = axis < 0 ? axis + shape.length : axis;
        return indicesFor(shape[a]).chain((idx) => {
          const srcShape = [...shape.slice(0, a), ...idx.shape, ...shape.slice(a + 1)];
          return fc.record({
            shape: fc.constant(shape),
            axis: fc.constant(axis),
            idx: fc.constant(idx),
            srcShape: fc.constant(srcShape),
            src: valuesFor(srcShape, floatValue()),
          });
        });
      }),
    );
    await fc.assert(
      fc.asyncProperty(c, (c) =>
        withBag(async (bag) => {
          const src = pair(bag, dut, c.src, c.srcShape);
          const idx = pair(bag, dut, c.idx.values, c.idx.shape, 'int32');
          const got = bag.add(scatterAdd(c.shape, idx.dut, src.dut, c.axis));
          const want = bag.add(scatterAdd(c.shape, idx.ref, src.ref, c.axis));
          // Each output adds at most (number of indices) float32 terms.
          const mags = await bag.add(scatterAdd(c.shape, idx.ref, bag.add(abs(src.ref)), c.axis)).data();
          const n = sizeOf(c.idx.shape);
          const bound: Bound = (_r, i) => n * ULP * mags[i] + F32_TINY;
          await expectClose(
            `scatterAdd(shape [${c.shape.join(', ')}], indices ${JSON.stringify(c.idx.values)}, axis ${c.axis})`,
            got,
            want,
            bound,
            'float32',
          );
        }),
      ),
      { seed: FC_SEED, numRuns: RUNS },
    );
  });

  it('scatterAdd along axis 0 into whole rows (an embedding gradient: the row-tiled kernel)', async () => {
    const c = fc
      .record({
        V: fc.integer({ min: 1, max: 40 }),
        D: fc.constantFrom(4, 8, 12, 132),
        n: fc.integer({ min: 0, max: 300 }),
        int: fc.boolean(),
      })
      .chain((c) =>
        fc.record({
          c: fc.constant(c),
          idx: fc.array(fc.integer({ min: -c.V, max: c.V - 1 }), { minLength: c.n, maxLength: c.n }),
          src: fc.array(c.int ? fc.integer({ min: -9, max: 9 }) : floatValue(), {
            minLength: c.n * c.D,
            maxLength: c.n * c.D,
          }),
        }),
      );
    await fc.assert(
      fc.asyncProperty(c, ({ c, idx, src }) =>
        withBag(async (bag) => {
          const dtype = c.int ? 'int32' : 'float32';
          const s = pair(bag, dut, src, [c.n, c.D], dtype);
          const i = pair(bag, dut, idx, [c.n], 'int32');
          const got = bag.add(scatterAdd([c.V, c.D], i.dut, s.dut, 0));
          const want = bag.add(scatterAdd([c.V, c.D], i.ref, s.ref, 0));
          const mags = await bag.add(scatterAdd([c.V, c.D], i.ref, bag.add(abs(s.ref)), 0)).data();
          const bound: Tolerance = c.int ? EXACT : (_r: number, k: number) => c.n * ULP * mags[k] + F32_TINY;
          await expectClose(`scatterAdd([${c.V}, ${c.D}], ${c.n} indices, ${dtype})`, got, want, bound, dtype);
        }),
      ),
      { seed: FC_SEED, numRuns: RUNS },
    );
  });

  it('scatterAdd accumulates repeated indices (worked example)', async () => {
    await withBag(async (bag) => {
      const idx = bag.add(onDut(dut, [0, 2, 0, -1], [4], 'int32'));
      const src = bag.add(onDut(dut, [1, 2, 3, 4, 5, 6, 7, 8], [4, 2]));
      const out = bag.add(scatterAdd([3, 2], idx, src, 0));
      expect(await out.array()).toEqual([
        [1 + 5, 2 + 6],
        [0, 0],
        [3 + 7, 4 + 8],
      ]);
    });
  });

  it('indices overwritten in place (assign) are checked by their new values, through every view', async () => {
    await withBag(async (bag) => {
      const x = bag.add(onDut(dut, [10, 11, 12], [3]));
      const idx = bag.add(onDut(dut, [7], [1], 'int32'));
      const view = bag.add(reshape(idx, []));
      expect(() => gather(x, idx)).toThrow(/gather: index 7/);
      assign(idx, 1);
      // The host copy [7] is stale now: no false error, and the kernel sees the new value.
      expect(await bag.add(gather(x, idx)).array()).toEqual([11]);
      expect(await bag.add(gather(x, view)).array()).toEqual(11);
    });
  });

  it('oneHot gives float32 rows, negative indices counting from the end', async () => {
    const c = fc.integer({ min: 1, max: 6 }).chain((depth) => fc.tuple(fc.constant(depth), indicesFor(depth)));
    await fc.assert(
      fc.asyncProperty(c, ([depth, idx]) =>
        withBag(async (bag) => {
          const i = pair(bag, dut, idx.values, idx.shape, 'int32');
          const got = bag.add(oneHot(i.dut, depth));
          expect(got.shape).toEqual([...idx.shape, depth]);
          await expectClose(
            `oneHot(${JSON.stringify(idx.values)}, ${depth})`,
            got,
            bag.add(oneHot(i.ref, depth)),
            EXACT,
            'float32',
          );
          const expected = idx.values.flatMap((j) =>
            Array.from({ length: depth }, (_, k) => (k === (j < 0 ? j + depth : j) ? 1 : 0)),
          );
          expect(Array.from(await got.data())).toEqual(expected);
        }),
      ),
      { seed: FC_SEED, numRuns: RUNS },
    );
  });
});
