import * as T from '@wgru/tensor';
import { type Backend, type DType, normalizeAxes, normalizeAxis, shapeString, type Tensor } from '@wgru/tensor';
import { inspectOutput } from './anomaly.js';
import { isGradEnabled, type Node } from './graph.js';
import { noteRecorded } from './internal.js';
import { reportOp, traced } from './trace.js';
import type { Primitive, PrimitiveAttrs } from './vjp.js';
import { transientConstant, Variable, type VariableLike } from './variable.js';

/**
 * Records one primitive: computes its value with the raw tensor op and, when gradients are on and
 * some input needs one, remembers the node for backward.
 */
function apply<P extends Primitive>(
  op: P,
  inputs: Variable[],
  attrs: PrimitiveAttrs[P],
  forward: (xs: Tensor[]) => Tensor,
): Variable {
  let value: Tensor | undefined;
  try {
    value = forward(inputs.map((x) => x.value));
    inspectOutput(op, value); // anomaly mode: a NaN or Infinity in the output
  } catch (e) {
    value?.dispose();
    for (const x of inputs) if (x.transient) x.dispose(); // a bad call leaks nothing
    throw e;
  }
  const requiresGrad = isGradEnabled() && inputs.some((x) => x.requiresGrad);
  const node: Node | null = requiresGrad ? ({ op, inputs, attrs } as Node) : null;
  const out = new Variable(value, requiresGrad, node);
  reportOp(op, inputs, attrs, [out]); // a trace (see ./trace.ts) sees every primitive
  // With no node to hold them, one-use constants can go at once.
  if (node === null) for (const x of inputs) if (x.transient) x.dispose();
  // A recorded op holds the shared constants it reads until backward frees it.
  if (node !== null) for (const x of inputs) if (x.holds > 0) x.holds++;
  if (node !== null) noteRecorded(out, node);
  return out;
}

/** Constant scalars, one 0-d tensor per (backend, dtype, value), shared by every use. */
const constants = new Map<string, Tensor>();
const backendIds = new WeakMap<Backend, number>();
let lastBackendId = 0;

function constant(value: number, like: Variable, op: string): Variable {
  const backend = like.value.backend;
  let id = backendIds.get(backend);
  if (id === undefined) {
    id = ++lastBackendId;
    backendIds.set(backend, id);
  }
  // The number takes the Variable's dtype where it can (as in NumPy: int32 + 1 stays int32).
  const dtype: DType =
    like.dtype === 'float64' ? 'float64' : like.dtype === 'int32' && Number.isInteger(value) ? 'int32' : 'float32';
  const key = `${id}|${dtype}|${Object.is(value, -0) ? '-0' : value}`;
  let t = constants.get(key);
  if (t === undefined || t.disposed) {
    // Made by `op` (so that a lost device or a failed batch is reported as that op's error).
    t = T.keep(T.empty(backend, [], dtype, op)); // outlives any tidy scope
    T.assign(t, value);
    if (constants.size > 512) {
      // Forget the oldest; graphs still holding it keep its storage alive through their handles.
      const [oldKey, old] = constants.entries().next().value as [string, Tensor];
      constants.delete(oldKey);
      old.dispose();
    }
    constants.set(key, t);
  }
  return transientConstant(t.share());
}

/**
 * An intermediate of a composite, read once by the next op. Outside a graph (under noGrad, or when
 * no input requires grad) nothing else would ever free it, so it goes to its reader as a transient,
 * freed as soon as that op has run (or with its node); inside a graph, backward frees it.
 */
function temp(v: Variable): Variable {
  if (v.node === null) v.transient = true;
  return v;
}

function check(op: string, arg: string, x: unknown): asserts x is Variable {
  if (!(x instanceof Variable)) {
    throw new Error(
      `${op}: ${arg} must be a Variable${typeof x === 'number' ? '' : `, got ${x === null ? 'null' : typeof x === 'object' ? ((x as object).constructor?.name ?? 'object') : typeof x}`}`,
    );
  }
}

