/**
 * Every differentiable op of the contract, on random shapes (broadcasting, size-1 and 0-d operands,
 * plain-number operands, negative axes, keepDims both ways): its tape gradient passes gradcheck in
 * float64, and its WebGPU float32 gradient matches the float64 one (see ./grad-harness.ts).
 */
import * as F from '@wgru/autograd';
import type { Variable, VariableLike } from '@wgru/autograd';
import { type Tensor, tensorOn } from '@wgru/tensor';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  anyValue, axesArb, axisArb, broadcastableTo, checkAll, type Domain, describeAxes, type GradCase, grid, gridAbove, gridBelow,
  type HostInput, inputArb, label, nonzero, positive, shapeArb, withOneFrozen,
} from './grad-harness.js';

/** Runs per property: small, since each run is a gradcheck plus a GPU round trip. */
const RUNS = 12;

/** An int32 index tensor (or float32 mask) beside `like`, on its backend. */
const int32Beside = (like: Variable, values: readonly number[], shape: readonly number[]): Tensor =>
  tensorOn(like.value.backend, Int32Array.from(values), shape, 'int32');
const maskBeside = (like: Variable, values: readonly number[], shape: readonly number[]): Tensor =>
  tensorOn(like.value.backend, like.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), shape);

// ---- elementwise ----

type Binary = (a: VariableLike, b: VariableLike) => Variable;

/**
 * A binary op over two Variables of shapes that broadcast together, or over a Variable and a
 * plain number on either side.
 */
function binaryCases(name: string, f: Binary, a: Domain, b: fc.Arbitrary<number>): fc.Arbitrary<GradCase> {
  const both = shapeArb()
    .chain((out) => fc.tuple(broadcastableTo(out), broadcastableTo(out)))
    .chain(([sa, sb]) => fc.tuple(inputArb(sa, a), inputArb(sb, b)))
    .map(([x, y]): GradCase => ({ label: label(name, x, y), inputs: [x, y], fn: (p, q) => f(p as Variable, q as Variable) }));
  const numberRight = fc
    .tuple(shapeArb().chain((s) => inputArb(s, a)), b)
    .map(([x, k]): GradCase => ({ label: label(name, x, k), inputs: [x], fn: (p) => f(p as Variable, k) }));
  return fc.oneof({ arbitrary: withOneFrozen(both), weight: 3 }, { arbitrary: numberRight, weight: 1 });
}

/** The number on the left: `f(k, x)`. */
function numberLeftCases(name: string, f: Binary, k: fc.Arbitrary<number>, x: Domain): fc.Arbitrary<GradCase> {
  return fc
    .tuple(k, shapeArb().chain((s) => inputArb(s, x)))
    .map(([c, h]): GradCase => ({ label: label(name, c, h), inputs: [h], fn: (p) => f(c, p as Variable) }));
}

function unaryCases(name: string, f: (x: Variable) => Variable, domain: Domain): fc.Arbitrary<GradCase> {
  return shapeArb()
    .chain((s) => inputArb(s, domain))
    .map((x): GradCase => ({ label: label(name, x), inputs: [x], fn: (p) => f(p as Variable) }));
}

