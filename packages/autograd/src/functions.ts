/**
 * The differentiable ops on Variables: elementwise, matmul and reductions here; movement ops in
 * ./movement.ts and composites (softmax, logSumExp, ...) in ./composites.ts, re-exported below.
 */
import * as T from '@wgru/tensor';
import { normalizeAxes, shapeString, type Tensor } from '@wgru/tensor';
import { transientConstant } from './lifetimes.js';
import { reshape } from './movement.js';
import { apply, check, constant, operands, temp } from './record.js';
import { traced } from './trace.js';
import { Variable, type VariableLike } from './variable.js';

export * from './composites.js';
export * from './movement.js';

// ---- elementwise primitives ----

/**
 * a + b, elementwise, with NumPy broadcasting; either side may be a plain number. The same as
 * `a.add(b)`; `sub`, `mul`, `div`, `pow`, `maximum` and `minimum` work alike.
 *
 * @example
 * ```ts
 * const x = variable([[1, 2], [3, 4]], { requiresGrad: true });
 * const b = variable([10, 20], { requiresGrad: true });
 * const y = add(x, b).mul(2).sum();    // b broadcasts over the rows of x
 * y.backward();
 * await b.grad!.data();                // Float32Array [4, 4]: summed back to b's shape
 * ```
 */
export const add = (a: VariableLike, b: VariableLike): Variable =>
  apply('add', operands('add', a, b), null, ([x, y]) => T.add(x as Tensor, y as Tensor));
export const sub = (a: VariableLike, b: VariableLike): Variable =>
  apply('sub', operands('sub', a, b), null, ([x, y]) => T.sub(x as Tensor, y as Tensor));
export const mul = (a: VariableLike, b: VariableLike): Variable =>
  apply('mul', operands('mul', a, b), null, ([x, y]) => T.mul(x as Tensor, y as Tensor));
export const div = (a: VariableLike, b: VariableLike): Variable =>
  apply('div', operands('div', a, b), null, ([x, y]) => T.div(x as Tensor, y as Tensor));
/** a^b; integer powers of negative bases are exact. */
export const pow = (a: VariableLike, b: VariableLike): Variable =>
  apply('pow', operands('pow', a, b), null, ([x, y]) => T.pow(x as Tensor, y as Tensor));
export const maximum = (a: VariableLike, b: VariableLike): Variable =>
  apply('maximum', operands('maximum', a, b), null, ([x, y]) => T.maximum(x as Tensor, y as Tensor));
export const minimum = (a: VariableLike, b: VariableLike): Variable =>
  apply('minimum', operands('minimum', a, b), null, ([x, y]) => T.minimum(x as Tensor, y as Tensor));

function unary(op: 'neg' | 'exp' | 'log' | 'sqrt' | 'sigmoid' | 'tanh' | 'relu' | 'abs', x: Variable): Variable {
  check(op, 'x', x);
  return apply(op, [x], null, ([v]) => T.unary(op, v as Tensor));
}
export const neg = (x: Variable): Variable => unary('neg', x);
export const exp = (x: Variable): Variable => unary('exp', x);
export const log = (x: Variable): Variable => unary('log', x);
export const sqrt = (x: Variable): Variable => unary('sqrt', x);
/**
 * σ(x) = 1 / (1 + e^-x), computed without overflow for any x. Its gradient, σ (1 − σ), reads
 * the saved output.
 *
 * @example
 * ```ts
 * const x = variable([0, 100, -100], { requiresGrad: true });
 * const y = sigmoid(x);            // [0.5, 1, 0]: no overflow at ±100
 * y.sum().backward();
 * await x.grad!.data();            // Float32Array [0.25, 0, 0]
 * ```
 */
export const sigmoid = (x: Variable): Variable => unary('sigmoid', x);
export const tanh = (x: Variable): Variable => unary('tanh', x);
export const relu = (x: Variable): Variable => unary('relu', x);
export const abs = (x: Variable): Variable => unary('abs', x);

/**
 * cond ? a : b, elementwise; `cond` is a mask (nonzero = true) and gets no gradient.
 *
 * @example
 * ```ts
 * const x = variable([-2, 1, 3], { requiresGrad: true });
 * const y = where(x.greater(0), x, x.mul(0.1));   // leaky ReLU
 * y.sum().backward();
 * await x.grad!.data();                           // Float32Array [0.1, 1, 1]
 * ```
 */
export function where(cond: Variable | Tensor, a: VariableLike, b: VariableLike): Variable {
  if (!(cond instanceof Variable) && !(cond instanceof T.Tensor))
    throw new Error('where: cond must be a Variable or Tensor mask');
  // A Tensor mask is shared, not taken over: the caller still owns (and may dispose) it.
  const c = cond instanceof Variable ? cond : transientConstant(cond.share());
  // Two numbers are allowed here: the mask says where (and on which backend) they go.
  const [x, y] =
    typeof a === 'number' && typeof b === 'number'
      ? [constant(a, c, 'where'), constant(b, c, 'where')]
      : operands('where', a, b);
  return apply('where', [c, x, y], null, ([m, p, q]) => T.where(m as Tensor, p as Tensor, q as Tensor));
}

