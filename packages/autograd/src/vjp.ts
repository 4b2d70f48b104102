import {
  add,
  broadcastTo,
  div,
  equal,
  greater,
  log,
  matmul as matmulT,
  mul,
  neg,
  permute as permuteT,
  keep,
  pow,
  reshape as reshapeT,
  scatterAdd,
  sign,
  slice as sliceT,
  square,
  sub,
  sum as sumT,
  type Tensor,
  where as whereT,
} from '@wgru/tensor';

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

/** What a VJP sees: the input values, the output value, the recorded attributes. */
export interface VjpContext<P extends Primitive> {
  inputs: readonly Tensor[];
  output: Tensor;
  attrs: PrimitiveAttrs[P];
  /** Which inputs need a gradient (a rule may skip work for the others). */
  needs: readonly boolean[];
}

/**
 * The gradient of a slice: `grad` belongs in the block at `begin` of extent `size` of the input,
 * zero elsewhere. Kept sparse so that T slices of one [T, ...] tensor (a recurrence reading its
 * input projection step by step) cost O(T) to accumulate, not O(T²): the engine adds every block
 * into one buffer when the input's gradient is complete.
 */
export interface SliceGrad {
  readonly kind: 'slice';
  readonly begin: readonly number[];
  readonly size: readonly number[];
  readonly grad: Tensor;
}

/**
 * A vector-Jacobian product: given the gradient `g` of the output, the gradient of each input,
 * or null where none is needed. A result may have the broadcast (output) shape: the engine sums it
 * back to the input's shape, in one place, for every rule.
 */
/**
 * The gradient of a matmul's right operand, leftᵀ @ grad, left unmultiplied. A weight read at
 * every timestep (a GRU's U) receives one such product per step; the engine stacks them and
 * computes Σ_t h_tᵀ dG_t as ONE matmul [H, T·B] @ [T·B, 3H] instead of T small ones.
 */
export interface ProductGrad {
  readonly kind: 'product';
  /** [m, k]: the left operand. */
  readonly left: Tensor;
  /** [m, n]: the output gradient. */
  readonly grad: Tensor;
}

export type Vjp<P extends Primitive> = (
  g: Tensor,
  ctx: VjpContext<P>,
) => Array<Tensor | SliceGrad | ProductGrad | null>;

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

/**
 * One rule per primitive; a missing rule is a type error.
 *
 * @example
 * ```ts
 * import { mul, tensor } from '@wgru/tensor';
 * // The rule of mul, called by hand: d(a ⊙ b) = [g ⊙ b, g ⊙ a].
 * const [a, b, g] = [tensor([1, 2]), tensor([3, 4]), tensor([1, 10])];
 * const [da, db] = vjps.mul(g, { inputs: [a, b], output: mul(a, b), attrs: null, needs: [true, true] });
 * await (da as Tensor).data();   // Float32Array [3, 40]
 * await (db as Tensor).data();   // Float32Array [1, 20]
 * ```
 */