function operands(op: string, a: VariableLike, b: VariableLike): [Variable, Variable] {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a Variable`);
  if (typeof a !== 'number') check(op, 'a', a);
  if (typeof b !== 'number') check(op, 'b', b);
  const x = typeof a === 'number' ? constant(a, b as Variable, op) : a;
  const y = typeof b === 'number' ? constant(b, x, op) : b;
  return [x, y];
}

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
  const k = a.shape[a.rank - 1] as number;
  const kb = b.shape[Math.max(b.rank - 2, 0)] as number;
  if (k !== kb)
    throw new Error(
      `matmul: inner dimensions differ: ${shapeString(a.shape)} @ ${shapeString(b.shape)} (${k} vs ${kb})`,
    );
  const A = a.rank === 1 ? temp(reshape(a, [1, a.shape[0] as number])) : a;
  const B = b.rank === 1 ? temp(reshape(b, [b.shape[0] as number, 1])) : b;
  const out = apply('matmul', [A, B], null, ([x, y]) => T.matmul(x as Tensor, y as Tensor));
  if (a.rank > 1 && b.rank > 1) return out;
  const shape = out.shape.slice(0, -2);
  if (a.rank > 1) shape.push(out.shape[out.rank - 2] as number);
  if (b.rank > 1) shape.push(out.shape[out.rank - 1] as number);
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
  const count = ax.reduce((n, a) => n * (x.shape[a] as number), 1);
  // Traced as one op: the count is a size, which a trace would otherwise hold as a constant.
  return traced(
    'mean',
    [x],
    { axes: ax, keepDims },
    () => div(temp(sum(x, ax, keepDims)), count),
    (y) => [y],
  );
}

// ---- movement ----

/**
 * The same elements in another shape (row-major; one entry may be -1).
 *
 * @example
 * ```ts
 * const output = variable(randn([5, 3, 16], { seed: 0 }));   // a GRU's [T, B, H] output
 * output.reshape([5 * 3, 16]).shape;                         // [15, 16]: rows for a Linear head
 * ```
 */
export function reshape(x: Variable, shape: readonly number[]): Variable {
  check('reshape', 'x', x);
  return apply('reshape', [x], null, ([v]) => T.reshape(v as Tensor, shape));
}

export function permute(x: Variable, perm: readonly number[]): Variable {
  check('permute', 'x', x);
  const p = perm.map((a) => normalizeAxis('permute', a, x.rank));
  return apply('permute', [x], { perm: p }, ([v]) => T.permute(v as Tensor, p));
}

/** Permutes axes; with no `perm`, reverses them. */
export function transpose(x: Variable, perm?: readonly number[]): Variable {
  check('transpose', 'x', x);
  return permute(x, perm ?? x.shape.map((_, i) => x.rank - 1 - i));
}

/**
 * The block at `begin` of extent `size` (-1: to the end). Its gradient is a sparse block, placed
 * into the input's gradient when that is complete (see ./graph.ts).
 *
 * @example
 * ```ts
 * const gates = variable(randn([2, 12], { seed: 0 }), { requiresGrad: true });   // [B, 3H], H = 4
 * const z = gates.slice([0, 0], [2, 4]).sigmoid();
 * const hTilde = gates.slice([0, 8], [-1, -1]).tanh();                          // to the end
 * z.mul(hTilde).sum().backward();   // gates.grad: columns 4..7 are zero
 * ```
 */
export function slice(x: Variable, begin: readonly number[], size?: readonly number[]): Variable {
  check('slice', 'x', x);
  const out = T.slice(x.value, begin, size); // validates, and resolves -1 and negative begins
  const b = begin.map((v, i) => (v < 0 ? v + (x.shape[i] as number) : v));
  const s = [...out.shape.slice(0, begin.length)];
  out.dispose();
  return apply('slice', [x], { begin: b, size: s }, ([v]) => T.slice(v as Tensor, b, s));
}

export function squeeze(x: Variable, axes?: number | readonly number[]): Variable {
  check('squeeze', 'x', x);
  const list = axes === undefined ? undefined : typeof axes === 'number' ? [axes] : axes;
  const probe = T.squeeze(x.value, list);
  const shape = [...probe.shape];
  probe.dispose();
  return reshape(x, shape);
}

export function unsqueeze(x: Variable, axis: number): Variable {
  check('unsqueeze', 'x', x);
  const a = normalizeAxis('unsqueeze', axis, x.rank + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/**
 * Joins Variables along an existing axis.
 *
 * @example
 * ```ts
 * const a = variable([[1, 2]]);
 * const b = variable([[3, 4], [5, 6]]);
 * concat([a, b], 0).shape;   // [3, 2]
 * ```
 */
export function concat(xs: readonly Variable[], axis: number): Variable {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('concat: needs a non-empty list of Variables');
  for (const [i, x] of xs.entries()) check('concat', `vars[${i}]`, x);
  const a = normalizeAxis('concat', axis, (xs[0] as Variable).rank);
  return apply('concat', [...xs], { axis: a }, (vs) => T.concat(vs, a));
}

/**
 * Joins same-shaped Variables along a new axis.
 *
 * @example
 * ```ts
 * const steps = [variable([1, 2]), variable([3, 4]), variable([5, 6])];   // T = 3 of [2]
 * stack(steps, 0).shape;   // [3, 2]
 * stack(steps, 1).shape;   // [2, 3]
 * ```
 */
export function stack(xs: readonly Variable[], axis = 0): Variable {
  if (!Array.isArray(xs) || xs.length === 0) throw new Error('stack: needs a non-empty list of Variables');
  for (const [i, x] of xs.entries()) check('stack', `vars[${i}]`, x);
  const first = xs[0] as Variable;
  xs.forEach((x, i) => {
    if (x.rank !== first.rank || x.shape.some((d: number, j: number) => d !== first.shape[j])) {
      throw new Error(`stack: vars[${i}] has shape ${shapeString(x.shape)}, vars[0] has ${shapeString(first.shape)}`);
    }
  });
  const a = normalizeAxis('stack', axis, first.rank + 1);
  return concat(
    xs.map((x) => temp(unsqueeze(x, a))),
    a,
  );
}

/**
 * numpy.take along `axis` with int32 `indices` (no gradient to the indices). Repeated indices
 * accumulate their gradients.
 *
 * @example
 * ```ts
 * const table = variable([[0, 0], [1, 1], [2, 2]], { requiresGrad: true });
 * gather(table, tensor([2, 2, 0], undefined, 'int32'), 0).sum().backward();
 * await table.grad!.data();   // Float32Array [1, 1, 0, 0, 2, 2]
 * ```
 */
export function gather(x: Variable, indices: Tensor, axis = 0): Variable {
  check('gather', 'x', x);
  if (!(indices instanceof T.Tensor)) throw new Error('gather: indices must be an int32 Tensor');
  const a = normalizeAxis('gather', axis, x.rank);
  return apply('gather', [x, transientConstant(indices.share())], { axis: a }, ([v, i]) =>
    T.gather(v as Tensor, i as Tensor, a),
  );
}

// ---- composites: gradients come from the primitives above ----

export const square = (x: Variable): Variable => mul(x, x);

/**
 * log Σ exp(x) along `axis`, as m + log Σ exp(x - m) with m = max(x) held constant (its
 * gradient cancels exactly), so large logits cannot overflow.
 */
export function logSumExp(x: Variable, axis = -1, keepDims = false): Variable {
  check('logSumExp', 'x', x);
  const a = normalizeAxis('logSumExp', axis, x.rank);
  // Traced as one op: m below is computed beside the tape, and a trace would hold it as a constant.
  return traced(
    'logSumExp',
    [x],
    { axis: a, keepDims },
    () => logSumExpOf(x, a, keepDims),
    (y) => [y],
  );
}

function logSumExpOf(x: Variable, a: number, keepDims: boolean): Variable {
  const mRaw = T.max(x.value, a, true);
  // Rows that are all -Infinity (or +Infinity) keep m = 0, so they give ±Infinity, not NaN.
  const infinite = T.isInf(mRaw);
  const mValue = T.where(infinite, 0, mRaw);
  mRaw.dispose();
  infinite.dispose();
  const shifted = temp(sub(x, transientConstant(mValue.share())));
  const total = temp(sum(temp(exp(shifted)), a, true));
  const out = add(temp(log(total)), transientConstant(mValue));
  // A 0-d x has no axis to remove (axis 0 or -1 name the scalar itself, as in PyTorch).
  return keepDims || x.rank === 0 ? out : squeeze(temp(out), a);
}

/**
 * exp(x - logSumExp(x)) along `axis`: composed from primitives, so its gradient comes from the tape.
 *
 * @example
 * ```ts
 * const p = softmax(variable([[1, 2, 3]]), -1);   // rows sum to 1
 * await p.sum().item();                           // 1 (to float32 rounding)
 * ```
 */
export function softmax(x: Variable, axis = -1): Variable {
  check('softmax', 'x', x);
  const a = normalizeAxis('softmax', axis, x.rank);
  return traced(
    'softmax',
    [x],
    { axis: a },
    () => exp(temp(logSoftmax(x, a))),
    (y) => [y],
  );
}

/**
 * x - logSumExp(x) along `axis`.
 *
 * @example
 * ```ts
 * const logits = variable([[1000, 1001, 1002]]);   // no overflow: logSumExp shifts by the max
 * await logSoftmax(logits, -1).exp().data();       // Float32Array [0.09, 0.245, 0.665] (about)
 * ```
 */
export function logSoftmax(x: Variable, axis = -1): Variable {
  check('logSoftmax', 'x', x);
  const a = normalizeAxis('logSoftmax', axis, x.rank);
  return traced(
    'logSoftmax',
    [x],
    { axis: a },
    () => sub(x, temp(logSumExp(x, a, true))),
    (y) => [y],
  );
}