describe('elementwise VJPs', () => {
  const binaries: Array<[string, fc.Arbitrary<GradCase>]> = [
    ['add', fc.oneof(binaryCases('add', F.add, anyValue, anyValue), numberLeftCases('add', F.add, anyValue, anyValue))],
    ['sub', fc.oneof(binaryCases('sub', F.sub, anyValue, anyValue), numberLeftCases('sub', F.sub, anyValue, anyValue))],
    ['mul', fc.oneof(binaryCases('mul', F.mul, anyValue, anyValue), numberLeftCases('mul', F.mul, anyValue, anyValue))],
    // The denominator stays away from 0.
    ['div', fc.oneof(binaryCases('div', F.div, anyValue, nonzero), numberLeftCases('div', F.div, anyValue, nonzero))],
    ['maximum', fc.oneof(binaryCases('maximum', F.maximum, gridAbove, gridBelow), numberLeftCases('maximum', F.maximum, gridBelow, gridAbove))],
    ['minimum', fc.oneof(binaryCases('minimum', F.minimum, gridAbove, gridBelow), numberLeftCases('minimum', F.minimum, gridBelow, gridAbove))],
  ];
  for (const [name, cases] of binaries) it(`${name}, with broadcasting and number operands`, () => checkAll(cases, RUNS));

  it('pow: positive base with a Variable exponent, any nonzero base with an integer power, a number base', () => {
    const exponentVariable = binaryCases('pow', F.pow, positive, grid(-2, 2));
    const integerPower = fc
      .tuple(shapeArb().chain((s) => inputArb(s, nonzero)), fc.constantFrom(-2, -1, 0, 1, 2, 3))
      .map(([x, n]): GradCase => ({ label: label('pow', x, n), inputs: [x], fn: (p) => F.pow(p as Variable, n) }));
    const numberBase = numberLeftCases('pow', F.pow, positive, grid(-2, 2));
    return checkAll(fc.oneof(exponentVariable, integerPower, numberBase), RUNS);
  });

  const unaries: Array<[string, (x: Variable) => Variable, Domain]> = [
    ['neg', F.neg, anyValue],
    ['exp', F.exp, anyValue],
    ['log', F.log, positive],
    ['sqrt', F.sqrt, positive],
    ['sigmoid', F.sigmoid, grid(-6, 6)],
    ['tanh', F.tanh, grid(-3, 3)],
    ['relu', F.relu, nonzero],
    ['abs', F.abs, nonzero],
  ];
  for (const [name, f, domain] of unaries) it(name, () => checkAll(unaryCases(name, f, domain), RUNS));

  it('where: a mask (Tensor or Variable) broadcast against two Variables or a Variable and a number', () => {
    const cases = shapeArb()
      .chain((out) => fc.tuple(broadcastableTo(out), broadcastableTo(out), broadcastableTo(out)))
      .chain(([sc, sa, sb]) =>
        fc.tuple(inputArb(sc, fc.constantFrom(0, 1)), inputArb(sa, anyValue), inputArb(sb, anyValue), fc.constantFrom('tensor', 'variable', 'number')),
      )
      .map(([cond, a, b, kind]): GradCase => {
        const mask = (like: Variable): Tensor | Variable => {
          const t = maskBeside(like, cond.values, cond.shape);
          return kind === 'variable' ? F.variable(t) : t;
        };
        if (kind === 'number') return { label: label('where', cond, a, 0.75), inputs: [a], fn: (p) => F.where(mask(p as Variable), p as Variable, 0.75) };
        return { label: label('where', cond, a, b, kind), inputs: [a, b], fn: (p, q) => F.where(mask(p as Variable), p as Variable, q as Variable) };
      });
    return checkAll(withOneFrozen(cases), RUNS);
  });
});

// ---- matmul ----

describe('matmul VJP', () => {
  it('[..., m, k] @ [..., k, n] with broadcast batch axes, and 1-D operands on either side', () => {
    const dim = fc.integer({ min: 1, max: 4 });
    const cases = fc
      .tuple(dim, dim, dim, shapeArb(0, 2, 3), fc.constantFrom('matrix', 'matrix', 'vector @ matrix', 'matrix @ vector', 'vector @ vector'))
      .chain(([m, k, n, batch, kind]) =>
        fc.tuple(broadcastableTo(batch), broadcastableTo(batch)).map(([ba, bb]) => {
          const a = kind.startsWith('vector') ? [k] : [...ba, m, k];
          const b = kind.endsWith('vector') ? [k] : [...bb, k, n];
          return [a, b] as const;
        }),
      )
      .chain(([sa, sb]) => fc.tuple(inputArb(sa, anyValue), inputArb(sb, anyValue)))
      .map(([a, b]): GradCase => ({ label: label('matmul', a, b), inputs: [a, b], fn: (p, q) => (p as Variable).matmul(q as Variable) }));
    return checkAll(withOneFrozen(cases), 20);
  });
});

// ---- reductions ----

type Reduction = (x: Variable, axes?: number | readonly number[], keepDims?: boolean) => Variable;

function reductionCases(name: string, f: Reduction, domain: Domain): fc.Arbitrary<GradCase> {
  return shapeArb(0, 4, 3)
    .chain((s) => fc.tuple(inputArb(s, domain), axesArb(s.length), fc.boolean()))
    .map(([x, axes, keepDims]): GradCase => ({
      label: label(name, x, describeAxes(axes), `keepDims=${keepDims}`),
      inputs: [x],
      fn: (p) => f(p as Variable, axes, keepDims),
    }));
}

