/**
 * Reductions against the float64 CPU oracle: sum / mean / prod / max / min over random axis sets
 * (negative axes, a single number, none = all, keepDims), argmax / argmin along one axis, and the
 * stable logSumExp / softmax / logSoftmax with logits up to ±1e4, which must give no Inf or NaN.
 *
 * Tolerances: the kernel adds (or multiplies) n float32 values one after another, so its error is
 * at most about n rounding errors of the running total: n * 2^-24 * sum|x| for a sum, n * 2^-24
 * * |result| for a product. max / min / argmax / argmin pick an element, so they are exact.
 */
import {
  activeBackend,
  argmax,
  argmin,
  type Backend,
  OPTIONAL_FEATURES,
  type OptionalFeature,
  setBackend,
  logSoftmax,
  logSumExp,
  max,
  mean,
  min,
  prod,
  softmax,
  sum,
  type Tensor,
  abs,
} from '@wgru/tensor';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reduceTuning } from '../src/webgpu/kernels/reduce.js';
import {
  axesArb,
  axisArb,
  type Bound,
  deviceUnderTest,
  DUT_NAME,
  EXACT,
  expectClose,
  F32_TINY,
  f32,
  FC_SEED,
  floatValue,
  pair,
  shapeArb,
  ULP,
  valuesFor,
  withBag,
} from './property-support.js';

const RUNS = 40;
const U = ULP / 2; // unit roundoff of float32

/**
 * Each suite runs once per way of reducing: the automatic choice, then on WebGPU each kernel
 * forced, the workgroup kernel both with subgroup operations (where the adapter has them) and
 * on a device made without them.
 */
const CONFIGS: Array<{ label: string; path: 'auto' | 'lane' | 'workgroup'; features?: OptionalFeature[] }> =
  DUT_NAME === 'webgpu'
    ? [
        { label: 'auto', path: 'auto' },
        { label: 'one lane per output', path: 'lane' },
        { label: 'workgroup per output, subgroups where available', path: 'workgroup' },
        { label: 'workgroup per output, no optional features', path: 'workgroup', features: [] },
      ]
    : [{ label: 'cpu', path: 'auto' }];

let dut: Backend;

