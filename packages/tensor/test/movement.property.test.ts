/**
 * Movement ops and the non-contiguous views they make, against the CPU oracle: random chains of
 * reshape (with -1), permute, transpose, slice (negative begins, -1 sizes), broadcastTo,
 * squeeze / unsqueeze, concat and stack, applied identically on both backends. Moving elements is
 * exact, so the results must agree bit for bit; then elementwise, reduction and copy kernels are
 * run on the resulting (strided, offset, broadcast) views and compared too.
 */
import {
  assign,
  type Backend,
  broadcastTo,
  clone,
  concat,
  exp,
  mul,
  neg,
  permute,
  reshape,
  slice,
  squeeze,
  stack,
  sum,
  type Tensor,
  transpose,
  unsqueeze,
} from '@wgru/tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Bag,
  deviceUnderTest,
  DUT_NAME,
  EXACT,
  expectClose,
  F32_TINY,
  FC_SEED,
  floatValue,
  pair,
  shapeArb,
  tensorArb,
  ULP,
  withBag,
} from './property-support.js';

let dut: Backend;
beforeAll(async () => {
  dut = await deviceUnderTest();
});

const KINDS = [
  'reshape',
  'permute',
  'transpose',
  'slice',
  'broadcastTo',
  'unsqueeze',
  'squeeze',
  'concat',
  'stack',
] as const;
type Kind = (typeof KINDS)[number];

/** One movement step: its kind and random numbers in [0, 1) from which its arguments are derived. */
interface Step {
  kind: Kind;
  r: number[];
}

const step: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom(...KINDS),
  // Unbiased: fast-check's usual bias toward small numbers would make every slice empty.
  r: fc.array(
    fc.noBias(fc.integer({ min: 0, max: 999 })).map((i) => i / 1000),
    { minLength: 8, maxLength: 8 },
  ),
});

const pick = (r: number, n: number): number => Math.min(n - 1, Math.floor(r * n));

/** The divisors of n (n >= 1). */
function divisors(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
}

/**
 * Applies a step to `x` (the same way on either backend), or returns null when the step does not
 * fit the current shape. Every call argument is derived from the shape and `s.r`, so both
 * backends see identical calls. `describe` receives a readable form of the call.
 */