/** A float32 0/1 mask of an elementwise comparison (no gradient). */
export function compare(
  op: 'equal' | 'notEqual' | 'less' | 'lessEqual' | 'greater' | 'greaterEqual',
  a: VariableLike,
  b: VariableLike,
): Variable {
  const [x, y] = operands(op, a, b);
  // Not a primitive (no gradient), so traced as one op of its own.
  return traced(
    op,
    [x, y],
    null,
    () => new Variable(T.binary(op, x.value, y.value), false),
    (m) => [m],
  );
}

// ---- matmul ----

/**
 * [..., m, k] @ [..., k, n], batched with broadcasting; 1-D operands as in numpy.matmul. The same
 * as `a.matmul(b)`. Its gradients are G Bᵀ and Aᵀ G (see ./vjp.ts).
 *
 * @example
 * ```ts
 * const a = variable([[1, 2]], { requiresGrad: true });     // [1, 2]
 * const b = variable([[3], [4]], { requiresGrad: true });   // [2, 1]
 * matmul(a, b).sum().backward();                            // a b = [[11]]
 * await a.grad!.data();                                     // Float32Array [3, 4]  (G bᵀ)
 * await b.grad!.data();                                     // Float32Array [1, 2]  (aᵀ G)
 * ```
 */
export function matmul(a: Variable, b: Variable): Variable {
  check('matmul', 'a', a);
  check('matmul', 'b', b);
  if (a.rank === 0 || b.rank === 0)
    throw new Error(
      `matmul: operands must have at least one axis, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`,
    );
  // Checked here, before a 1-D operand becomes a matrix, so that the message shows the caller's shapes.
  const k = a.shape[a.rank - 1];
  const kb = b.shape[Math.max(b.rank - 2, 0)];
  if (k !== kb)
    throw new Error(
      `matmul: inner dimensions differ: ${shapeString(a.shape)} @ ${shapeString(b.shape)} (${k} vs ${kb})`,
    );
  const A = a.rank === 1 ? temp(reshape(a, [1, a.shape[0]])) : a;
  const B = b.rank === 1 ? temp(reshape(b, [b.shape[0], 1])) : b;
  const out = apply('matmul', [A, B], null, ([x, y]) => T.matmul(x as Tensor, y as Tensor));
  if (a.rank > 1 && b.rank > 1) return out;
  const shape = out.shape.slice(0, -2);
  if (a.rank > 1) shape.push(out.shape[out.rank - 2]);
  if (b.rank > 1) shape.push(out.shape[out.rank - 1]);
  return reshape(temp(out), shape);
}

// ---- reductions ----

type AxesArg = number | readonly number[] | undefined;

/**
 * Sum over `axes` (all when omitted; negative axes count from the end). Its gradient broadcasts
 * the output's gradient back over the summed axes.
 *
 * @example
 * ```ts
 * const x = variable([[1, 2, 3], [4, 5, 6]], { requiresGrad: true });
 * sum(x, 1).shape;             // [2]
 * sum(x, -1, true).shape;      // [2, 1]
 * x.sum().backward();          // x.grad is all ones
 * ```
 */
export function sum(x: Variable, axes?: AxesArg, keepDims = false): Variable {
  check('sum', 'x', x);
  const ax = normalizeAxes('sum', axes, x.rank);
  return apply('sum', [x], { axes: ax, keepDims }, ([v]) => T.sum(v as Tensor, ax, keepDims));
}

export function max(x: Variable, axes?: AxesArg, keepDims = false): Variable {
  check('max', 'x', x);
  const ax = normalizeAxes('max', axes, x.rank);
  return apply('max', [x], { axes: ax, keepDims }, ([v]) => T.max(v as Tensor, ax, keepDims));
}

/** min(x) = -max(-x). */
export const min = (x: Variable, axes?: AxesArg, keepDims = false): Variable =>
  neg(temp(max(temp(neg(x)), axes, keepDims)));

/**
 * sum / count, over `axes` (all when omitted).
 *
 * @example
 * ```ts
 * await mean(variable([[1, 2], [3, 4]]), 0).data();   // Float32Array [2, 3]
 * ```
 */
export function mean(x: Variable, axes?: AxesArg, keepDims = false): Variable {
  check('mean', 'x', x);
  const ax = normalizeAxes('mean', axes, x.rank);
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  // Traced as one op: the count is a size, which a trace would otherwise hold as a constant.
  return traced(
    'mean',
    [x],
    { axes: ax, keepDims },
    () => div(temp(sum(x, ax, keepDims)), count),
    (y) => [y],
  );
}