for (const config of CONFIGS)
  describe(`reductions, ${config.label}`, () => {
    beforeAll(async () => {
      await useConfig(config);
    });

    /** A shape, values, and how the axes are passed: all (undefined), one number, or a list. */
    const reduceCase = (value: fc.Arbitrary<number>) =>
      shapeArb()
        .chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            valuesFor(shape, value),
            fc.oneof(
              fc.constant(undefined),
              axesArb(shape.length),
              shape.length > 0 ? axisArb(shape.length) : fc.constant(undefined),
            ),
            fc.boolean(),
          ),
        )
        .map(([shape, values, axes, keepDims]) => ({ shape, values, axes, keepDims }));

    function reducedCount(shape: readonly number[], axes: number | readonly number[] | undefined): number {
      if (axes === undefined) return shape.reduce((a, b) => a * b, 1);
      const list = typeof axes === 'number' ? [axes] : axes;
      return list.reduce((n, a) => n * shape[a < 0 ? a + shape.length : a], 1);
    }

    describe(`reductions on ${DUT_NAME} (${config.label}) against the float64 oracle`, () => {
      it('sum and mean over random axes, keepDims or not', async () => {
        await fc.assert(
          fc.asyncProperty(reduceCase(floatValue()), ({ shape, values, axes, keepDims }) =>
            withBag(async (bag) => {
              const x = pair(bag, dut, values, shape);
              const n = reducedCount(shape, axes);
              // Error bound from the sum of magnitudes, reduced the same way.
              const mags = await bag.add(sum(bag.add(abs(x.ref)), axes, keepDims)).data();
              const sumBound: Bound = (_r, i) => n * U * 2 * mags[i] + F32_TINY;
              const what = `over axes ${JSON.stringify(axes)} of [${shape.join(', ')}], keepDims ${keepDims}`;
              await expectClose(
                `sum ${what}`,
                bag.add(sum(x.dut, axes, keepDims)),
                bag.add(sum(x.ref, axes, keepDims)),
                sumBound,
                'float32',
              );
              const meanBound: Bound = (r, i) => sumBound(r, i) / Math.max(n, 1) + 2 * U * Math.abs(r);
              await expectClose(
                `mean ${what}`,
                bag.add(mean(x.dut, axes, keepDims)),
                bag.add(mean(x.ref, axes, keepDims)),
                meanBound,
                'float32',
              );
            }),
          ),
          { seed: FC_SEED, numRuns: RUNS },
        );
      });

      it('max and min (NaN wins, as in NumPy) over random axes', async () => {
        const nonEmpty = reduceCase(floatValue({ nonFinite: true })).filter(
          ({ shape, axes }) => reducedCount(shape, axes) > 0,
        );
        await fc.assert(
          fc.asyncProperty(nonEmpty, ({ shape, values, axes, keepDims }) =>
            withBag(async (bag) => {
              const x = pair(bag, dut, values, shape);
              const what = `over axes ${JSON.stringify(axes)} of [${shape.join(', ')}]`;
              await expectClose(
                `max ${what}`,
                bag.add(max(x.dut, axes, keepDims)),
                bag.add(max(x.ref, axes, keepDims)),
                EXACT,
                'float32',
              );
              await expectClose(
                `min ${what}`,
                bag.add(min(x.dut, axes, keepDims)),
                bag.add(min(x.ref, axes, keepDims)),
                EXACT,
                'float32',
              );
            }),
          ),
          { seed: FC_SEED, numRuns: RUNS },
        );
      });

      it('prod over random axes', async () => {
        // Factors near 1 in size so that products of up to a few hundred stay in float32 range.
        const factor = fc.oneof(f32(-2, 2), fc.constantFrom(0, -0, 1, -1, 1.5, -1.25));
        await fc.assert(
          fc.asyncProperty(reduceCase(factor), ({ shape, values, axes, keepDims }) =>
            withBag(async (bag) => {
              const x = pair(bag, dut, values, shape);
              const n = reducedCount(shape, axes);
              const bound: Bound = (r) => 2 * n * U * Math.abs(r) + F32_TINY;
              await expectClose(
                `prod over ${JSON.stringify(axes)} of [${shape.join(', ')}]`,
                bag.add(prod(x.dut, axes, keepDims)),
                bag.add(prod(x.ref, axes, keepDims)),
                bound,
                'float32',
              );
            }),
          ),
          { seed: FC_SEED, numRuns: RUNS },
        );
      });

      it('argmax / argmin along one axis: int32, first index on ties, first NaN wins', async () => {
        // Few distinct values, so that ties are common.
        const value = fc.oneof(
          fc.constantFrom(0, 1, -1, 2, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
          floatValue(),
        );
        const c = shapeArb({ minRank: 1 })
          .filter((s) => s.every((d) => d > 0))
          .chain((shape) => fc.tuple(fc.constant(shape), valuesFor(shape, value), axisArb(shape.length), fc.boolean()));
        await fc.assert(
          fc.asyncProperty(c, ([shape, values, axis, keepDims]) =>
            withBag(async (bag) => {
              const x = pair(bag, dut, values, shape);
              const what = `axis ${axis} of [${shape.join(', ')}], keepDims ${keepDims}`;
              await expectClose(
                `argmax ${what}`,
                bag.add(argmax(x.dut, axis, keepDims)),
                bag.add(argmax(x.ref, axis, keepDims)),
                EXACT,
                'int32',
              );
              await expectClose(
                `argmin ${what}`,
                bag.add(argmin(x.dut, axis, keepDims)),
                bag.add(argmin(x.ref, axis, keepDims)),
                EXACT,
                'int32',
              );
            }),
          ),
          { seed: FC_SEED, numRuns: RUNS },
        );
      });

      it('int32 sum / prod / max / argmax stay exact (sums wrap like i32)', async () => {
        const int = fc.oneof(fc.integer({ min: -50, max: 50 }), fc.integer({ min: -2147483648, max: 2147483647 }));
        await fc.assert(
          fc.asyncProperty(
            reduceCase(int).filter(({ shape, axes }) => reducedCount(shape, axes) > 0),
            ({ shape, values, axes, keepDims }) =>
              withBag(async (bag) => {
                const x = pair(bag, dut, values, shape, 'int32');
                for (const [name, f] of [
                  ['sum', sum],
                  ['prod', prod],
                  ['max', max],
                  ['min', min],
                ] as const) {
                  await expectClose(
                    `int32 ${name}`,
                    bag.add(f(x.dut, axes, keepDims)),
                    bag.add(f(x.ref, axes, keepDims)),
                    EXACT,
                    'int32',
                  );
                }
                // mean of int32 is float32
                const m = bag.add(mean(x.dut, axes, keepDims));
                expect(m.dtype).toBe('float32');
              }),
          ),
          { seed: FC_SEED, numRuns: 25 },
        );
      });
    });

    describe(`logSumExp / softmax / logSoftmax on ${DUT_NAME} (${config.label})`, () => {
      /** Logits at some scale up to 1e4, so that exp(x) alone would overflow. */
      const logits = shapeArb({ minRank: 1 })
        .filter((s) => s.every((d) => d > 0))
        .chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            fc.constantFrom(1, 30, 100, 1e3, 1e4).chain((scale) => valuesFor(shape, f32(-scale, scale))),
            axisArb(shape.length),
          ),
        );

      async function maxAbs(t: Tensor): Promise<number> {
        return Array.from(await t.data()).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      }

      function allFinite(name: string, data: ArrayLike<number>): void {
        for (let i = 0; i < data.length; i++) {
          if (!Number.isFinite(data[i])) throw new Error(`${name}: element ${i} is ${data[i]}`);
        }
      }

      it('are finite for large logits and match the oracle', async () => {
        await fc.assert(
          fc.asyncProperty(logits, ([shape, values, axis]) =>
            withBag(async (bag) => {
              const x = pair(bag, dut, values, shape);
              const scale = await maxAbs(x.ref);
              const what = `axis ${axis} of [${shape.join(', ')}], |x| <= ${scale}`;

              // m + log(sum exp(x - m)): the log of a sum in [1, n] is good to a few ULP plus 2^-21,
              // and adding m costs half an ULP of the result.
              const lse = bag.add(logSumExp(x.dut, axis));
              allFinite(`logSumExp ${what}`, await lse.data());
              await expectClose(
                `logSumExp ${what}`,
                lse,
                bag.add(logSumExp(x.ref, axis)),
                (r) => 4 * ULP * (Math.abs(r) + scale) + 1e-6,
                'float32',
              );

              // Each probability is exp(x - m) / s: exp's error grows with |x - m|, but those terms are
              // tiny. 3e-5 relative covers |x - m| up to ~100; below that, 1e-7 absolute.
              const sm = bag.add(softmax(x.dut, axis));
              allFinite(`softmax ${what}`, await sm.data());
              await expectClose(
                `softmax ${what}`,
                sm,
                bag.add(softmax(x.ref, axis)),
                { rtol: 3e-5, atol: 1e-7 },
                'float32',
              );

              // x - logSumExp(x): the subtraction of two numbers of size `scale`.
              const lsm = bag.add(logSoftmax(x.dut, axis));
              allFinite(`logSoftmax ${what}`, await lsm.data());
              await expectClose(
                `logSoftmax ${what}`,
                lsm,
                bag.add(logSoftmax(x.ref, axis)),
                (r) => 4 * ULP * (Math.abs(r) + scale) + 1e-6,
                'float32',
              );
            }),
          ),
          { seed: FC_SEED, numRuns: RUNS },
        );
      });

      it('softmax rows sum to 1 and logSumExp(keepDims) keeps the axis', async () => {
        await withBag(async (bag) => {
          const x = pair(bag, dut, [1e4, -1e4, 0, 3, 1e4, 1e4 - 1], [2, 3]);
          const s = bag.add(sum(bag.add(softmax(x.dut, -1)), -1));
          for (const v of await s.data()) expect(v).toBeCloseTo(1, 6);
          const l = bag.add(logSumExp(x.dut, 1, true));
          expect(l.shape).toEqual([2, 1]);
          const lv = await l.data();
          expect(lv[0]).toBeCloseTo(1e4, 2);
          expect(lv[1]).toBeCloseTo(1e4 + Math.log(1 + Math.exp(-1)), 2);
        });
      });

      it('a row of -Infinity gives logSumExp -Infinity, not NaN', async () => {
        await withBag(async (bag) => {
          const x = pair(bag, dut, [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, 1], [2, 2]);
          const got = await bag.add(logSumExp(x.dut, 1)).data();
          expect(got[0]).toBe(Number.NEGATIVE_INFINITY);
          expect(got[1]).toBeCloseTo(Math.log(1 + Math.E), 6);
        });
      });
    });
  });

