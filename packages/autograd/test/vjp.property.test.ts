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
  anyValue,
  axesArb,
  axisArb,
  broadcastableTo,
  checkAll,
  type Domain,
  describeAxes,
  type GradCase,
  grid,
  gridAbove,
  gridBelow,
  type HostInput,
  inputArb,
  label,
  nonzero,
  positive,
  shapeArb,
  withOneFrozen,
} from './grad-harness.js';

/** Runs per property: small, since each run is a gradcheck plus a GPU round trip. */
const RUNS = 16;

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
    .map(
      ([x, y]): GradCase => ({
        label: label(name, x, y),
        inputs: [x, y],
        fn: (p, q) => f(p as Variable, q as Variable),
      }),
    );
  const numberRight = fc
    .tuple(
      shapeArb().chain((s) => inputArb(s, a)),
      b,
    )
    .map(([x, k]): GradCase => ({ label: label(name, x, k), inputs: [x], fn: (p) => f(p as Variable, k) }));
  return fc.oneof({ arbitrary: withOneFrozen(both), weight: 3 }, { arbitrary: numberRight, weight: 1 });
}

/** The number on the left: `f(k, x)`. */
function numberLeftCases(name: string, f: Binary, k: fc.Arbitrary<number>, x: Domain): fc.Arbitrary<GradCase> {
  return fc
    .tuple(
      k,
      shapeArb().chain((s) => inputArb(s, x)),
    )
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
    [
      'maximum',
      fc.oneof(
        binaryCases('maximum', F.maximum, gridAbove, gridBelow),
        numberLeftCases('maximum', F.maximum, gridBelow, gridAbove),
      ),
    ],
    [
      'minimum',
      fc.oneof(
        binaryCases('minimum', F.minimum, gridAbove, gridBelow),
        numberLeftCases('minimum', F.minimum, gridBelow, gridAbove),
      ),
    ],
  ];
  for (const [name, cases] of binaries)
    it(`${name}, with broadcasting and number operands`, () => checkAll(cases, RUNS));

  it('pow: positive base with a Variable exponent, any nonzero base with an integer power, a number base', () => {
    const exponentVariable = binaryCases('pow', F.pow, positive, grid(-2, 2));
    const integerPower = fc
      .tuple(
        shapeArb().chain((s) => inputArb(s, nonzero)),
        fc.constantFrom(-2, -1, 0, 1, 2, 3),
      )
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
        fc.tuple(
          inputArb(sc, fc.constantFrom(0, 1)),
          inputArb(sa, anyValue),
          inputArb(sb, anyValue),
          fc.constantFrom('tensor', 'variable', 'number'),
        ),
      )
      .map(([cond, a, b, kind]): GradCase => {
        const mask = (like: Variable): Tensor | Variable => {
          const t = maskBeside(like, cond.values, cond.shape);
          return kind === 'variable' ? F.variable(t) : t;
        };
        if (kind === 'number')
          return {
            label: label('where', cond, a, 0.75),
            inputs: [a],
            fn: (p) => F.where(mask(p as Variable), p as Variable, 0.75),
          };
        return {
          label: label('where', cond, a, b, kind),
          inputs: [a, b],
          fn: (p, q) => F.where(mask(p as Variable), p as Variable, q as Variable),
        };
      });
    return checkAll(withOneFrozen(cases), RUNS);
  });
});

// ---- matmul ----

describe('matmul VJP', () => {
  it('[..., m, k] @ [..., k, n] with broadcast batch axes, and 1-D operands on either side', () => {
    const dim = fc.integer({ min: 1, max: 4 });
    const cases = fc
      .tuple(
        dim,
        dim,
        dim,
        shapeArb(0, 2, 3),
        fc.constantFrom('matrix', 'matrix', 'vector @ matrix', 'matrix @ vector', 'vector @ vector'),
      )
      .chain(([m, k, n, batch, kind]) =>
        fc.tuple(broadcastableTo(batch), broadcastableTo(batch)).map(([ba, bb]) => {
          const a = kind.startsWith('vector') ? [k] : [...ba, m, k];
          const b = kind.endsWith('vector') ? [k] : [...bb, k, n];
          return [a, b] as const;
        }),
      )
      .chain(([sa, sb]) => fc.tuple(inputArb(sa, anyValue), inputArb(sb, anyValue)))
      .map(
        ([a, b]): GradCase => ({
          label: label('matmul', a, b),
          inputs: [a, b],
          fn: (p, q) => (p as Variable).matmul(q as Variable),
        }),
      );
    return checkAll(withOneFrozen(cases), 20);
  });
});

