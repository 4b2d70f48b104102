import {
  broadcastTo,
  div,
  equal,
  greater,
  log,
  matmul as matmulT,
  mul,
  neg,
  permute as permuteT,
  pow,
  reshape as reshapeT,
  scatterAdd,
  slice as sliceT,
  sub,
  sum as sumT,
  type Shape,
  type Tensor,
  type Expr,
  where as whereT,
} from '@wgru/tensor';
import { type Grad, negated, transposeTimes } from './accumulate.js';
import { placed } from './blocks.js';
import { E, fusedRule } from './fused.js';

/**
 * The primitives: the only ops with hand-written gradients. Everything else in @wgru/autograd
 * (softmax, logSumExp, mean, stack, ...) is composed from these, so its gradient comes from the
 * tape. Each entry maps an op to the attributes it records.
 */
export interface PrimitiveAttrs {
  add: null;
  sub: null;
  mul: null;
  div: null;
  neg: null;
  pow: null;
  maximum: null;
  minimum: null;
  exp: null;
  log: null;
  sqrt: null;
  sigmoid: null;
  tanh: null;
  relu: null;
  abs: null;
  where: null;
  matmul: null;
  sum: { axes: number[]; keepDims: boolean };
  max: { axes: number[]; keepDims: boolean };
  reshape: null;
  permute: { perm: number[] };
  slice: { begin: number[]; size: number[] };
  concat: { axis: number };
  gather: { axis: number };
}

export type Primitive = keyof PrimitiveAttrs;

/**
 * What a rule sees besides `g`: the input values, the output value, the input shapes, the recorded
 * attributes, and which inputs need a gradient (a rule may skip work for the others). A rule
 * names in its parameters the values it reads (`{ inputs: [a, b] }`, `{ output }`): that is how
 * `saves` below knows what to keep for it. Shapes are always kept.
 */
export interface VjpContext<P extends Primitive> {
  inputs: readonly Tensor[];
  output: Tensor;
  shapes: readonly Shape[];
  attrs: PrimitiveAttrs[P];
  needs: readonly boolean[];
}

/**
 * A vector-Jacobian product: given the gradient `g` of the output, the gradient of each input, or
 * null where none is needed. A result may have the broadcast (output) shape: the accumulation
 * pass sums it back to the input's shape, in one place, for every rule. Two results are deferred
 * forms that the pass rewrites (`placed` and `transposeTimes`, see ./accumulate.ts).
 */
export type Vjp<P extends Primitive> = (g: Tensor, ctx: VjpContext<P>) => Array<Grad | null>;

const ifNeeded = (need: boolean | undefined, f: () => Tensor): Tensor | null => (need ? f() : null);

/** The gradient of a reduction, broadcast back over the reduced axes. */
function expandReduced(g: Tensor, inputShape: readonly number[], axes: readonly number[], keepDims: boolean): Tensor {
  const kept = keepDims
    ? g
    : reshapeT(
        g,
        inputShape.map((d, i) => (axes.includes(i) ? 1 : d)),
      );
  return broadcastTo(kept, inputShape);
}

// The rules' fused arithmetic, built once per dtypes (fused.ts).
// d(a/b)/db = -g a / b²
const divByGrad = fusedRule('div', (g, a, b) => E.neg(E.div(E.mul(g, a), E.square(b))));
/** The share of a maximum's (minimum's) gradient that goes to a: 1 where a wins, ½ on a tie. */
const maxShare = (a: Expr, b: Expr) => E.add(E.greater(a, b), E.mul(E.equal(a, b), 0.5));
const minShare = (a: Expr, b: Expr) => E.add(E.greater(b, a), E.mul(E.equal(a, b), 0.5));
const maximumGrads = [
  fusedRule('maximum', (g, a, b) => E.mul(g, maxShare(a, b))),
  fusedRule('maximum', (g, a, b) => E.mul(g, E.sub(1, maxShare(a, b)))),
];
const minimumGrads = [
  fusedRule('minimum', (g, a, b) => E.mul(g, minShare(a, b))),
  fusedRule('minimum', (g, a, b) => E.mul(g, E.sub(1, minShare(a, b)))),
];
// √a' = 1 / (2 √a)
const sqrtGrad = fusedRule('sqrt', (g, y) => E.div(g, E.mul(y, 2)));
// σ' = σ (1 - σ)
const sigmoidGrad = fusedRule('sigmoid', (g, y) => E.mul(g, E.mul(y, E.sub(1, y))));
// tanh' = 1 - tanh²
const tanhGrad = fusedRule('tanh', (g, y) => E.mul(g, E.sub(1, E.square(y))));
const reluGrad = fusedRule('relu', (g, a) => E.mul(g, E.greater(a, 0)));
const absGrad = fusedRule('abs', (g, a) => E.mul(g, E.sign(a)));

/**
 * One rule per primitive; a missing rule is a type error.
 *
 * @example
 * ```ts
 * import { mul, tensor } from '@wgru/tensor';
 * // The rule of mul, called by hand: d(a ⊙ b) = [g ⊙ b, g ⊙ a].
 * const [a, b, g] = [tensor([1, 2]), tensor([3, 4]), tensor([1, 10])];
 * const ctx = { inputs: [a, b], output: mul(a, b), shapes: [a.shape, b.shape], attrs: null, needs: [true, true] };
 * const [da, db] = vjps.mul(g, ctx);
 * await (da as Tensor).data();   // Float32Array [3, 40]
 * await (db as Tensor).data();   // Float32Array [1, 20]
 * ```
 */