/** Reductions long enough that every lane of a workgroup has elements, with NaNs and ties. */
describe.each(CONFIGS)(`long reductions on ${DUT_NAME} ($label)`, (config) => {
  beforeAll(async () => {
    await useConfig(config);
  });
  it('sum, max, argmax, argmin over up to 5000 elements, with repeated extremes and NaNs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 60, max: 5000 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom('plain', 'ties', 'nan'),
        (rows, n, seed, kind) =>
          withBag(async (bag) => {
            const values = new Float64Array(rows * n);
            let s = seed;
            const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
            for (let i = 0; i < values.length; i++) values[i] = kind === 'ties' ? Math.round(rand() * 3) : rand();
            if (kind === 'nan') for (let i = 0; i < rows; i++) values[i * n + ((seed * (i + 1)) % n)] = Number.NaN;
            const x = pair(
              bag,
              dut,
              Array.from(values, (v) => Math.fround(v)),
              [rows, n],
            );
            const mags = await bag.add(sum(bag.add(abs(x.ref)), 1)).data();
            await expectClose(
              `sum of [${rows}, ${n}]`,
              bag.add(sum(x.dut, 1)),
              bag.add(sum(x.ref, 1)),
              (_r, i) => n * U * 2 * mags[i] + F32_TINY,
              'float32',
            );
            await expectClose(
              `max of [${rows}, ${n}]`,
              bag.add(max(x.dut, 1)),
              bag.add(max(x.ref, 1)),
              EXACT,
              'float32',
            );
            for (const f of [argmax, argmin]) {
              const got = await bag.add(f(x.dut, 1)).data();
              const want = await bag.add(f(x.ref, 1)).data();
              expect(Array.from(got), `${f.name} of [${rows}, ${n}] (${kind})`).toEqual(Array.from(want));
            }
          }),
      ),
      { seed: FC_SEED, numRuns: 12 },
    );
  });
});

async function useConfig(config: (typeof CONFIGS)[number]): Promise<void> {
  reduceTuning.path = config.path;
  if (DUT_NAME !== 'webgpu') {
    dut = await deviceUnderTest();
    return;
  }
  await setBackend('webgpu', { optionalFeatures: config.features ?? [...OPTIONAL_FEATURES] });
  dut = activeBackend();
}

afterAll(() => {
  reduceTuning.path = 'auto';
});