// ---- reductions ----

type Reduction = (x: Variable, axes?: number | readonly number[], keepDims?: boolean) => Variable;

function reductionCases(name: string, f: Reduction, domain: Domain): fc.Arbitrary<GradCase> {
  return shapeArb(0, 4, 3)
    .chain((s) => fc.tuple(inputArb(s, domain), axesArb(s.length), fc.boolean()))
    .map(
      ([x, axes, keepDims]): GradCase => ({
        label: label(name, x, describeAxes(axes), `keepDims=${keepDims}`),
        inputs: [x],
        fn: (p) => f(p as Variable, axes, keepDims),
      }),
    );
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
        fc.tuple(
          inputArb(s, anyValue),
          fc.shuffledSubarray(s, { minLength: s.length, maxLength: s.length }),
          fc.boolean(),
          fc.boolean(),
          fc.nat(),
          fc.boolean(),
        ),
      )
      .map(([x, dims, merge, infer, at, transposed]): GradCase => {
        const target = merge && dims.length >= 2 ? [dims[0] * dims[1], ...dims.slice(2)] : [...dims, 1];
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
          how === 'transpose()'
            ? (v: Variable) => v.transpose()
            : how === 'transpose(perm)'
              ? (v: Variable) => F.transpose(v, p)
              : (v: Variable) => F.permute(v, p);
        // A following mul makes the gradient of the permuted layout visible elementwise.
        return {
          label: label(how, x, JSON.stringify(p)),
          inputs: [x],
          fn: (v) => fn(v as Variable).mul(fn(v as Variable)),
        };
      });
    return checkAll(cases, RUNS);
  });

  it('slice (negative begins, -1 and omitted sizes)', () => {
    const cases = shapeArb(1, 3, 5)
      .chain((s) =>
        fc.tuple(
          inputArb(s, anyValue),
          fc.integer({ min: 0, max: s.length }),
          fc.tuple(
            ...s.map((d) =>
              fc.tuple(fc.integer({ min: 0, max: d - 1 }), fc.boolean(), fc.integer({ min: -1, max: d })),
            ),
          ),
          fc.boolean(),
        ),
      )
      .map(([x, len, axes, omitSize]): GradCase => {
        const chosen = axes.slice(0, len);
        const d = (i: number) => x.shape[i];
        const begin = chosen.map(([b, negative], i) => (negative ? b - d(i) : b));
        const size = chosen.map(([b, , s], i) => (s === -1 ? -1 : Math.max(1, Math.min(s, d(i) - b))));
        return omitSize
          ? { label: label('slice', x, JSON.stringify(begin)), inputs: [x], fn: (p) => F.slice(p as Variable, begin) }
          : {
              label: label('slice', x, JSON.stringify(begin), JSON.stringify(size)),
              inputs: [x],
              fn: (p) => F.slice(p as Variable, begin, size),
            };
      });
    return checkAll(cases, RUNS);
  });

  it('squeeze (all, one axis, listed axes) and unsqueeze (negative axes)', () => {
    const squeezes = fc
      .array(fc.constantFrom(1, 1, 2, 3), { minLength: 0, maxLength: 4 })
      .chain((s) => {
        const ones = s.flatMap((d, i) => (d === 1 ? [i, i - s.length] : []));
        const axes: fc.Arbitrary<number | number[] | undefined> =
          ones.length === 0
            ? fc.constant(undefined)
            : fc.oneof(
                fc.constant(undefined),
                fc.constantFrom(...ones),
                fc.constantFrom(...ones).map((a) => [a]),
              );
        return fc.tuple(inputArb(s, anyValue), axes);
      })
      .map(
        ([x, axes]): GradCase => ({
          label: label('squeeze', x, describeAxes(axes)),
          inputs: [x],
          fn: (p) => F.squeeze(p as Variable, axes).mul(2),
        }),
      );
    const unsqueezes = shapeArb(0, 3)
      .chain((s) => fc.tuple(inputArb(s, anyValue), fc.integer({ min: -(s.length + 1), max: s.length })))
      .map(
        ([x, axis]): GradCase => ({
          label: label('unsqueeze', x, axis),
          inputs: [x],
          fn: (p) => F.unsqueeze(p as Variable, axis).mul(2),
        }),
      );
    return checkAll(fc.oneof(squeezes, unsqueezes), RUNS);
  });

  it('gather (any axis, repeated and negative indices, 0-d to 2-D index tensors)', () => {
    const cases = shapeArb(1, 3)
      .chain((s) => fc.tuple(inputArb(s, anyValue), axisArb(s.length), shapeArb(0, 2, 3)))
      .chain(([x, axis, ishape]) => {
        const d = x.shape[axis < 0 ? axis + x.shape.length : axis];
        const n = ishape.reduce((a, b) => a * b, 1);
        return fc.tuple(
          fc.constant(x),
          fc.constant(axis),
          fc.constant(ishape),
          fc.array(fc.integer({ min: -d, max: d - 1 }), { minLength: n, maxLength: n }),
        );
      })
      .map(
        ([x, axis, ishape, idx]): GradCase => ({
          label: label('gather', x, JSON.stringify(idx), `indices ${JSON.stringify(ishape)}`, `axis ${axis}`),
          inputs: [x],
          fn: (p) => {
            const indices = int32Beside(p as Variable, idx, ishape);
            const out = F.gather(p as Variable, indices, axis);
            indices.dispose(); // gather keeps its own handle
            return out;
          },
        }),
      );
    return checkAll(cases, RUNS);
  });

  it('concat (1 to 3 parts along any axis)', () => {
    const cases = fc
      .tuple(shapeArb(1, 3), fc.integer({ min: 1, max: 3 }))
      .chain(([s, parts]) =>
        fc
          .tuple(axisArb(s.length), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: parts, maxLength: parts }))
          .chain(([axis, sizes]) => {
            const a = axis < 0 ? axis + s.length : axis;
            return fc.tuple(
              fc.constant(axis),
              fc.tuple(
                ...sizes.map((n) =>
                  inputArb(
                    s.map((d, i) => (i === a ? n : d)),
                    anyValue,
                  ),
                ),
              ),
            );
          }),
      )
      .map(
        ([axis, xs]): GradCase => ({
          label: label('concat', ...(xs as HostInput[]), `axis ${axis}`),
          inputs: xs as HostInput[],
          fn: (...ps) => F.concat(ps, axis),
        }),
      );
    return checkAll(withOneFrozen(cases), RUNS);
  });

  it('stack (1 to 3 parts, new axis anywhere)', () => {
    const cases = fc
      .tuple(shapeArb(0, 2), fc.integer({ min: 1, max: 3 }))
      .chain(([s, parts]) =>
        fc.tuple(
          fc.integer({ min: -(s.length + 1), max: s.length }),
          fc.array(inputArb(s, anyValue), { minLength: parts, maxLength: parts }),
        ),
      )
      .map(
        ([axis, xs]): GradCase => ({
          label: label('stack', ...xs, `axis ${axis}`),
          inputs: xs,
          fn: (...ps) => F.stack(ps, axis),
        }),
      );
    return checkAll(withOneFrozen(cases), RUNS);
  });
});

