/**
 * A rule's elementwise arithmetic as one kernel. Written with the tensor ops, σ's rule
 * g ⊙ σ ⊙ (1 − σ) is three kernels and two temporaries; written with the expression builders
 * below, it is one `elementwise` call that computes the same operations in the same order, so a
 * float32 result differs from the three-op chain by at most the rounding of the intermediates
 * (none on the wasm backend, which rounds every node to float32 as the separate ops do). The
 * backward pass of a GRU step issues several such rules per timestep, and each op it saves is one
 * allocation and one trip through the tensor layer fewer.
 *
 * The builders take expression nodes or plain numbers; a number becomes a constant of the other
 * operand's dtype, as `mul(x, 2)` types its 2 (int32 only beside int32, float64 beside float64).
 */
import { type BinaryOp, binaryExpr, type DType, elementwise, type Expr, type Tensor, unaryExpr } from '@wgru/tensor';

/** An operand of a fused expression: a node, or a number (a constant). */
export type Operand = Expr | number;

/** A number beside `other`, typed as the tensor ops type a scalar operand. */
function lift(x: Operand, other: Operand): Expr {
  if (typeof x !== 'number') return x;
  const t: DType = typeof other === 'number' ? 'float32' : other.dtype;
  const dtype: DType = t === 'float64' ? 'float64' : t === 'int32' && Number.isInteger(x) ? 'int32' : 'float32';
  return { kind: 'const', value: x, dtype };
}

const binary =
  (op: BinaryOp) =>
  (a: Operand, b: Operand): Expr =>
    binaryExpr(op, lift(a, b), lift(b, a));

/**
 * Expression builders with the tensor ops' names and dtype rules.
 *
 * @example
 * ```ts
 * import { tensor } from '@wgru/tensor';
 * // g ⊙ y ⊙ (1 − y) in one kernel:
 * const [g, y] = [tensor([1, 2]), tensor([0.5, 0.25])];
 * await fusedRule('sigmoid', (g, y) => E.mul(g, E.mul(y, E.sub(1, y))))([g, y]).data();   // Float32Array [0.25, 0.375]
 * ```
 */
export const E = {
  add: binary('add'),
  sub: binary('sub'),
  mul: binary('mul'),
  div: binary('div'),
  greater: binary('greater'),
  equal: binary('equal'),
  neg: (a: Expr): Expr => unaryExpr('neg', a),
  sign: (a: Expr): Expr => unaryExpr('sign', a),
  /** a ⊙ a, as the tensor op `square` computes it. */
  square: (a: Expr): Expr => binaryExpr('mul', a, a),
};

/**
 * One kernel over `tensors` (broadcast together), for a rule whose expression depends on nothing
 * but its operands (a builder that captures no state): `build` receives one expression node per
 * tensor and returns the result's; it is built once per operand dtypes and reused, so that a
 * backend finds its kernel by the expression object (the wasm backend's fast path) rather than
 * by its structural key, and nothing is built per call.
 *
 * @example
 * ```ts
 * import { tensor } from '@wgru/tensor';
 * const sigmoidGrad = fusedRule('sigmoid', (g, y) => E.mul(g, E.mul(y, E.sub(1, y))));
 * await sigmoidGrad([tensor([1, 2]), tensor([0.5, 0.25])]).data();   // Float32Array [0.25, 0.375]
 * ```
 */
export function fusedRule(op: string, build: (...xs: Expr[]) => Expr): (tensors: readonly Tensor[]) => Tensor {
  const built = new Map<string, Expr>();
  return (tensors) =>
    elementwise(op, tensors, (leaves) => {
      let key = '';
      for (const leaf of leaves) key += `${leaf.dtype},`;
      let expr = built.get(key);
      if (expr === undefined) built.set(key, (expr = build(...leaves)));
      return expr;
    });
}