function apply(bag: Bag, x: Tensor, s: Step, describe: (call: string) => void): Tensor | null {
  const { shape, rank } = x;
  const r = s.r;
  const r0 = r[0];
  const ri = (i: number) => r[i % r.length];
  switch (s.kind) {
    case 'reshape': {
      // Split one axis in two, merge two neighbours, flatten, or the same with a -1.
      if (rank === 0) {
        describe('reshape([1, 1])');
        return bag.add(reshape(x, [1, 1]));
      }
      const a = pick(ri(1), rank);
      const d = shape[a];
      let target: number[];
      const mode = pick(r0, 3);
      if (mode === 0 && d > 0) {
        const f = divisors(d)[pick(ri(2), divisors(d).length)];
        target = [...shape.slice(0, a), f, d / f, ...shape.slice(a + 1)];
      } else if (mode === 1 && a + 1 < rank) {
        target = [...shape.slice(0, a), d * shape[a + 1], ...shape.slice(a + 2)];
      } else {
        target = [x.size];
      }
      if (target.length > 6) return null;
      // Infer one axis with -1 where that is unambiguous (no zero-size axes).
      if (ri(3) < 0.5 && x.size > 0) target[pick(ri(4), target.length)] = -1;
      describe(`reshape([${target.join(', ')}])`);
      return bag.add(reshape(x, target));
    }
    case 'permute': {
      const perm = [...Array(rank).keys()];
      for (let i = rank - 1; i > 0; i--) {
        const j = pick(ri(i), i + 1);
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      // Write some axes negatively.
      const written = perm.map((p, i) => (ri(i + 4) < 0.3 ? p - rank : p));
      describe(`permute([${written.join(', ')}])`);
      return bag.add(permute(x, written));
    }
    case 'transpose':
      describe('transpose()');
      return bag.add(transpose(x));
    case 'slice': {
      if (rank === 0) return null;
      const n = 1 + pick(r0, rank); // how many leading axes get a begin
      const begin: number[] = [];
      const size: number[] = [];
      for (let i = 0; i < n; i++) {
        const d = shape[i];
        // Mostly non-empty; one slice in ten may be empty (begin at the end or size 0).
        const empty = ri(7) < 0.1;
        const b = empty || d === 0 ? pick(ri(i + 1), d + 1) : pick(ri(i + 1), d);
        const len = empty || d === b ? pick(ri(i + 4), d - b + 1) : 1 + pick(ri(i + 4), d - b);
        // begin counts from the end when negative; size -1 runs to the end.
        begin.push(b < d && ri(i + 2) < 0.4 ? b - d : b);
        size.push(len === d - b && ri(i + 3) < 0.5 ? -1 : len);
      }
      describe(`slice([${begin.join(', ')}], [${size.join(', ')}])`);
      return bag.add(slice(x, begin, size));
    }
    case 'broadcastTo': {
      // Size-1 axes grow to 2 or 3, and maybe a new leading axis appears.
      const target = shape.map((d, i) => (d === 1 && ri(i) < 0.7 ? 2 + pick(ri(i + 1), 2) : d));
      if (ri(6) < 0.4) target.unshift(2);
      if (target.length > 6 || target.reduce((p, d) => p * d, 1) > 5000) return null;
      describe(`broadcastTo([${target.join(', ')}])`);
      return bag.add(broadcastTo(x, target));
    }
    case 'unsqueeze': {
      if (rank >= 6) return null;
      const a = pick(r0, 2 * (rank + 1)) - (rank + 1); // in [-(rank+1), rank]
      describe(`unsqueeze(${a})`);
      return bag.add(unsqueeze(x, a));
    }
    case 'squeeze': {
      const ones = shape.flatMap((d, i) => (d === 1 ? [i] : []));
      if (ones.length === 0 || r0 < 0.3) {
        describe('squeeze()');
        return bag.add(squeeze(x));
      }
      const a = ones[pick(ri(1), ones.length)];
      const written = ri(2) < 0.5 ? a - rank : a;
      describe(`squeeze(${written})`);
      return bag.add(squeeze(x, written));
    }
    case 'concat': {
      if (rank === 0 || x.size * 2 > 5000) return null;
      const a = pick(r0, 2 * rank) - rank;
      describe(`concat([x, -x], ${a})`);
      return bag.add(concat([x, bag.add(neg(x))], a));
    }
    case 'stack': {
      if (rank >= 6 || x.size * 2 > 5000) return null;
      const a = pick(r0, 2 * (rank + 1)) - (rank + 1);
      describe(`stack([x, 2x], ${a})`);
      return bag.add(stack([x, bag.add(mul(x, 2))], a));
    }
  }
}

const chainCase = fc.tuple(
  tensorArb(shapeArb({ maxSize: 1000 }), floatValue({ range: 10 })),
  fc.array(step, { minLength: 1, maxLength: 4 }),
);

describe(`movement and non-contiguous views on ${DUT_NAME}`, () => {
  it('random chains of movement ops agree exactly, and kernels read the resulting views correctly', async () => {
    await fc.assert(
      fc.asyncProperty(chainCase, ([{ shape, values }, steps]) =>
        withBag(async (bag) => {
          const x = pair(bag, dut, values, shape);
          let d = x.dut;
          let ref = x.ref;
          const calls: string[] = [`x = [${shape.join(', ')}]`];
          for (const s of steps) {
            const next = apply(bag, d, s, (c) => calls.push(c));
            if (next === null) continue;
            d = next;
            ref = apply(bag, ref, s, () => {}) as Tensor;
          }
          const what = calls.join(' -> ');
          await expectClose(`${what}: data()`, d, ref, EXACT, 'float32');
          expect(await d.array()).toEqual(await bag.add(clone(d)).array());
          // Kernels over the (possibly strided, offset, broadcast) view.
          await expectClose(`${what}: neg`, bag.add(neg(d)), bag.add(neg(ref)), EXACT);
          await expectClose(`${what}: exp`, bag.add(exp(d)), bag.add(exp(ref)), { rtol: 24 * ULP, atol: F32_TINY });
          await expectClose(`${what}: view * view`, bag.add(mul(d, d)), bag.add(mul(ref, ref)), {
            rtol: ULP,
            atol: F32_TINY,
          });
          if (d.rank > 0) {
            const n = d.shape[d.rank - 1];
            await expectClose(`${what}: sum(-1)`, bag.add(sum(d, -1)), bag.add(sum(ref, -1)), {
              rtol: n * ULP,
              atol: n * 10 * ULP,
            });
            await expectClose(`${what}: sum(0, keepDims)`, bag.add(sum(d, 0, true)), bag.add(sum(ref, 0, true)), {
              rtol: d.shape[0] * ULP,
              atol: d.shape[0] * 10 * ULP,
            });
          }
        }),
      ),
      { seed: FC_SEED, numRuns: 60 },
    );
  });

  it('exp of a transposed slice', async () => {
    await withBag(async (bag) => {
      const values = Array.from({ length: 24 }, (_, i) => (i - 12) / 4);
      const x = pair(bag, dut, values, [2, 3, 4]);
      const view = (t: Tensor) => bag.add(transpose(bag.add(slice(t, [0, -2, 1], [-1, 2, 3])), [2, 0, 1]));
      const v = view(x.dut);
      expect(v.shape).toEqual([3, 2, 2]);
      await expectClose('exp(transpose(slice(x)))', bag.add(exp(v)), bag.add(exp(view(x.ref))), { rtol: 8 * ULP });
    });
  });

  it('assign writes through a strided view, also from an overlapping view of itself', async () => {
    const matrixLike = shapeArb({ minRank: 2 }).filter((s) => s[1] >= 2);
    await fc.assert(
      fc.asyncProperty(tensorArb(matrixLike, floatValue()), async ({ shape, values }) =>
        withBag(async (bag) => {
          const run = async (t: Tensor) => {
            const target = bag.add(clone(t));
            const view = bag.add(transpose(bag.add(slice(target, [0, 1], [-1, -1]))));
            assign(view, bag.add(neg(view)));
            // Shift columns right by one: source and destination overlap in the same storage,
            // so the source must be read completely before anything is written (as NumPy does).
            const cols = shape[1];
            assign(bag.add(slice(target, [0, 1], [-1, cols - 1])), bag.add(slice(target, [0, 0], [-1, cols - 1])));
            return target;
          };
          const x = pair(bag, dut, values, shape);
          await expectClose('assign through views', await run(x.dut), await run(x.ref), EXACT);
        }),
      ),
      { seed: FC_SEED, numRuns: 30 },
    );
  });
});