// ---- composites built from primitives ----

describe('composite VJPs (gradients from the primitives they are made of)', () => {
  const logitsCases = (name: string, f: (x: Variable, axis: number, keepDims: boolean) => Variable) =>
    shapeArb(1, 3)
      .chain((s) => fc.tuple(inputArb(s, grid(-4, 4)), axisArb(s.length), fc.boolean()))
      .map(
        ([x, axis, keepDims]): GradCase => ({
          label: label(name, x, `axis ${axis}`, `keepDims=${keepDims}`),
          inputs: [x],
          fn: (p) => f(p as Variable, axis, keepDims),
        }),
      );
  it('softmax', () =>
    checkAll(
      logitsCases('softmax', (x, axis) => F.softmax(x, axis)),
      RUNS,
    ));
  it('logSoftmax', () =>
    checkAll(
      logitsCases('logSoftmax', (x, axis) => F.logSoftmax(x, axis)),
      RUNS,
    ));
  it('logSumExp', () =>
    checkAll(
      logitsCases('logSumExp', (x, axis, keepDims) => F.logSumExp(x, axis, keepDims)),
      RUNS,
    ));
});

// ---- whole models written from primitives ----

describe('composite models pass gradcheck, and agree on WebGPU', () => {
  const dim = (max: number) => fc.integer({ min: 1, max });

  it('a 2-layer MLP: relu(x W1 + b1) W2 + b2, mean squared error', () => {
    // b1 sits 2^-18 off the 1/256 grid: a pre-activation (a sum of products of grid values, so a
    // multiple of 2^-16) is then never closer to relu's kink than 2^-18, well beyond gradcheck's eps.
    const offGrid = anyValue.map((v) => v + 2 ** -18);
    const cases = fc
      .tuple(dim(3), dim(3), dim(4), dim(2))
      .chain(([B, I, Hd, O]) =>
        fc.tuple(
          inputArb([B, I], anyValue),
          inputArb([I, Hd], anyValue),
          inputArb([Hd], offGrid),
          inputArb([Hd, O], anyValue),
          inputArb([O], anyValue),
          inputArb([B, O], anyValue),
        ),
      )
      .map(
        ([x, W1, b1, W2, b2, t]): GradCase => ({
          label: label('mlp', x, W1, b1, W2, b2),
          inputs: [{ ...x, requiresGrad: false }, W1, b1, W2, b2, { ...t, requiresGrad: false }],
          fn: (x, W1, b1, W2, b2, t) => {
            const hidden = (x as Variable)
              .matmul(W1 as Variable)
              .add(b1 as Variable)
              .relu();
            const y = hidden.matmul(W2 as Variable).add(b2 as Variable);
            return y
              .sub(t as Variable)
              .square()
              .mean();
          },
        }),
      );
    return checkAll(cases, 6);
  });

  it('softmax cross-entropy from primitives: -mean(gather(logSoftmax(x W + b), targets))', () => {
    const cases = fc
      .tuple(dim(4), dim(3), fc.integer({ min: 2, max: 5 }))
      .chain(([N, I, C]) =>
        fc.tuple(
          inputArb([N, I], anyValue),
          inputArb([I, C], anyValue),
          inputArb([C], anyValue),
          fc.array(fc.integer({ min: 0, max: C - 1 }), { minLength: N, maxLength: N }),
        ),
      )
      .map(([x, W, b, targets]): GradCase => {
        const [N, C] = [x.shape[0], W.shape[1]];
        // Row i's target as an index into the flattened [N * C] log-probabilities.
        const flat = targets.map((t, i) => i * C + t);
        return {
          label: label('crossEntropy', x, W, b, JSON.stringify(targets)),
          inputs: [x, W, b],
          fn: (x, W, b) => {
            const logits = (x as Variable).matmul(W as Variable).add(b as Variable);
            const picks = int32Beside(logits, flat, [N]);
            const loss = logits
              .logSoftmax(1)
              .reshape([N * C])
              .gather(picks)
              .mean()
              .neg();
            picks.dispose();
            return loss;
          },
        };
      });
    return checkAll(cases, 6);
  });

  it('a GRU step from primitives (Cho et al. 2014, as in the guide), gradients to x, h and all nine weights', () => {
    const cases = fc
      .tuple(dim(2), dim(3), dim(3))
      .chain(([B, I, H]) =>
        fc.tuple(
          inputArb([B, I], anyValue),
          inputArb([B, H], grid(-1, 1)),
          fc.tuple(...[0, 1, 2].map(() => inputArb([I, H], grid(-1, 1)))),
          fc.tuple(...[0, 1, 2].map(() => inputArb([H, H], grid(-1, 1)))),
          fc.tuple(...[0, 1, 2].map(() => inputArb([H], grid(-1, 1)))),
        ),
      )
      .map(
        ([x, h, Ws, Us, bs]): GradCase => ({
          label: label('gruStep', x, h),
          inputs: [x, h, ...Ws, ...Us, ...bs],
          fn: (x, h, ...weights) => gruStep(x as Variable, h as Variable, weights as GruWeights),
        }),
      );
    return checkAll(cases, 5);
  });
});