export const vjps: { [P in Primitive]: Vjp<P> } = {
  add: (g) => [g, g],
  sub: (g, { needs }) => [g, ifNeeded(needs[1], () => neg(g))],
  mul: (g, { inputs: [a, b], needs }) => [
    ifNeeded(needs[0], () => mul(g, b as Tensor)),
    ifNeeded(needs[1], () => mul(g, a as Tensor)),
  ],
  // d(a/b) = g/b, -g a / b²
  div: (g, { inputs: [a, b], needs }) => [
    ifNeeded(needs[0], () => div(g, b as Tensor)),
    ifNeeded(needs[1], () => neg(div(mul(g, a as Tensor), square(b as Tensor)))),
  ],
  neg: (g) => [neg(g)],
  // d(a^b) = g b a^(b-1), g a^b log a. NOTE: the exponent's gradient is taken as 0 where a <= 0
  // (log a is undefined there), as PyTorch does for a == 0.
  pow: (g, { inputs: [a, b], output, needs }) => [
    ifNeeded(needs[0], () => mul(g, mul(b as Tensor, pow(a as Tensor, sub(b as Tensor, 1))))),
    ifNeeded(needs[1], () => whereT(greater(a as Tensor, 0), mul(g, mul(output, log(a as Tensor))), 0)),
  ],
  // Ties split the gradient evenly, as in PyTorch.
  maximum: (g, { inputs: [a, b] }) => {
    const share = add(greater(a as Tensor, b as Tensor), mul(equal(a as Tensor, b as Tensor), 0.5));
    return [mul(g, share), mul(g, sub(1, share))];
  },
  minimum: (g, { inputs: [a, b] }) => {
    const share = add(greater(b as Tensor, a as Tensor), mul(equal(a as Tensor, b as Tensor), 0.5));
    return [mul(g, share), mul(g, sub(1, share))];
  },
  exp: (g, { output }) => [mul(g, output)],
  log: (g, { inputs: [a] }) => [div(g, a as Tensor)],
  sqrt: (g, { output }) => [div(g, mul(output, 2))],
  // σ' = σ (1 - σ)
  sigmoid: (g, { output }) => [mul(g, mul(output, sub(1, output)))],
  // tanh' = 1 - tanh²
  tanh: (g, { output }) => [mul(g, sub(1, square(output)))],
  relu: (g, { inputs: [a] }) => [mul(g, greater(a as Tensor, 0))],
  abs: (g, { inputs: [a] }) => [mul(g, sign(a as Tensor))],
  where: (g, { inputs: [cond], needs }) => [
    null,
    ifNeeded(needs[1], () => whereT(cond as Tensor, g, 0)),
    ifNeeded(needs[2], () => whereT(cond as Tensor, 0, g)),
  ],
  // C = A B: dA = G Bᵀ, dB = Aᵀ G (transposes are views: no copies)
  matmul: (g, { inputs: [a, b], needs }) => {
    const t = (x: Tensor) =>
      permuteT(
        x,
        [...x.shape.keys()].map((i) => (i < x.rank - 2 ? i : 2 * x.rank - 3 - i)),
      );
    const left = a as Tensor;
    // For 2-D operands, dB = Aᵀ G is handed on unmultiplied (see ProductGrad): handles that
    // outlive this rule's tidy scope.
    // A 2-D B under a batched A ([T, B, I] @ [I, 3H]) takes Σ_batch Aᵀ G: the batch folded
    // into the rows, [T·B, I]ᵀ @ [T·B, 3H], one product rather than T and a sum.
    const flatten = (x: Tensor) => reshapeT(x, [-1, x.shape[x.rank - 1] as number]);
    const dB = (): Tensor | ProductGrad => {
      if (left.rank === 2 && g.rank === 2) return { kind: 'product', left: keep(left.share()), grad: keep(g.share()) };
      if ((b as Tensor).rank === 2 && left.rank > 2 && g.rank === left.rank)
        return { kind: 'product', left: keep(flatten(left)), grad: keep(flatten(g)) };
      return matmulT(t(left), g);
    };
    return [ifNeeded(needs[0], () => matmulT(g, t(b as Tensor))), needs[1] ? dB() : null];
  },
  sum: (g, { inputs: [a], attrs }) => [expandReduced(g, (a as Tensor).shape, attrs.axes, attrs.keepDims)],
  // The gradient goes to the maximal elements, split evenly among ties.
  max: (g, { inputs: [a], output, attrs }) => {
    const x = a as Tensor;
    const y = expandReduced(output, x.shape, attrs.axes, attrs.keepDims);
    const mask = equal(x, y);
    const count = expandReduced(sumT(mask, attrs.axes, attrs.keepDims), x.shape, attrs.axes, attrs.keepDims);
    return [div(mul(expandReduced(g, x.shape, attrs.axes, attrs.keepDims), mask), count)];
  },
  reshape: (g, { inputs: [a] }) => [reshapeT(g, [...(a as Tensor).shape])],
  permute: (g, { attrs }) => {
    const inverse = new Array<number>(attrs.perm.length);
    attrs.perm.forEach((p, i) => {
      inverse[p] = i;
    });
    return [permuteT(g, inverse)];
  },
  slice: (g, { attrs }) => [{ kind: 'slice', begin: attrs.begin, size: attrs.size, grad: g }],
  concat: (g, { inputs, attrs }) => {
    let at = 0;
    return inputs.map((x) => {
      const begin = x.shape.map((_, i) => (i === attrs.axis ? at : 0));
      at += x.shape[attrs.axis] as number;
      return sliceT(g, begin, [...x.shape]);
    });
  },
  gather: (g, { inputs: [a, indices], attrs }) => [
    scatterAdd([...(a as Tensor).shape], indices as Tensor, g, attrs.axis),
    null,
  ],
};