describe('reduction VJPs', () => {
  it('sum', () => checkAll(reductionCases('sum', F.sum, anyValue), 16));
  it('mean', () => checkAll(reductionCases('mean', F.mean, anyValue), 16));
  // Distinct values: no ties, where max is not differentiable.
  it('max', () => checkAll(reductionCases('max', F.max, 'distinct'), 16));
  it('min', () => checkAll(reductionCases('min', F.min, 'distinct'), 16));
});

// ---- movement ----

describe('movement VJPs', () => {
  it('reshape (from contiguous and transposed inputs, with -1)', () => {
    const cases = shapeArb(0, 3)
      .chain((s) =>
        fc.tuple(inputArb(s, anyValue), fc.shuffledSubarray(s, { minLength: s.length, maxLength: s.length }), fc.boolean(), fc.boolean(), fc.nat(), fc.boolean()),
      )
      .map(([x, dims, merge, infer, at, transposed]): GradCase => {
        const target = merge && dims.length >= 2 ? [(dims[0] as number) * (dims[1] as number), ...dims.slice(2)] : [...dims, 1];
        if (infer) target[at % target.length] = -1;
        return {
          label: label('reshape', x, JSON.stringify(target), transposed ? 'of its transpose' : ''),
          inputs: [x],
          fn: (p) => ((transposed ? (p as Variable).transpose() : (p as Variable)) as Variable).reshape(target),
        };
      });
    return checkAll(cases, RUNS);
  });

  it('transpose (reversed and given) and permute (negative axes)', () => {
    const cases = shapeArb(0, 4, 3)
      .chain((s) => {
        const all = Array.from({ length: s.length }, (_, i) => i);
        return fc.tuple(
          inputArb(s, anyValue),
          fc.shuffledSubarray(all, { minLength: s.length, maxLength: s.length }),
          fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }),
          fc.constantFrom('transpose()', 'transpose(perm)', 'permute'),
        );
      })
      .map(([x, perm, neg, how]): GradCase => {
        const p = perm.map((a, i) => (neg[i] ? a - perm.length : a));
        const fn =
          how === 'transpose()' ? (v: Variable) => v.transpose() : how === 'transpose(perm)' ? (v: Variable) => F.transpose(v, p) : (v: Variable) => F.permute(v, p);
        // A following mul makes the gradient of the permuted layout visible elementwise.
        return { label: label(how, x, JSON.stringify(p)), inputs: [x], fn: (v) => fn(v as Variable).mul(fn(v as Variable)) };
      });
    return checkAll(cases, RUNS);
  });

  it('slice (negative begins, -1 and omitted sizes)', () => {
    const cases = shapeArb(1, 3, 5)
      .chain((s) =>
        fc.tuple(
          inputArb(s, anyValue),
          fc.integer({ min: 0, max: s.length }),
          fc.tuple(...s.map((d) => fc.tuple(fc.integer({ min: 0, max: d - 1 }), fc.boolean(), fc.integer({ min: -1, max: d })))),
          fc.boolean(),
        ),
      )
      .map(([x, len, axes, omitSize]): GradCase => {
        const chosen = axes.slice(0, len);
        const d = (i: number) => x.shape[i] as number;
        const begin = chosen.map(([b, negative], i) => (negative ? b - d(i) : b));
        const size = chosen.map(([b, , s], i) => (s === -1 ? -1 : Math.max(1, Math.min(s, d(i) - b))));
        return omitSize
          ? { label: label('slice', x, JSON.stringify(begin)), inputs: [x], fn: (p) => F.slice(p as Variable, begin) }
          : { label: label('slice', x, JSON.stringify(begin), JSON.stringify(size)), inputs: [x], fn: (p) => F.slice(p as Variable, begin, size) };
      });
    return checkAll(cases, RUNS);
  });

  it('squeeze (all, one axis, listed axes) and unsqueeze (negative axes)', () => {
    const squeezes = fc
      .array(fc.constantFrom(1, 1, 2, 3), { minLength: 0, maxLength: 4 })
      .chain((s) => {
        const ones = s.flatMap((d, i) => (d === 1 ? [i, i - s.length] : []));
        const axes: fc.Arbitrary<number | number[] | undefined> =
          ones.length === 0 ? fc.constant(undefined) : fc.oneof(fc.constant(undefined), fc.constantFrom(...ones), fc.constantFrom(...ones).map((a) => [a]));
        return fc.tuple(inputArb(s, anyValue), axes);
      })
      .map(([x, axes]): GradCase => ({ label: label('squeeze', x, describeAxes(axes)), inputs: [x], fn: (p) => F.squeeze(p as Variable, axes).mul(2) }));
    const unsqueezes = shapeArb(0, 3)
      .chain((s) => fc.tuple(inputArb(s, anyValue), fc.integer({ min: -(s.length + 1), max: s.length })))
      .map(([x, axis]): GradCase => ({ label: label('unsqueeze', x, axis), inputs: [x], fn: (p) => F.unsqueeze(p as Variable, axis).mul(2) }));
    return checkAll(fc.oneof(squeezes, unsqueezes), RUNS);
  });

  it('gather (any axis, repeated and negative indices, 0-d to 2-D index tensors)', () => {
    const cases = shapeArb(1, 3)
      .chain((s) => fc.tuple(inputArb(s, anyValue), axisArb(s.length), shapeArb(0, 2, 3)))
      .chain(([x, axis, ishape]) => {
        const d = x.shape[axis < 0 ? axis + x.shape.length : axis] as number;
        const n = ishape.reduce((a, b) => a * b, 1);
        return fc.tuple(fc.constant(x), fc.constant(axis), fc.constant(ishape), fc.array(fc.integer({ min: -d, max: d - 1 }), { minLength: n, maxLength: n }));
      })
      .map(([x, axis, ishape, idx]): GradCase => ({
        label: label('gather', x, JSON.stringify(idx), `indices ${JSON.stringify(ishape)}`, `axis ${axis}`),
        inputs: [x],
        fn: (p) => {
          const indices = int32Beside(p as Variable, idx, ishape);
          const out = F.gather(p as Variable, indices, axis);
          indices.dispose(); // gather keeps its own handle
          return out;
        },
      }));
    return checkAll(cases, RUNS);
  });

  it('concat (1 to 3 parts along any axis)', () => {
    const cases = fc
      .tuple(shapeArb(1, 3), fc.integer({ min: 1, max: 3 }))
      .chain(([s, parts]) =>
        fc.tuple(axisArb(s.length), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: parts, maxLength: parts })).chain(([axis, sizes]) => {
          const a = axis < 0 ? axis + s.length : axis;
          return fc.tuple(fc.constant(axis), fc.tuple(...sizes.map((n) => inputArb(s.map((d, i) => (i === a ? n : d)), anyValue))));
        }),
      )
      .map(([axis, xs]): GradCase => ({ label: label('concat', ...(xs as HostInput[]), `axis ${axis}`), inputs: xs as HostInput[], fn: (...ps) => F.concat(ps, axis) }));
    return checkAll(withOneFrozen(cases), RUNS);
  });

  it('stack (1 to 3 parts, new axis anywhere)', () => {
    const cases = fc
      .tuple(shapeArb(0, 2), fc.integer({ min: 1, max: 3 }))
      .chain(([s, parts]) => fc.tuple(fc.integer({ min: -(s.length + 1), max: s.length }), fc.array(inputArb(s, anyValue), { minLength: parts, maxLength: parts })))
      .map(([axis, xs]): GradCase => ({ label: label('stack', ...xs, `axis ${axis}`), inputs: xs, fn: (...ps) => F.stack(ps, axis) }));
    return checkAll(withOneFrozen(cases), RUNS);
  });
});

// ---- composites built from primitives ----

describe('composite VJPs (gradients from the primitives they are made of)', () => {
  const logitsCases = (name: string, f: (x: Variable, axis: number, keepDims: boolean) => Variable) =>
    shapeArb(1, 3)
      .chain((s) => fc.tuple(inputArb(s, grid(-4, 4)), axisArb(s.length), fc.boolean()))
      .map(([x, axis, keepDims]): GradCase => ({ label: label(name, x, `axis ${axis}`, `keepDims=${keepDims}`), inputs: [x], fn: (p) => f(p as Variable, axis, keepDims) }));
  it('softmax', () => checkAll(logitsCases('softmax', (x, axis) => F.softmax(x, axis)), RUNS));
  it('logSoftmax', () => checkAll(logitsCases('logSoftmax', (x, axis) => F.logSoftmax(x, axis)), RUNS));
  it('logSumExp', () => checkAll(logitsCases('logSumExp', (x, axis, keepDims) => F.logSumExp(x, axis, keepDims)), RUNS));
});