type GruWeights = [Variable, Variable, Variable, Variable, Variable, Variable, Variable, Variable, Variable];

/** One GRU step, row-vector convention, gates z | r | h as in the contract. */
function gruStep(x: Variable, h: Variable, [W_z, W_r, W_h, U_z, U_r, U_h, b_z, b_r, b_h]: GruWeights): Variable {
  // z = σ(x W_z + h U_z + b_z)
  const z = x.matmul(W_z).add(h.matmul(U_z)).add(b_z).sigmoid();
  // r = σ(x W_r + h U_r + b_r)
  const r = x.matmul(W_r).add(h.matmul(U_r)).add(b_r).sigmoid();
  // h̃ = tanh(x W_h + (r ⊙ h) U_h + b_h)
  const hTilde = x.matmul(W_h).add(r.mul(h).matmul(U_h)).add(b_h).tanh();
  // h' = (1 − z) ⊙ h + z ⊙ h̃
  return F.sub(1, z).mul(h).add(z.mul(hTilde));
}

// ---- one value read many times: gradients must sum over every use ----

describe('a Variable used many times gets the sum of its gradients', () => {
  it('as both operands, through overlapping slices, and densely beside its slices', () => {
    const uses: Array<[string, (x: Variable) => Variable]> = [
      ['x * x', (x) => x.mul(x)],
      ['x / x + x - x', (x) => x.div(x).add(x).sub(x.neg())],
      ['x ^ x', (x) => x.pow(x)],
      ['x @ xᵀ', (x) => x.matmul(x.transpose())],
      ['concat([x, x, x.sqrt()])', (x) => F.concat([x, x, x.sqrt()], -1)],
      [
        'overlapping slices and x',
        (x) =>
          x
            .slice([0], [1])
            .mul(x.slice([-1], [1]))
            .add(x.mul(x.slice([0], [1]))),
      ],
      [
        'slices of a product',
        (x) => {
          const y = x.mul(3);
          return F.concat([y.slice([0], [1]), y.slice([0], [-1]), y], 0);
        },
      ],
    ];
    const cases = fc
      .tuple(shapeArb(1, 2), fc.constantFrom(...uses))
      .chain(([s, use]) => fc.tuple(inputArb(s, positive), fc.constant(use)))
      .map(([x, [what, f]]): GradCase => ({ label: label(what, x), inputs: [x], fn: (v) => f(v as Variable) }));
    return checkAll(cases, 14);
  });
});