export const vjps: { [P in Primitive]: Vjp<P> } = {
  add: (g) => [g, g],
  sub: (g, { needs }) => [g, needs[1] ? negated(g) : null],
  mul: (g, { inputs: [a, b], needs }) => [
    ifNeeded(needs[0], () => mul(g, b as Tensor)),
    ifNeeded(needs[1], () => mul(g, a as Tensor)),
  ],
  // d(a/b) = g/b, -g a / b²
  div: (g, { inputs: [a, b], needs }) => [
    ifNeeded(needs[0], () => div(g, b as Tensor)),
    ifNeeded(needs[1], () => divByGrad([g, a as Tensor, b as Tensor])),
  ],
  neg: (g) => [neg(g)],
  // d(a^b) = g b a^(b-1), g a^b log a. NOTE: the exponent's gradient is taken as 0 where a <= 0
  // (log a is undefined there), as PyTorch does for a == 0.
  pow: (g, { inputs: [a, b], output, needs }) => [
    ifNeeded(needs[0], () => mul(g, mul(b as Tensor, pow(a as Tensor, sub(b as Tensor, 1))))),
    ifNeeded(needs[1], () => whereT(greater(a as Tensor, 0), mul(g, mul(output, log(a as Tensor))), 0)),
  ],
  // Ties split the gradient evenly, as in PyTorch.
  maximum: (g, { inputs: [a, b] }) => [
    maximumGrads[0]([g, a as Tensor, b as Tensor]),
    maximumGrads[1]([g, a as Tensor, b as Tensor]),
  ],
  minimum: (g, { inputs: [a, b] }) => [
    minimumGrads[0]([g, a as Tensor, b as Tensor]),
    minimumGrads[1]([g, a as Tensor, b as Tensor]),
  ],
  exp: (g, { output }) => [mul(g, output)],
  log: (g, { inputs: [a] }) => [div(g, a as Tensor)],
  sqrt: (g, { output }) => [sqrtGrad([g, output])],
  sigmoid: (g, { output }) => [sigmoidGrad([g, output])],
  tanh: (g, { output }) => [tanhGrad([g, output])],
  relu: (g, { inputs: [a] }) => [reluGrad([g, a as Tensor])],
  abs: (g, { inputs: [a] }) => [absGrad([g, a as Tensor])],
  where: (g, { inputs: [cond], needs }) => [
    null,
    ifNeeded(needs[1], () => whereT(cond as Tensor, g, 0)),
    ifNeeded(needs[2], () => whereT(cond as Tensor, 0, g)),
  ],
  // C = A B: ∂A = G Bᵀ, ∂B = Aᵀ G (transposes are views: no copies). Aᵀ G is left unmultiplied,
  // so that the accumulation pass can stack the products of every timestep into one matmul.
  matmul: (g, { inputs: [a, b], needs }) => [
    ifNeeded(needs[0], () => matmulT(g, mT(b as Tensor))),
    needs[1] ? transposeTimes(a as Tensor, g) : null,
  ],
  sum: (g, { shapes: [a], attrs }) => [expandReduced(g, a as Shape, attrs.axes, attrs.keepDims)],
  // The gradient goes to the maximal elements, split evenly among ties.
  max: (g, { inputs: [a], output, attrs }) => {
    const x = a as Tensor;
    const y = expandReduced(output, x.shape, attrs.axes, attrs.keepDims);
    const mask = equal(x, y);
    const count = expandReduced(sumT(mask, attrs.axes, attrs.keepDims), x.shape, attrs.axes, attrs.keepDims);
    return [div(mul(expandReduced(g, x.shape, attrs.axes, attrs.keepDims), mask), count)];
  },
  reshape: (g, { shapes: [a] }) => [reshapeT(g, [...(a as Shape)])],
  permute: (g, { attrs }) => {
    const inverse = new Array<number>(attrs.perm.length);
    attrs.perm.forEach((p, i) => {
      inverse[p] = i;
    });
    return [permuteT(g, inverse)];
  },
  // g in place, zeros elsewhere (kept sparse: see ./accumulate.ts)
  slice: (g, { attrs }) => [placed(g, attrs.begin, attrs.size)],
  concat: (g, { shapes, attrs }) => {
    let at = 0;
    return shapes.map((shape) => {
      const begin = shape.map((_, i) => (i === attrs.axis ? at : 0));
      at += shape[attrs.axis];
      return sliceT(g, begin, [...shape]);
    });
  },
  gather: (g, { inputs: [, indices], shapes: [a], attrs }) => [
    scatterAdd([...(a as Shape)], indices as Tensor, g, attrs.axis),
    null,
  ],
};

/** The last two axes swapped (a view). */
function mT(x: Tensor): Tensor {
  return permuteT(
    x,
    [...x.shape.keys()].map((i) => (i < x.rank - 2 ? i : 2 * x.rank - 3 - i)),
  );
}

/**
 * What each rule reads besides `g`, its inputs' values, its output's value, or neither, found from
 * the rule itself: it is called once with a context that notes which of the two it takes (rules
 * name what they read in their parameters). A value nobody's rule reads need not be kept.
 */
export const saves = Object.fromEntries(
  Object.entries(vjps).map(([op, rule]) => {
    const reads = { inputs: false, output: false };
    const probe = {
      get inputs() {
        reads.inputs = true;
        return [];
      },
      get output() {
        reads.output = true;
        return undefined;
      },
      shapes: [],
      attrs: {},
      needs: [],
    };
    try {
      (rule as (g: unknown, ctx: unknown) => unknown)(undefined, probe);
    } catch {
      // The probe's values are not tensors: a rule stops at its first op, after its parameters.
    }
    return [op, reads];
  }),
) as { readonly [P in Primitive]: { readonly inputs: boolean; readonly output: boolean } };