// ---- extreme ranges ----

describe('extreme ranges: saturation, large logits, tiny and huge magnitudes', () => {
  /** Positive values from about 1e-3 to 4e3, exact in float32: m · 2^e. */
  const magnitudes = fc.tuple(fc.integer({ min: -10, max: 11 }), grid(1, 2)).map(([e, m]) => m * 2 ** e);

  it('softmax, logSoftmax and logSumExp of logits up to ±100 (e^100 overflows float32 unless shifted)', () => {
    const cases = shapeArb(1, 2, 5)
      .chain((s) =>
        fc.tuple(
          inputArb(s, grid(-100, 100)),
          axisArb(s.length),
          fc.constantFrom('softmax', 'logSoftmax', 'logSumExp'),
        ),
      )
      .map(
        ([x, axis, op]): GradCase => ({
          label: label(op, x, `axis ${axis}`),
          inputs: [x],
          fn: (p) =>
            op === 'softmax'
              ? F.softmax(p as Variable, axis)
              : op === 'logSoftmax'
                ? F.logSoftmax(p as Variable, axis)
                : F.logSumExp(p as Variable, axis),
        }),
      );
    return checkAll(cases, RUNS);
  });

  it('sigmoid and tanh deep in saturation', () => {
    const cases = shapeArb(1, 2)
      .chain((s) => fc.tuple(inputArb(s, grid(-30, 30)), fc.constantFrom('sigmoid', 'tanh')))
      .map(
        ([x, op]): GradCase => ({
          label: label(op, x),
          inputs: [x],
          fn: (p) => (op === 'sigmoid' ? F.sigmoid(p as Variable) : F.tanh(p as Variable)),
        }),
      );
    return checkAll(cases, RUNS);
  });

  it('log, sqrt, reciprocal and powers over six decades', () => {
    const ops: Array<[string, (x: Variable) => Variable]> = [
      ['log', F.log],
      ['sqrt', F.sqrt],
      ['1 / x', (x) => F.div(1, x)],
      ['x ^ 1.5', (x) => F.pow(x, 1.5)],
      ['x ^ -2', (x) => F.pow(x, -2)],
    ];
    const cases = shapeArb(1, 2)
      .chain((s) => fc.tuple(inputArb(s, magnitudes), fc.constantFrom(...ops)))
      .map(([x, [what, f]]): GradCase => ({ label: label(what, x), inputs: [x], fn: (p) => f(p as Variable) }));
    return checkAll(cases, RUNS);
  });
});
